"""Template integration without a browser: what the `consent` object renders.

Checklist items: A2 (inert markup before a choice), A4, A5, B1, B2, B5, B12, B15.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from jinja2 import DictLoader, Environment
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.testclient import TestClient

from consent import ConsentMiddleware, Policy
from consent.jinja import context_processor, install
from tests.conftest import POLICY_DATA, SECRET

PAGE = """<html><head>{{ consent.head(nonce=nonce) }}</head><body>
{{ consent.banner() }}
{{ consent.script("analytics", src="/a.js", type="module", async=True) }}
{{ consent.script("google-analytics", src="/ga.js") }}
{% call consent.gate("marketing") %}<img src="/pixel.gif" alt="">{% endcall %}
{{ consent.iframe("youtube", src="/embed?v=1&t=2", title="A video") }}
<p id="allows">{{ consent.allows("analytics") }}</p>
<footer>{{ consent.settings_link() }}</footer>
{{ consent.preferences() }}
{{ consent.declaration(level=3) }}
</body></html>"""

Client = Callable[..., TestClient]


def build(policy_data: dict[str, Any] | None = None, template: str = PAGE) -> TestClient:
    templates = Jinja2Templates(
        env=Environment(loader=DictLoader({"page.html": template}), autoescape=True),
        context_processors=[context_processor],
    )

    async def page(request: Request) -> Response:
        nonce = request.query_params.get("nonce")
        return templates.TemplateResponse(request, "page.html", {"nonce": nonce})

    policy = Policy.model_validate(policy_data or POLICY_DATA)
    app = Starlette(
        routes=[Route("/page", page)],
        middleware=[Middleware(ConsentMiddleware, policy=policy, secret_key=SECRET)],
    )
    return TestClient(app)


def choose(client: TestClient, action: str, grant: list[str] | None = None) -> None:
    response = client.post("/consent", json={"action": action, "grant": grant or []})
    assert response.status_code == 200


def test_undecided_page_has_banner_and_only_inert_markup() -> None:
    """A2, B1, B2: before a choice every gated element is inert, and the banner is there."""
    client = build()
    html = client.get("/page").text
    assert "data-consent-banner" in html
    assert re.search(r'<button[^>]*value="accept_all"[^>]*>Accept all</button>', html)
    assert re.search(r'<button[^>]*value="reject_all"[^>]*>Reject all</button>', html)
    assert (
        '<script data-consent="analytics" src="/a.js" type="text/plain" '
        'data-consent-type="module" async></script>'
    ) in html
    assert '<script data-consent="google-analytics" src="/ga.js" type="text/plain">' in html
    assert '<template data-consent="marketing"><img src="/pixel.gif" alt=""></template>' in html
    assert 'data-consent-src="/embed?v=1&amp;t=2"' in html
    assert re.search(r"<iframe[^>]* src=", html) is None
    assert '<p id="allows">False</p>' in html


def test_reject_renders_the_same_gating_as_no_choice() -> None:
    """A4: after Reject all the page differs from a first visit only by the banner."""
    client = build()
    first = client.get("/page").text
    choose(client, "reject_all")
    after = client.get("/page").text
    assert "data-consent-banner" not in after

    def gated(html: str) -> list[str]:
        return re.findall(r"<(?:script|template|iframe)[^>]*data-consent=[^>]*>", html)

    assert gated(after) == gated(first)


def test_granting_a_category_activates_only_it() -> None:
    """A5: analytics markup becomes active; marketing stays inert."""
    client = build()
    choose(client, "save", ["analytics"])
    html = client.get("/page").text
    assert '<script data-consent="analytics" src="/a.js" type="module" async></script>' in html
    assert '<script data-consent="google-analytics" src="/ga.js"></script>' in html
    assert '<template data-consent="marketing">' in html
    assert "data-consent-src" in html
    assert '<p id="allows">True</p>' in html


def test_granting_a_service_alone_activates_its_markup() -> None:
    client = build()
    choose(client, "save", ["youtube"])
    html = client.get("/page").text
    assert '<iframe src="/embed?v=1&amp;t=2" title="A video" data-consent="youtube"' in html
    assert "data-consent-placeholder" not in html
    assert '<template data-consent="marketing">' in html  # the category is still refused


def test_placeholder_allows_that_service_keeping_current_choices() -> None:
    client = build()
    choose(client, "save", ["analytics"])
    html = client.get("/page").text
    form = re.search(r'<form[^>]*data-consent-allow="youtube".*?</form>', html, re.S)
    assert form is not None
    grants = re.findall(r'name="grant" value="([^"]+)"', form.group(0))
    assert set(grants) == {
        "essential",
        "analytics",
        "php-session",
        "wordpress",
        "matomo",
        "google-analytics",
        "youtube",
    }
    assert "Allow YouTube" in form.group(0)
    # Posting that form without JavaScript keeps analytics and adds the video service.
    body = urlencode([("action", "save"), ("next", "/page")] + [("grant", g) for g in grants])
    response = client.post(
        "/consent",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    state = client.get("/consent/state").json()
    assert "youtube" in state["services"] and "analytics" in state["granted"]
    assert "marketing" not in state["granted"]


def test_preferences_reflect_state_and_are_never_pre_ticked() -> None:
    """B5 before a choice, B15 after one."""
    client = build()

    def boxes(html: str) -> dict[str, str]:
        found = re.findall(r'<input type="checkbox"[^>]*value="([^"]+)"([^>]*)>', html)
        return {value: rest for value, rest in found}

    before = boxes(client.get("/page").text)
    assert "checked disabled" in before["essential"]
    assert all("checked" not in before[i] for i in ("analytics", "marketing", "matomo"))
    choose(client, "save", ["analytics"])
    after = boxes(client.get("/page").text)
    assert "checked" in after["analytics"] and "checked" in after["matomo"]
    assert "checked" not in after["marketing"] and "checked" not in after["youtube"]


def test_banner_absent_once_decided_but_settings_link_stays() -> None:
    """B12: the settings link is on every page, decided or not."""
    client = build()
    choose(client, "accept_all")
    html = client.get("/page").text
    assert "data-consent-banner" not in html
    assert 'class="cc-settings-link" href="/consent?next=/page"' in html


def test_head_passes_the_nonce_and_versions_assets() -> None:
    client = build()
    html = client.get("/page?nonce=r4nd0m").text
    assert re.search(
        r'<script src="/consent/static/consent.js\?v=[0-9a-f]{10}" defer '
        r'nonce="r4nd0m"></script>',
        html,
    )
    assert re.search(
        r'<link rel="stylesheet" href="/consent/static/consent.css\?v=[0-9a-f]{10}" '
        r'nonce="r4nd0m">',
        html,
    )
    data = re.search(r'<script type="application/json" id="consent-data">(.*?)</script>', html)
    assert data is not None and '"decided": false' in data.group(1)
    assert "<script>" not in html  # no inline code is needed (strict CSP works)


def test_policy_texts_are_escaped_everywhere() -> None:
    """DESIGN: every HTML string from the policy is escaped (banner, dialog, declaration)."""
    evil = "<script>alert(1)</script>"
    data: dict[str, Any] = {
        "controller": evil,
        "banner": {"title": evil, "text": evil},
        "categories": [
            {"id": "essential", "title": evil, "description": evil, "required": True},
            {"id": "analytics", "title": evil, "description": evil},
        ],
        "services": [
            {
                "id": "stats",
                "category": "analytics",
                "title": evil,
                "description": evil,
                "cookies": [{"name": "_s", "purpose": evil, "duration": "1 day"}],
            },
        ],
    }
    template = (
        "{{ consent.banner() }}{{ consent.preferences() }}{{ consent.declaration() }}"
        '{{ consent.iframe("stats", src="/x", title="t") }}'
    )
    html = build(data, template).get("/page").text
    assert evil not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 10


def test_site_texts_for_the_banner_come_from_the_policy() -> None:
    data = dict(POLICY_DATA, banner={"title": "Cookies at Example", "text": {"en": "We ask."}})
    html = build(data, "{{ consent.banner() }}").get("/page").text
    assert '<h2 class="cc-title" id="cc-banner-title">Cookies at Example</h2>' in html
    assert "We ask." in html


def test_unknown_markup_ids_stay_inert_and_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    template = '{{ consent.script("nope", src="/x.js") }}{{ consent.script("nope") }}'
    client = build(template=template)
    with caplog.at_level(logging.WARNING, logger="consent"):
        html = client.get("/page").text
        client.get("/page")
    assert html.count('type="text/plain"') == 2
    assert len([r for r in caplog.records if "nope" in r.getMessage()]) == 1


def test_allows_with_unknown_id_raises_naming_known_ids() -> None:
    client = build(template='{{ consent.allows("nope") }}')
    with pytest.raises(KeyError, match="analytics"):
        client.get("/page")


def test_reading_consent_in_a_template_sets_vary_cookie() -> None:
    client = build(template="{{ consent.allows('analytics') }}")
    assert client.get("/page").headers["vary"] == "Cookie"
    # The banner is also in the visitor's language (every built-in one is offered here).
    client = build(template="{{ consent.banner() }}")
    assert client.get("/page").headers["vary"] == "Cookie, Accept-Language"


def test_install_works_for_any_environment_with_request_in_context() -> None:
    env = install(Environment(loader=DictLoader({"p": "{{ consent.allows('analytics') }}"})))

    async def page(request: Request) -> Response:
        return HTMLResponse(env.get_template("p").render(request=request))

    app = Starlette(
        routes=[Route("/p", page)],
        middleware=[
            Middleware(
                ConsentMiddleware, policy=Policy.model_validate(POLICY_DATA), secret_key=SECRET
            )
        ],
    )
    client = TestClient(app)
    assert client.get("/p").text == "False"
    choose(client, "accept_all")
    assert client.get("/p").text == "True"


def test_install_without_request_in_context_explains() -> None:
    env = install(Environment(loader=DictLoader({"p": "{{ consent.banner() }}"})))
    with pytest.raises(RuntimeError, match="request"):
        env.get_template("p").render()


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"defer": True}, " defer"),
        ({"defer": False}, ""),
        ({"class_": "x"}, ' class="x"'),
        ({"data_id": '"><b>'}, ' data-id="&#34;&gt;&lt;b&gt;"'),
    ],
)
def test_script_attributes_are_rendered_and_escaped(attrs: dict[str, Any], expected: str) -> None:
    args = ", ".join(f"{k}={v!r}" for k, v in attrs.items())
    client = build(template='{{ consent.script("essential", src="/e.js", ' + args + ") }}")
    assert (
        client.get("/page").text
        == f'<script data-consent="essential" src="/e.js"{expected}></script>'
    )


def test_second_layer_carries_the_required_information() -> None:
    """B6: controller, purpose per category, third parties per category, how to withdraw,
    and a working link to the cookie declaration, all before any choice."""
    data = dict(POLICY_DATA, controller="Example News Ltd", privacy_policy_url="/privacy")
    client = build(data, "{{ consent.preferences() }}")
    html = client.get("/page").text
    assert "Example News Ltd" in html
    for category in POLICY_DATA["categories"]:
        assert category["description"] in html
    for service in POLICY_DATA["services"]:
        assert service["title"] in html
    assert "withdraw your choice at any time" in html
    assert 'href="/consent/policy"' in html and 'href="/privacy"' in html
    assert client.get("/consent/policy").status_code == 200
