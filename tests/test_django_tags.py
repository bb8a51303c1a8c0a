"""``{% load consent %}``: each Django template tag is the matching part of
`consent_html(request)`, escaped once (tests/django_site.py renders them for real requests).

Checklist items: A2 (gated until allowed), B1, B12 (the banner, the settings link), G6.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.template import TemplateSyntaxError, engines

from consent import Policy
from tests.conftest import POLICY_DATA
from tests.django_site import BOTH_HANDLERS, SOURCES, client_for, django_app, django_client

_names = itertools.count()


def source(text: str) -> str:
    """Register `text` (after ``{% load consent %}``) for the `render` view; its URL."""
    name = f"t{next(_names)}"
    SOURCES[name] = "{% load consent %}" + text
    return f"/render/{name}"


@BOTH_HANDLERS
def test_head_banner_preferences_and_link_before_a_choice(kind: str) -> None:
    """B1, B12: every part on a first visit, with the nonce, the label and the language."""
    url = source(
        '{% consent_head nonce="n0nce" %}|{% consent_banner %}|{% consent_preferences %}|'
        '{% consent_settings_link label="Cookie choices" %}|{% consent_banner lang="de" %}'
    )
    with django_client(kind=kind) as client:
        page = client.get(url)
        head, banner, dialog, link, german = page.text.split("|")
        assert 'nonce="n0nce"' in head and "consent.js" in head
        assert "data-consent-banner" in banner
        assert "<dialog" in dialog and "data-consent-dialog" in dialog
        assert "cc-settings-link" in link and "Cookie choices" in link
        assert 'lang="de"' in german
        assert "Cookie" in page.headers["vary"]
        client.post("/consent", json={"action": "reject_all"})
        head, banner, *_ = client.get(url).text.split("|")
        assert banner == ""  # decided: no banner
        assert "consent.js" in head


@BOTH_HANDLERS
def test_script_iframe_and_gate_are_inert_then_active(kind: str) -> None:
    """A2: a script, an embed and a gated block, before and after the grant."""
    url = source(
        '{% consent_script "matomo" src="/static/analytics.js" async=True data_site="7" %}'
        '{% consent_iframe "youtube" src="/embed/video" title="Video" %}'
        '{% consent_gate "analytics" %}<p id="thanks">Thanks</p>{% endconsent_gate %}'
    )
    with django_client(kind=kind) as client:
        before = client.get(url).text
        assert (
            '<script data-consent="matomo" src="/static/analytics.js" type="text/plain" '
            'async data-site="7"></script>'
        ) in before
        assert 'data-consent-src="/embed/video"' in before
        assert "Allow YouTube videos" in before
        assert '<template data-consent="analytics"><p id="thanks">Thanks</p></template>' in before
        client.post("/consent", json={"action": "accept_all"})
        after = client.get(url).text
        assert (
            '<script data-consent="matomo" src="/static/analytics.js" async data-site="7">' in after
        )
        assert '<iframe src="/embed/video"' in after
        assert '<noscript data-consent="analytics"></noscript><p id="thanks">Thanks</p>' in after
        assert "<template" not in after


@BOTH_HANDLERS
def test_declaration_with_its_heading_level(kind: str) -> None:
    url = source("{% consent_declaration level=3 %}")
    with django_client(kind=kind) as client:
        html = client.get(url).text
    assert re.search(r"<h3[^>]*>\s*Essential", html)
    assert "sessionid" in html and "csrftoken" in html  # Django's own, declared essential


@BOTH_HANDLERS
def test_values_from_template_variables_are_escaped_once(kind: str) -> None:
    """What a template variable holds is escaped once by the part that places it: never
    twice (no `&amp;lt;`) and never raw; Django's own variables in a gated block too."""
    url = source(
        '{% consent_iframe "youtube" src=q.src title=q.title %}'
        '{% consent_script "matomo" src=q.src data_x=q.title %}'
        '{% consent_gate "analytics" %}<p>{{ q.title }}</p>{% endconsent_gate %}'
    )
    evil = '"><script>alert(1)</script>&'
    with django_client(kind=kind) as client:
        for granted in (False, True):
            if granted:
                client.post("/consent", json={"action": "accept_all"})
            html = client.get(url, params={"src": "/v?a=1&b=2", "title": evil}).text
            assert "<script>alert(1)" not in html
            assert "&amp;amp;" not in html and "&amp;lt;" not in html and "&amp;#34;" not in html
            assert 'src="/v?a=1&amp;b=2"' in html or 'data-consent-src="/v?a=1&amp;b=2"' in html
            assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in html
            assert "<p>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;</p>" in html


@BOTH_HANDLERS
def test_policy_text_stays_escaped_in_django_pages(kind: str) -> None:
    """Every string from the policy is escaped, however Django inserts the part."""
    data: dict[str, Any] = {**POLICY_DATA, "categories": list(POLICY_DATA["categories"])}
    data["categories"][1] = {
        **data["categories"][1],
        "title": "Stats <script>alert(1)</script>",
    }
    url = source(
        "{% consent_preferences %}{% consent_declaration %}"
        "{% autoescape off %}{% consent_banner %}{% endautoescape %}"
    )
    with django_client(policy=Policy.model_validate(data), kind=kind) as client:
        html = client.get(url).text
    assert "<script>alert(1)" not in html
    assert "Stats &lt;script&gt;alert(1)&lt;/script&gt;" in html


@BOTH_HANDLERS
def test_forms_return_under_the_root_path(kind: str) -> None:
    """Mounted under /news (uvicorn --root-path, SCRIPT_NAME): the forms post to
    /news/consent."""
    url = source("{% consent_banner %}")
    with django_app(kind=kind) as app:
        news = "/news" if kind == "asgi" else ""
        html = client_for(app, "/news").get(news + url).text
    assert 'action="/news/consent"' in html


def test_without_the_request_in_the_context_the_error_names_the_setting() -> None:
    template = engines["django"].from_string("{% load consent %}{% consent_banner %}")
    with pytest.raises(ImproperlyConfigured, match=r"django\.template\.context_processors"):
        template.render({})


def test_consent_gate_takes_one_id() -> None:
    for text in ("{% consent_gate %}x{% endconsent_gate %}", '{% consent_gate "a" "b" %}'):
        with pytest.raises(TemplateSyntaxError, match="one argument"):
            engines["django"].from_string("{% load consent %}" + text)
