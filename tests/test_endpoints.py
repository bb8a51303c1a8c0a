"""The consent routes over HTTP: choices, pages, cookie attributes.

Checklist items: A1, A4, B5, B9, B13, B15, C2, C4, C6.
"""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent import Policy
from tests.conftest import POLICY_DATA, make_app

UNDECIDED = {"decided": False, "granted": ["essential"], "services": ["php-session", "wordpress"]}


def cookie_attributes(response: Any) -> dict[str, str]:
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith("consent="))
    morsel = SimpleCookie(header)["consent"]
    attributes = {k: str(v) for k, v in morsel.items() if v}
    attributes["_raw"] = header
    return attributes


def test_first_visit_and_navigation_set_nothing_and_grant_nothing(client: TestClient) -> None:
    """A1, B9, C6: no cookie at all until a choice; moving around is not consent."""
    for path in ("/", "/", "/consent", "/consent/state", "/consent/policy"):
        response = client.get(path)
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
    assert client.get("/").json() == UNDECIDED


def test_form_accept_all_redirects_to_next(client: TestClient) -> None:
    response = client.post(
        "/consent",
        data={"action": "accept_all", "next": "/article?id=1#top"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/article?id=1#top"
    assert response.headers["cache-control"] == "no-store"
    assert client.get("/").json()["granted"] == ["analytics", "essential", "marketing"]


def test_json_save_answers_with_the_state(client: TestClient) -> None:
    response = client.post("/consent", json={"action": "save", "grant": ["analytics"]})
    assert response.status_code == 200
    body = response.json()
    assert body["decided"] is True
    assert body["granted"] == ["essential", "analytics"]
    assert body["services"] == ["php-session", "wordpress", "matomo", "google-analytics"]
    assert body["refused"] == ["marketing"]
    assert "receipt" not in str(body)


def test_cookie_attributes(client: TestClient) -> None:
    """C2: HttpOnly, SameSite=Lax, Path=/, Max-Age from the policy, no Domain, no Secure on http."""
    attributes = cookie_attributes(client.post("/consent", json={"action": "reject_all"}))
    assert attributes["httponly"] == "True"
    assert attributes["samesite"] == "Lax"
    assert attributes["path"] == "/"
    assert attributes["max-age"] == str(180 * 86400)
    assert "domain" not in attributes and "secure" not in attributes


def test_secure_on_https_or_when_configured() -> None:
    https = TestClient(make_app(), base_url="https://example.com")
    assert "secure" in cookie_attributes(https.post("/consent", json={"action": "reject_all"}))
    forced = TestClient(make_app(secure=True, domain="example.com"))
    attributes = cookie_attributes(forced.post("/consent", json={"action": "reject_all"}))
    assert "secure" in attributes and attributes["domain"] == "example.com"


def test_refusal_is_kept_as_long_as_consent(client: TestClient) -> None:
    """C4: same Max-Age for reject and accept; no banner again after a refusal."""
    reject = cookie_attributes(client.post("/consent", json={"action": "reject_all"}))
    assert client.get("/").json()["decided"] is True
    accept = cookie_attributes(client.post("/consent", json={"action": "accept_all"}))
    assert reject["max-age"] == accept["max-age"]


def test_reject_equals_no_choice_but_decided(client: TestClient) -> None:
    """A4: after Reject all, everything but `decided` is as on a first visit."""
    before = client.get("/consent/state").json()
    client.post("/consent", json={"action": "reject_all"})
    after = client.get("/consent/state").json()
    for key in ("granted", "services"):
        assert after[key] == before[key]
    assert after["decided"] is True and before["decided"] is False


def test_withdrawal_is_one_post(client: TestClient) -> None:
    """B13: after Accept all, one Reject all leaves only the required category."""
    client.post("/consent", json={"action": "accept_all"})
    client.post("/consent", data={"action": "reject_all"})
    assert client.get("/").json()["granted"] == ["essential"]


@pytest.mark.parametrize(
    ("grant", "categories", "services"),
    [
        (["analytics"], ["analytics", "essential"], {"matomo", "google-analytics"}),
        (["analytics", "matomo"], ["analytics", "essential"], {"matomo"}),
        (["youtube"], ["essential"], {"youtube"}),
        ([], ["essential"], set()),
    ],
)
def test_save_semantics_over_http(
    client: TestClient, grant: list[str], categories: list[str], services: set[str]
) -> None:
    client.post("/consent", data={"action": "save", "grant": grant})
    state = client.get("/").json()
    assert state["granted"] == categories
    assert set(state["services"]) - {"php-session", "wordpress"} == services


def checkboxes(html: str) -> dict[str, str]:
    found = re.findall(r'<input type="checkbox"[^>]*value="([^"]+)"([^>]*)>', html)
    return dict(found)


def test_preferences_page_never_pre_ticked_then_shows_current_state(client: TestClient) -> None:
    """B5 on first open, B15 after a choice; required switches are locked on."""
    boxes = checkboxes(client.get("/consent").text)
    assert "checked disabled" in boxes["essential"]
    assert all("checked" not in boxes[i] for i in ("analytics", "marketing", "matomo", "youtube"))
    client.post("/consent", json={"action": "save", "grant": ["analytics"]})
    boxes = checkboxes(client.get("/consent").text)
    assert "checked" in boxes["analytics"] and "checked" in boxes["matomo"]
    assert "checked" not in boxes["marketing"] and "checked" not in boxes["youtube"]


def test_preferences_page_works_without_javascript(client: TestClient) -> None:
    page = client.get("/consent?next=/article").text
    form = re.search(r'<form class="cc-form" method="post" action="/consent">', page)
    assert form is not None  # a plain form, not intercepted by the script
    assert '<input type="hidden" name="next" value="/article">' in page
    for action in ("reject_all", "save", "accept_all"):
        assert f'name="action" value="{action}"' in page


def test_preferences_page_shows_receipt_and_date(client: TestClient) -> None:
    client.post("/consent", json={"action": "accept_all"})
    page = client.get("/consent").text
    assert re.search(r"receipt [A-Za-z0-9_-]{22}", page)


def test_pages_refuse_framing_and_caching(client: TestClient) -> None:
    response = client.get("/consent")
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["vary"] == "Cookie"


def test_state_route(client: TestClient) -> None:
    response = client.get("/consent/state")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["vary"] == "Cookie"
    assert response.json()["decided"] is False


def test_policy_routes(client: TestClient) -> None:
    data = client.get("/consent/policy.json").json()
    assert data["fingerprint"] == Policy.model_validate(POLICY_DATA).fingerprint
    assert [c["id"] for c in data["categories"]] == ["essential", "analytics", "marketing"]
    page = client.get("/consent/policy").text
    for name in ("PHPSESSID", "wordpress_test_cookie", "wordpress_logged_in_*", "_ga", "YSC"):
        assert f"<code>{name}</code>" in page


def test_unknown_paths_and_methods(client: TestClient) -> None:
    assert client.get("/consent/nope").status_code == 404
    assert client.get("/consent/").status_code == 404
    response = client.put("/consent/state")
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
    assert client.head("/consent").status_code == 200


def test_policy_texts_are_escaped_on_the_pages() -> None:
    evil = "<script>alert(1)</script>"
    data: dict[str, Any] = {
        "controller": evil,
        "categories": [{"id": "essential", "title": evil, "description": evil, "required": True}],
        "services": [
            {
                "id": "s",
                "category": "essential",
                "title": evil,
                "cookies": [{"name": "x", "purpose": evil}],
            }
        ],
    }
    client = TestClient(make_app(Policy.model_validate(data)))
    for path in ("/consent", "/consent/policy"):
        page = client.get(path).text
        assert evil not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_required_category_cannot_be_refused(client: TestClient) -> None:
    client.post("/consent", json={"action": "save", "grant": []})
    state = client.get("/").json()
    assert "essential" in state["granted"]
    assert {"php-session", "wordpress"} <= set(state["services"])
