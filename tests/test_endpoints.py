"""The consent routes over HTTP: recording choices, pages, the consent cookie's attributes.

Checklist items: A1, A4, B5, B9, B13, B15, C2, C4, C6 (see research/compliance.md), plus
DESIGN.md's route table, `save` semantics and "every HTML string from the policy is escaped".
"""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from typing import Any

import httpx2 as httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from consent import ConsentMiddleware, Policy
from tests.conftest import POLICY_DATA, SECRET, make_app

POLICY = Policy.model_validate(POLICY_DATA)
REQUIRED_SERVICES = ["php-session", "wordpress"]
UNDECIDED = {"decided": False, "granted": ["essential"], "services": REQUIRED_SERVICES}
ALL_SERVICES = ["php-session", "wordpress", "matomo", "google-analytics", "youtube"]
ALL_COOKIE_NAMES = [c["name"] for s in POLICY_DATA["services"] for c in s["cookies"]]


def consent_set_cookies(response: httpx.Response, name: str = "consent") -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


def cookie_attributes(response: httpx.Response, name: str = "consent") -> dict[str, str]:
    """The attributes of the one consent Set-Cookie, lower-case keys; flags map to 'True'."""
    headers = consent_set_cookies(response, name)
    assert len(headers) == 1, headers
    morsel = SimpleCookie(headers[0])[name]
    attributes = {k: str(v) for k, v in morsel.items() if v}
    # SimpleCookie drops flags it does not know; read them from the raw header too.
    for flag in ("Secure", "HttpOnly"):
        if re.search(rf";\s*{flag}\s*(;|$)", headers[0], re.IGNORECASE):
            attributes[flag.lower()] = "True"
    return attributes


def state(client: TestClient) -> dict[str, Any]:
    data: dict[str, Any] = client.get("/consent/state").json()
    return data


# A site with two ordinary pages that carry gated markup and set cookies (A1, A4, B9).
PAGE = (
    "<!doctype html><html><body><main><h1>News</h1>"
    '<script data-consent="analytics" src="/matomo.js"></script>'
    '<iframe data-consent="youtube" src="https://www.youtube-nocookie.com/embed/x"></iframe>'
    "</main></body></html>"
)


async def page(request: Request) -> HTMLResponse:
    response = HTMLResponse(PAGE)
    response.set_cookie("PHPSESSID", "s1")  # essential
    response.set_cookie("_ga", "GA1.1.1")  # analytics
    response.set_cookie("YSC", "y")  # marketing
    return response


def site() -> TestClient:
    app = Starlette(
        routes=[Route("/a", page), Route("/b", page)],
        middleware=[Middleware(ConsentMiddleware, policy=POLICY, secret_key=SECRET)],
    )
    return TestClient(app)


def set_cookie_names(response: httpx.Response) -> list[str]:
    return sorted(h.split("=", 1)[0] for h in response.headers.get_list("set-cookie"))


# --- A1, B9, C6: nothing before a choice -------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/consent", "/consent/state", "/consent/policy"])
def test_first_visit_sets_no_cookie_at_all(client: TestClient, path: str) -> None:
    """A1, C6: a fresh client gets no Set-Cookie, not even the consent cookie."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers.get_list("set-cookie") == []
    assert client.cookies.get("consent") is None


def test_first_visit_lets_only_essential_cookies_through() -> None:
    """A1: the app's own non-essential Set-Cookie headers are dropped before a choice."""
    response = site().get("/a")
    assert set_cookie_names(response) == ["PHPSESSID"]
    assert '<script type="text/plain" data-consent="analytics" src="/matomo.js">' in response.text
    assert 'data-consent-src="https://www.youtube-nocookie.com/embed/x"' in response.text


def test_navigation_is_not_consent() -> None:
    """B9: GET /a then GET /b, no POST: nothing granted, no consent cookie, scripts inert."""
    client = site()
    first = client.get("/a")
    second = client.get("/b")
    for response in (first, second):
        assert response.status_code == 200
        assert consent_set_cookies(response) == []
        assert "_ga" not in set_cookie_names(response)
    assert second.text == first.text
    assert 'type="text/plain"' in second.text
    assert client.cookies.get("consent") is None
    assert {k: v for k, v in state(client).items() if k in UNDECIDED} == UNDECIDED


# --- recording a choice ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "granted", "services"),
    [
        ({"action": "accept_all"}, ["essential", "analytics", "marketing"], ALL_SERVICES),
        ({"action": "reject_all"}, ["essential"], REQUIRED_SERVICES),
        (
            {"action": "save", "grant": ["analytics"]},
            ["essential", "analytics"],
            [*REQUIRED_SERVICES, "matomo", "google-analytics"],
        ),
        # The preferences form sends ticked boxes with whichever button was pressed.
        ({"action": "reject_all", "grant": ["analytics"]}, ["essential"], REQUIRED_SERVICES),
    ],
)
def test_form_post_records_and_redirects_to_next(
    client: TestClient, form: dict[str, Any], granted: list[str], services: list[str]
) -> None:
    response = client.post(
        "/consent", data={**form, "next": "/article?id=1#top"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/article?id=1#top"
    assert response.headers["cache-control"] == "no-store"
    assert len(consent_set_cookies(response)) == 1
    after = state(client)
    assert after["decided"] is True
    assert after["granted"] == granted
    assert after["services"] == services


def test_form_post_without_next_goes_home(client: TestClient) -> None:
    response = client.post("/consent", data={"action": "accept_all"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.parametrize(
    ("body", "granted", "services", "refused"),
    [
        ({"action": "accept_all"}, ["essential", "analytics", "marketing"], ALL_SERVICES, []),
        ({"action": "reject_all"}, ["essential"], REQUIRED_SERVICES, ["analytics", "marketing"]),
        (
            {"action": "save", "grant": ["analytics"]},
            ["essential", "analytics"],
            [*REQUIRED_SERVICES, "matomo", "google-analytics"],
            ["marketing"],
        ),
    ],
)
def test_json_post_answers_with_the_state(
    client: TestClient,
    body: dict[str, Any],
    granted: list[str],
    services: list[str],
    refused: list[str],
) -> None:
    response = client.post("/consent", json={**body, "next": "https://evil.example/"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert "location" not in response.headers
    assert len(consent_set_cookies(response)) == 1
    data = response.json()
    assert data["decided"] is True
    assert data["granted"] == granted
    assert data["services"] == services
    assert data["refused"] == refused
    assert data["issued_at"] is not None
    assert data["revision"] == POLICY.revision and data["fingerprint"] == POLICY.fingerprint
    assert data == state(client)  # what the cookie now says, read back on the next request


def test_state_json_never_exposes_the_receipt_id(client: TestClient) -> None:
    """C6 / A7: scripts on the page may read the state; the receipt id stays out of it."""
    data = client.post("/consent", json={"action": "accept_all"}).json()
    page = client.get("/consent").text
    receipt = re.search(r"receipt ([A-Za-z0-9_-]{22})", page)
    assert receipt is not None  # shown to the visitor on the preferences page
    assert receipt.group(1) not in str(data)
    assert receipt.group(1) not in str(state(client))


# --- C2: cookie attributes ---------------------------------------------------------------


def test_cookie_attributes_default(client: TestClient) -> None:
    """C2: HttpOnly, SameSite=Lax, Path=/, Max-Age = 180 days, no Domain, no Secure on http."""
    attributes = cookie_attributes(client.post("/consent", json={"action": "accept_all"}))
    assert attributes["httponly"] == "True"
    assert attributes["samesite"] == "Lax"
    assert attributes["path"] == "/"
    assert attributes["max-age"] == str(180 * 86400)
    assert "domain" not in attributes
    assert "secure" not in attributes


def test_cookie_max_age_follows_the_policy() -> None:
    client = TestClient(make_app(Policy.model_validate({**POLICY_DATA, "max_age_days": 30})))
    attributes = cookie_attributes(client.post("/consent", json={"action": "reject_all"}))
    assert attributes["max-age"] == str(30 * 86400)


@pytest.mark.parametrize(
    ("options", "base_url", "secure", "domain", "same_site"),
    [
        ({}, "http://testserver", False, None, "Lax"),
        ({}, "https://testserver", True, None, "Lax"),
        ({"secure": True}, "http://testserver", True, None, "Lax"),
        ({"secure": False}, "https://testserver", False, None, "Lax"),
        ({"domain": "testserver.example"}, "http://testserver", False, "testserver.example", "Lax"),
        ({"same_site": "strict"}, "https://testserver", True, None, "Strict"),
        ({"same_site": "none", "secure": True}, "http://testserver", True, None, "None"),
    ],
)
def test_cookie_secure_domain_and_same_site(
    options: dict[str, Any], base_url: str, secure: bool, domain: str | None, same_site: str
) -> None:
    """C2: Secure on https or when forced; Domain only when configured."""
    client = TestClient(make_app(**options), base_url=base_url)
    response = client.post("/consent", data={"action": "accept_all"}, follow_redirects=False)
    assert response.status_code == 303
    attributes = cookie_attributes(response)
    assert ("secure" in attributes) is secure
    assert attributes.get("domain") == domain
    assert attributes["samesite"] == same_site
    assert attributes["path"] == "/"  # the cookie is read on every page, not only /consent


# --- C4, A4, B13: refusal and withdrawal -------------------------------------------------


def test_refusal_is_kept_as_long_as_consent(client: TestClient) -> None:
    """C4: same Max-Age for Reject all and Accept all; after a refusal nothing re-asks."""
    reject = cookie_attributes(client.post("/consent", json={"action": "reject_all"}))
    for _ in range(3):
        assert state(client)["decided"] is True  # decided: the banner is not shown again
    accept = cookie_attributes(client.post("/consent", json={"action": "accept_all"}))
    assert reject["max-age"] == accept["max-age"] == str(180 * 86400)
    assert {k: v for k, v in reject.items() if k != "consent"} == {
        k: v for k, v in accept.items() if k != "consent"
    }


def test_reject_equals_no_choice_but_decided(client: TestClient) -> None:
    """A4: after Reject all, the state allows exactly what a first visit allows.

    `refused` / `refused_services` differ by design (nothing is "refused" before a choice),
    and `decided` / `issued_at` record that a choice was made; everything else is equal.
    """
    before = state(client)
    client.post("/consent", json={"action": "reject_all"})
    after = state(client)
    differ = {"decided", "issued_at", "refused", "refused_services"}
    assert {k: v for k, v in after.items() if k not in differ} == {
        k: v for k, v in before.items() if k not in differ
    }
    assert (before["decided"], after["decided"]) == (False, True)
    assert before["issued_at"] is None and after["issued_at"] is not None
    assert after["refused"] == ["analytics", "marketing"]


def test_reject_gates_pages_like_no_choice() -> None:
    """A4: the same HTML and the same Set-Cookie headers as a first visit."""
    fresh = site().get("/a")
    client = site()
    client.post("/consent", data={"action": "reject_all"}, follow_redirects=False)
    rejected = client.get("/a")
    assert rejected.text == fresh.text
    assert set_cookie_names(rejected) == set_cookie_names(fresh) == ["PHPSESSID"]


def test_withdrawal_is_one_post() -> None:
    """B13: after Accept all, one Reject all leaves only the required category; the next
    page is gated again and the refused cookies the browser holds are expired."""
    client = site()
    client.post("/consent", data={"action": "accept_all"}, follow_redirects=False)
    granted = client.get("/a")
    assert '<script data-consent="analytics" src="/matomo.js">' in granted.text
    assert "_ga" in client.cookies
    withdrawal = client.post("/consent", data={"action": "reject_all"}, follow_redirects=False)
    assert withdrawal.status_code == 303
    expired = [h for h in withdrawal.headers.get_list("set-cookie") if h.startswith("_ga=")]
    assert expired and all("Max-Age=0" in h for h in expired)
    after = state(client)
    assert after["granted"] == ["essential"]
    assert after["services"] == REQUIRED_SERVICES
    assert '<script type="text/plain" data-consent="analytics"' in client.get("/b").text


# --- save semantics ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grant", "categories", "services"),
    [
        # A category id grants the category and all its services.
        (["analytics"], ["essential", "analytics"], ["matomo", "google-analytics"]),
        # A category plus one of its services grants only that service.
        (["analytics", "matomo"], ["essential", "analytics"], ["matomo"]),
        # A service alone grants the service but not its category.
        (["youtube"], ["essential"], ["youtube"]),
        (["matomo", "youtube"], ["essential"], ["matomo", "youtube"]),
        (
            ["analytics", "youtube"],
            ["essential", "analytics"],
            ["matomo", "google-analytics", "youtube"],
        ),
        (["marketing", "analytics"], ["essential", "analytics", "marketing"], ALL_SERVICES[2:]),
        ([], ["essential"], []),
        # Required ids may be sent (the locked boxes); they change nothing.
        (["essential", "php-session"], ["essential"], []),
    ],
)
@pytest.mark.parametrize("kind", ["form", "json"])
def test_save_semantics_over_http(
    client: TestClient, kind: str, grant: list[str], categories: list[str], services: list[str]
) -> None:
    body = {"action": "save", "grant": grant}
    if kind == "form":
        response = client.post("/consent", data=body, follow_redirects=False)
        assert response.status_code == 303
    else:
        response = client.post("/consent", json=body)
        assert response.status_code == 200
    after = state(client)
    assert after["granted"] == categories
    assert after["services"] == REQUIRED_SERVICES + services


@pytest.mark.parametrize("grant", [[], ["analytics"], ["marketing", "youtube"]])
def test_required_category_cannot_be_refused(client: TestClient, grant: list[str]) -> None:
    """Saving without the required category (a tampered form) still keeps it granted."""
    client.post("/consent", json={"action": "save", "grant": grant})
    after = state(client)
    assert "essential" in after["granted"] and "essential" not in after["refused"]
    assert set(REQUIRED_SERVICES) <= set(after["services"])
    assert not set(REQUIRED_SERVICES) & set(after["refused_services"])


# --- the preferences page: B5, B15 -------------------------------------------------------


def checkboxes(html: str) -> dict[str, str]:
    """value -> the rest of the <input> tag, for every checkbox on the page."""
    found = re.findall(r'<input type="checkbox"[^>]*value="([^"]+)"([^>]*)>', html)
    return dict(found)


OPTIONAL_IDS = ["analytics", "marketing", "matomo", "google-analytics", "youtube"]
REQUIRED_IDS = ["essential", "php-session", "wordpress"]


def is_checked(attributes: str) -> bool:
    return re.search(r"\schecked(\s|$)", attributes) is not None


def test_preferences_page_is_never_pre_ticked(client: TestClient) -> None:
    """B5: before any choice no optional switch is on; required ones are on and locked."""
    boxes = checkboxes(client.get("/consent").text)
    assert sorted(boxes) == sorted(OPTIONAL_IDS + REQUIRED_IDS)
    for id in OPTIONAL_IDS:
        assert not is_checked(boxes[id]), id
        assert "disabled" not in boxes[id]
    for id in REQUIRED_IDS:
        assert is_checked(boxes[id]) and "disabled" in boxes[id], id


@pytest.mark.parametrize(
    ("choice", "checked"),
    [
        ({"action": "save", "grant": ["analytics"]}, {"analytics", "matomo", "google-analytics"}),
        ({"action": "save", "grant": ["matomo"]}, {"matomo"}),
        ({"action": "reject_all"}, set()),
        ({"action": "accept_all"}, set(OPTIONAL_IDS)),
    ],
)
def test_preferences_page_shows_the_current_state(
    client: TestClient, choice: dict[str, Any], checked: set[str]
) -> None:
    """B15: reopened settings show what was chosen, not the defaults."""
    client.post("/consent", json=choice)
    boxes = checkboxes(client.get("/consent").text)
    assert {id for id in OPTIONAL_IDS if is_checked(boxes[id])} == checked
    assert all(is_checked(boxes[id]) for id in REQUIRED_IDS)


def test_preferences_page_works_without_javascript(client: TestClient) -> None:
    page = client.get("/consent?next=/article").text
    form = re.search(r'<form class="cc-form" method="post" action="/consent" lang="en">', page)
    assert form is not None  # a plain form, not intercepted by the script
    assert '<input type="hidden" name="next" value="/article">' in page
    for action in ("reject_all", "save", "accept_all"):
        assert f'name="action" value="{action}"' in page


def test_preferences_page_sanitizes_next(client: TestClient) -> None:
    page = client.get("/consent", params={"next": "https://evil.example/"}).text
    assert "evil.example" not in page


def test_preferences_page_shows_receipt_and_date(client: TestClient) -> None:
    client.post("/consent", json={"action": "accept_all"})
    page = client.get("/consent").text
    assert re.search(r"receipt [A-Za-z0-9_-]{22}", page)
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", page)


@pytest.mark.parametrize("path", ["/consent", "/consent/policy"])
def test_pages_refuse_framing_and_caching(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    # In the visitor's language, where the site speaks several (this policy does).
    assert response.headers["vary"] == "Cookie, Accept-Language"


# --- state, declaration, policy JSON -----------------------------------------------------


def test_state_route(client: TestClient) -> None:
    response = client.get("/consent/state")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["vary"] == "Cookie"
    data = response.json()
    assert {k: data[k] for k in UNDECIDED} == UNDECIDED
    assert data["refused"] == [] and data["issued_at"] is None
    assert data["fingerprint"] == POLICY.fingerprint


def test_policy_json_route(client: TestClient) -> None:
    response = client.get("/consent/policy.json")
    assert response.status_code == 200
    data = response.json()
    assert data["fingerprint"] == POLICY.fingerprint
    assert data["revision"] == POLICY_DATA["revision"]
    assert [c["id"] for c in data["categories"]] == ["essential", "analytics", "marketing"]
    assert [s["id"] for s in data["services"]] == ALL_SERVICES
    names = [c["name"] for s in data["services"] for c in s["cookies"]]
    assert names == ALL_COOKIE_NAMES


def test_declaration_page_lists_every_cookie(client: TestClient) -> None:
    page = client.get("/consent/policy").text
    for name in ALL_COOKIE_NAMES:
        assert f"<code>{name}</code>" in page, name
    for category in POLICY_DATA["categories"]:
        assert category["title"] in page


# --- routing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/consent/",
        "/consent/nope",
        "/consent/state/",
        "/consent/policy.json/x",
        "/consent/policy.xml",
        "/consent/static/nope.js",
        "/consent/static/../../pyproject.toml",
    ],
)
def test_unknown_sub_paths_are_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/consent", "GET, HEAD, POST"),
        ("DELETE", "/consent", "GET, HEAD, POST"),
        ("PATCH", "/consent", "GET, HEAD, POST"),
        ("POST", "/consent/state", "GET, HEAD"),
        ("DELETE", "/consent/state", "GET, HEAD"),
        ("POST", "/consent/policy", "GET, HEAD"),
        ("POST", "/consent/policy.json", "GET, HEAD"),
    ],
)
def test_wrong_methods_are_405_with_allow(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers.get_list("set-cookie") == []


@pytest.mark.parametrize(
    "path", ["/consent", "/consent/state", "/consent/policy", "/consent/policy.json"]
)
def test_head_works(client: TestClient, path: str) -> None:
    get = client.get(path)
    head = client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]


def test_static_assets_are_served(client: TestClient) -> None:
    for name, kind in (("consent.js", "javascript"), ("consent.css", "text/css")):
        response = client.get(f"/consent/static/{name}")
        assert response.status_code == 200
        assert kind in response.headers["content-type"]
        assert response.headers.get_list("set-cookie") == []


# --- escaping ----------------------------------------------------------------------------

EVIL = "<script>alert(1)</script>"
EVIL_POLICY: dict[str, Any] = {
    "controller": EVIL,
    "categories": [
        {"id": "essential", "title": EVIL, "description": EVIL, "required": True},
        {
            "id": "analytics",
            "title": f"A{EVIL}",
            "description": f'"><img src=x onerror=alert(1)>{EVIL}',
        },
    ],
    "services": [
        {
            "id": "s",
            "category": "essential",
            "title": EVIL,
            "description": EVIL,
            "cookies": [{"name": "x", "purpose": EVIL}],
        },
        {
            "id": "t",
            "category": "analytics",
            "title": f"T{EVIL}",
            "description": EVIL,
            "cookies": [{"name": "_t", "purpose": f"P{EVIL}"}],
        },
    ],
}


@pytest.mark.parametrize("path", ["/consent", "/consent/policy"])
def test_policy_texts_are_escaped_on_the_pages(path: str) -> None:
    client = TestClient(make_app(Policy.model_validate(EVIL_POLICY)))
    page = client.get(path).text
    assert EVIL not in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert page.count(escaped) >= 6  # titles, descriptions, purposes, controller
    assert f"A{escaped}" in page and f"P{escaped}" in page
