"""One behavioural suite, every stack (tests/stacks.py): Starlette, FastAPI, Flask and any
WSGI app, Django under ASGI and WSGI.

Checklist items: A1, A2 (nothing optional before a choice), A4, B1, B2, B13 (withdrawal),
C1 (refused cookies dropped), E1 (cross-site posts refused).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from consent import Policy
from tests.conftest import POLICY_DATA
from tests.stacks import RAW_MARKUP, STACKS, active_scripts


@pytest.fixture(params=sorted(STACKS))
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    with STACKS[request.param](Policy.model_validate(POLICY_DATA)) as client:
        yield client


def test_first_visit_shows_the_banner_and_only_inert_markup(client: httpx.Client) -> None:
    """A1, A2, B1: the banner and the settings link; no optional script, frame or image
    active; no cookie at all; the page varies on the cookie."""
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert "data-consent-banner" in html and "cc-settings-link" in html
    assert "/static/stats.js" not in active_scripts(html)
    assert "/static/raw.js" not in active_scripts(html)
    assert RAW_MARKUP not in html  # the gate rewrote the hand-written markup
    assert not re.search(r'<iframe[^>]*\ssrc="https://www\.youtube', html)
    assert '<template data-consent="marketing">' in html
    assert "set-cookie" not in response.headers
    assert "Cookie" in response.headers["vary"]
    assert client.get("/state").json() == {"decided": False, "analytics": False}


@pytest.mark.parametrize("form", [True, False], ids=["form", "json"])
def test_accept_then_reject_through_form_and_json(client: httpx.Client, form: bool) -> None:
    """A4, B2, B13: accept all activates the gated markup; reject all withdraws it."""

    def choose(action: str) -> httpx.Response:
        if form:
            response = client.post(
                "/consent", data={"action": action, "next": "/"}, follow_redirects=False
            )
            assert response.status_code == 303 and response.headers["location"] == "/"
        else:
            response = client.post("/consent", json={"action": action})
            assert response.status_code == 200
        assert "consent=" in response.headers["set-cookie"]
        return response

    choose("accept_all")
    html = client.get("/").text
    assert "data-consent-banner" not in html
    assert {"/static/stats.js", "/static/raw.js"} <= set(active_scripts(html))
    assert '<iframe data-consent="youtube" src="https://www.youtube-nocookie.com/embed/x"' in html
    assert client.get("/state").json() == {"decided": True, "analytics": True}
    choose("reject_all")
    html = client.get("/").text
    assert not {"/static/stats.js", "/static/raw.js"} & set(active_scripts(html))
    assert client.get("/state").json() == {"decided": True, "analytics": False}


def test_save_grants_only_what_was_chosen(client: httpx.Client) -> None:
    response = client.post("/consent", json={"action": "save", "grant": ["analytics"]})
    assert response.status_code == 200
    html = client.get("/").text
    assert "/static/stats.js" in active_scripts(html)
    assert '<template data-consent="marketing">' in html


def test_a_cross_site_post_is_refused(client: httpx.Client) -> None:
    """E1: a post from another site changes nothing."""
    for headers in (
        {"sec-fetch-site": "cross-site"},
        {"origin": "https://evil.example"},
        {"referer": "https://evil.example/page"},
    ):
        response = client.post("/consent", data={"action": "accept_all"}, headers=headers)
        assert response.status_code == 403, headers
        assert "set-cookie" not in response.headers
    assert client.get("/state").json() == {"decided": False, "analytics": False}


def test_refused_set_cookie_is_dropped_and_granted_one_passes(client: httpx.Client) -> None:
    """C1: the analytics cookie waits for consent; the essential one always passes."""
    names = [c.split("=")[0] for c in client.get("/cookies").headers.get_list("set-cookie")]
    assert names == ["PHPSESSID"]
    client.post("/consent", json={"action": "accept_all"})
    names = [c.split("=")[0] for c in client.get("/cookies").headers.get_list("set-cookie")]
    assert names == ["PHPSESSID", "_ga"]


def test_a_refused_cookie_the_browser_sends_is_expired(client: httpx.Client) -> None:
    client.post("/consent", json={"action": "reject_all"})
    client.cookies.set("_ga", "GA1.1.old")
    expired = [c for c in client.get("/").headers.get_list("set-cookie") if c.startswith("_ga=")]
    assert expired and all("Max-Age=0" in c or "expires=" in c.lower() for c in expired)


@pytest.mark.parametrize("value", ["garbage", "a" * 3000, "1.2.3", '"', "\u00e9t\u00e9"])
def test_a_tampered_cookie_is_undecided_without_an_error(client: httpx.Client, value: str) -> None:
    """A tampered consent cookie means no decision: the banner again, never a 500."""
    client.post("/consent", json={"action": "accept_all"})
    client.cookies.clear()
    response = client.get("/", headers={b"cookie": f"consent={value}".encode()})
    assert response.status_code == 200
    assert "data-consent-banner" in response.text
    assert "/static/stats.js" not in active_scripts(response.text)


def test_the_consent_routes_answer_on_every_stack(client: httpx.Client) -> None:
    state = client.get("/consent/state")
    assert state.status_code == 200 and state.json()["decided"] is False
    assert client.get("/consent").status_code == 200  # the settings page without JavaScript
    assert client.get("/consent/policy").status_code == 200
