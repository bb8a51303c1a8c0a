"""Bad input on the consent route: refused clearly, never a 500, never a wrong grant.

Checklist items: C1 (no forged or accidental grant), B9 (only an explicit, valid choice
grants anything), plus DESIGN.md's security rules: the Fetch Metadata same-origin check
on the state-changing route, `next` limited to same-origin paths, bounded bodies.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import httpx2 as httpx
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers
from starlette.testclient import TestClient
from starlette.types import Message

from consent.choices import BadRequest, content_kind
from consent.origin import is_same_origin, safe_next
from tests.conftest import POLICY_DATA, call_asgi, make_app

FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON_TYPE = {"content-type": "application/json"}
LIMIT = 64 * 1024
APP = make_app()  # shared by the property tests; each example gets a fresh cookie jar

CATEGORIES = [c["id"] for c in POLICY_DATA["categories"]]
SERVICES = [s["id"] for s in POLICY_DATA["services"]]
IDS = CATEGORIES + SERVICES
REQUIRED = {c["id"] for c in POLICY_DATA["categories"] if c.get("required")}
CATEGORY_OF = {s["id"]: s["category"] for s in POLICY_DATA["services"]}
ACTIONS = ["accept_all", "reject_all", "save"]


def state(client: TestClient) -> dict[str, Any]:
    data: dict[str, Any] = client.get("/consent/state").json()
    return data


def raw_post(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> list[Message]:
    """POST /consent straight into the ASGI app, the body in `chunks` (no TestClient)."""
    return call_asgi(make_app(), "POST", "/consent", headers, chunks)


def sets_consent(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k == b"set-cookie" and v.startswith(b"consent=") for k, v in headers)


# --- cross-site checks -------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "same-site", "origin": "https://shop.example.com"},
        {"sec-fetch-site": "cross-site", "origin": "http://testserver"},  # Origin can't override
        {"sec-fetch-site": "garbage"},
        {"origin": "https://evil.example"},
        {"origin": "http://testserver.evil.example"},
        {"origin": "http://testserver:8080"},
        {"origin": "https://testserver"},  # another scheme: run a proxy with --proxy-headers
        {"referer": "https://testserver/page"},
        {"origin": "null"},
        {"origin": ""},
        {"origin": "testserver"},
        {"referer": "https://evil.example/page"},
        {"referer": "https://evil.example/?http://testserver/"},
        {"referer": "not a url"},
        {"origin": "https://evil.example", "referer": "http://testserver/"},  # Origin first
    ],
)
@pytest.mark.parametrize("kind", ["form", "json"])
def test_cross_site_posts_are_refused(
    client: TestClient, headers: dict[str, str], kind: str
) -> None:
    body: dict[str, Any] = {"action": "accept_all"}
    if kind == "form":
        response = client.post("/consent", data=body, headers=headers, follow_redirects=False)
    else:
        response = client.post("/consent", json=body, headers=headers)
    assert response.status_code == 403
    assert "cross-site" in response.text
    assert response.headers.get_list("set-cookie") == []
    assert state(client)["decided"] is False


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},  # typed into the address bar / bookmark
        {"sec-fetch-site": "Same-Origin "},
        {"origin": "http://testserver"},
        {"origin": "HTTP://TestServer"},
        {"origin": "http://testserver:80"},
        {"referer": "http://testserver/article?id=1"},
        {},  # a non-browser client (curl, a test): nothing to check
    ],
)
def test_same_origin_posts_pass(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(
        "/consent", data={"action": "accept_all"}, headers=headers, follow_redirects=False
    )
    assert response.status_code == 303
    assert state(client)["decided"] is True


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"sec-fetch-site": "same-site", "origin": "https://shop.example.com"}, 200),
        ({"sec-fetch-site": "cross-site", "origin": "https://shop.example.com"}, 200),
        ({"origin": "https://shop.example.com"}, 200),
        ({"origin": "HTTPS://SHOP.example.com"}, 200),
        ({"referer": "https://shop.example.com/cart"}, 200),
        ({"sec-fetch-site": "same-site", "origin": "https://blog.example.com"}, 403),
        ({"sec-fetch-site": "same-site"}, 403),
        ({"origin": "http://shop.example.com"}, 403),  # another scheme: another origin
    ],
)
def test_trusted_origins_may_post(headers: dict[str, str], status: int) -> None:
    client = TestClient(make_app(trusted_origins=["https://shop.example.com/"]))
    response = client.post("/consent", json={"action": "reject_all"}, headers=headers)
    assert response.status_code == status
    assert bool(response.headers.get_list("set-cookie")) is (status == 200)


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://["},
        {"origin": "http://[::1"},
        {"referer": "http://[::1/page"},
        {"referer": "https://[evil/"},
    ],
)
def test_malformed_origin_or_referer_is_refused_not_crashed(headers: dict[str, str]) -> None:
    """A browser never sends these, an attacker's script may: 403, never a 500."""
    client = TestClient(make_app(), raise_server_exceptions=False)
    response = client.post("/consent", data={"action": "accept_all"}, headers=headers)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("headers", "trusted", "expected"),
    [
        ({"host": "example.com", "origin": "https://example.com"}, (), True),
        ({"host": "example.com", "origin": "http://example.com"}, (), True),
        ({"host": "example.com:8443", "origin": "https://example.com:8443"}, (), True),
        ({"host": "example.com:8443", "origin": "https://example.com"}, (), False),
        ({"host": "Example.COM", "origin": "https://example.com"}, (), True),
        ({"host": "example.com", "origin": "https://example.com.evil"}, (), False),
        ({"host": "example.com", "origin": "https://evil-example.com"}, (), False),
        ({"host": "example.com", "origin": "https://sub.example.com"}, (), False),
        ({"host": "example.com", "origin": "ftp://example.com"}, (), False),
        ({"host": "example.com", "origin": "https://example.com:99999"}, (), False),
        ({"host": "example.com", "origin": "null"}, (), False),
        ({"origin": "https://example.com"}, (), False),  # no Host to compare with
        ({"host": "example.com", "referer": "https://example.com/a?b#c"}, (), True),
        ({"host": "example.com", "referer": "https://evil.com/example.com"}, (), False),
        ({"host": "example.com", "referer": "/relative"}, (), False),
        ({"host": "example.com", "sec-fetch-site": "same-origin"}, (), True),
        ({"host": "example.com", "sec-fetch-site": "none"}, (), True),
        ({"host": "example.com", "sec-fetch-site": "same-site"}, (), False),
        (
            {
                "host": "example.com",
                "sec-fetch-site": "same-site",
                "origin": "https://a.example.com",
            },
            ("https://a.example.com",),
            True,
        ),
        ({"host": "example.com"}, (), True),
        ({}, (), True),
    ],
)
def test_is_same_origin_table(
    headers: dict[str, str], trusted: tuple[str, ...], expected: bool
) -> None:
    assert is_same_origin(Headers(headers), frozenset(trusted)) is expected


URL_PART = st.sampled_from(
    ["[", "]", ":", "/", "@", "::1", "example.com", "%", "?", "#", "\\", " ", "99999", "é", "."]
)
HEADER_TEXT = st.one_of(
    st.sampled_from(
        ["http://example.com", "https://example.com", "null", "same-origin", "cross-site", ""]
    ),
    st.builds(
        lambda scheme, parts: scheme + "".join(parts),
        st.sampled_from(["http://", "https://", "ftp://", "//", ""]),
        st.lists(URL_PART, max_size=5),
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30),
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["host", "origin", "referer", "sec-fetch-site"]), HEADER_TEXT, max_size=4
    )
)
def test_is_same_origin_never_raises(headers: dict[str, str]) -> None:
    """Property: any header values give a bool; an Origin of another host never passes."""
    result = is_same_origin(Headers(headers), frozenset())
    assert isinstance(result, bool)
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in ("same-origin", "none"):
        assert result is False


ORIGIN_HOSTS = st.sampled_from(
    ["example.com", "shop.example.com", "127.0.0.1", "[::1]", "xn--bcher-kva.example"]
)
ORIGIN_PORTS = st.sampled_from([None, 80, 443, 8000, 8443])


def origin_text(scheme: str, host: str, port: int | None) -> str:
    return f"{scheme}://{host}" + ("" if port is None else f":{port}")


def effective(scheme: str, port: int | None) -> int:
    return port if port is not None else {"http": 80, "https": 443}[scheme]


@settings(max_examples=200, deadline=None)
@given(
    request_scheme=st.sampled_from(["http", "https"]),
    request_host=ORIGIN_HOSTS,
    request_port=ORIGIN_PORTS,
    origin_scheme=st.sampled_from(["http", "https"]),
    origin_host=ORIGIN_HOSTS,
    origin_port=ORIGIN_PORTS,
    via_referer=st.booleans(),
)
def test_an_origin_of_another_scheme_host_or_port_is_refused(
    request_scheme: str,
    request_host: str,
    request_port: int | None,
    origin_scheme: str,
    origin_host: str,
    origin_port: int | None,
    via_referer: bool,
) -> None:
    """C1: without Sec-Fetch-Site, the Origin (else the Referer) must be the request's
    origin: same scheme, host and port (a default port written or not). On a site served
    over https, `http://host` (which anybody on the network can serve) is refused."""
    url = origin_text(request_scheme, request_host, request_port)
    origin = origin_text(origin_scheme, origin_host, origin_port)
    same = (request_scheme, request_host, effective(request_scheme, request_port)) == (
        origin_scheme,
        origin_host,
        effective(origin_scheme, origin_port),
    )
    event("same origin" if same else "another origin")
    headers = {"referer": f"{origin}/page?x=1"} if via_referer else {"origin": origin}
    with TestClient(APP, base_url=url) as client:
        response = client.post("/consent", json={"action": "accept_all"}, headers=headers)
    assert response.status_code == (200 if same else 403)
    assert (
        is_same_origin(
            Headers({**headers, "host": url.split("://")[1]}), frozenset(), request_scheme
        )
        is same
    )


@pytest.mark.parametrize(
    ("host", "origin", "scheme", "expected"),
    [
        ("example.com", "https://example.com", "https", True),
        ("example.com", "http://example.com", "https", False),
        ("example.com", "https://example.com", "http", False),
        ("example.com:443", "https://example.com", "https", True),
        ("example.com", "https://example.com:443", "https", True),
        ("example.com:80", "http://example.com", "http", True),
        ("example.com:443", "http://example.com:443", "http", True),
        ("example.com:8443", "https://example.com:8443", "https", True),
        ("example.com", "https://example.com:80", "https", False),
        ("example.com", "https://example.com", "ws", False),  # not an http scheme
        ("example.com", "https://example.com", "HTTPS", True),
    ],
)
def test_is_same_origin_compares_schemes_when_known(
    host: str, origin: str, scheme: str, expected: bool
) -> None:
    """C1: the request's scheme, when known, is part of its origin."""
    headers = Headers({"host": host, "origin": origin})
    assert is_same_origin(headers, frozenset(), scheme) is expected


# --- next: no open redirects -------------------------------------------------------------

BAD_NEXT = [
    "//evil.com",
    "//evil.com/path",
    "/\\evil.com",
    "\\\\evil.com",
    "https://evil.com",
    "http:/evil.com",
    "HTTPS://evil.com",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/ok\r\nSet-Cookie: x=1",
    "/ok\nLocation: //evil.com",
    "/ok\x00",
    "/ok\t",
    "/ok path",
    "/\t/evil.com",
    "",
    "relative",
    "relative/path",
    "?x=1",
    "#top",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("value", [*BAD_NEXT, None])
def test_safe_next_refuses_what_leaves_the_site(value: str | None) -> None:
    assert safe_next(value) == "/"


@pytest.mark.parametrize(
    "value",
    [
        "/",
        "/article?id=1#top",
        "/article?id=1&x=%2F#top",
        "/a/b/c.html",
        "/%0d%0a",  # already encoded: a harmless path
        "/search?q=//evil.com",  # '//' in the query is not a host
        "/caf\u00e9",
        "/" + "a" * 2000,
    ],
)
def test_safe_next_keeps_same_origin_paths(value: str) -> None:
    assert safe_next(value) == value


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.builds(
            "".join,
            st.lists(
                st.sampled_from(
                    [
                        "/",
                        "\\",
                        "//",
                        ":",
                        "evil.com",
                        "http",
                        "?",
                        "#",
                        "@",
                        "%2F",
                        "\t",
                        "\r",
                        "\n",
                        " ",
                        ".",
                        "..",
                    ]
                ),
                max_size=8,
            ),
        ),
    )
)
def test_safe_next_stays_on_this_origin(value: str) -> None:
    """Property: whatever `next` is, the redirect resolves to this host and scheme."""
    result = safe_next(value)
    assert result in ("/", value)
    target = urlsplit(urljoin("https://site.example/page/", result))
    assert (target.scheme, target.netloc) == ("https", "site.example")
    assert result.startswith("/") and not result.startswith("//")
    assert not any(c in result for c in "\r\n\t\x00\\")


@pytest.mark.parametrize("value", BAD_NEXT)
def test_next_through_http_goes_home(client: TestClient, value: str) -> None:
    response = client.post(
        "/consent", data={"action": "reject_all", "next": value}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert [h for h in response.headers.get_list("set-cookie") if h.startswith("x=")] == []


def test_next_through_http_keeps_a_path(client: TestClient) -> None:
    response = client.post(
        "/consent",
        data={"action": "reject_all", "next": "/article?id=1#top"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/article?id=1#top"


# --- clear 400 / 413 / 415 ---------------------------------------------------------------


@pytest.mark.parametrize("action", ["accept", "ACCEPT_ALL", "", "accept_all ", "delete"])
def test_unknown_action_names_the_allowed_ones(client: TestClient, action: str) -> None:
    response = client.post("/consent", json={"action": action})
    assert response.status_code == 400
    assert response.json()["allowed"] == ACTIONS
    assert "accept_all" in response.json()["error"]
    form = client.post("/consent", data={"action": action})
    assert form.status_code == 400
    assert "accept_all, reject_all, save" in form.text
    assert state(client)["decided"] is False


@pytest.mark.parametrize("body", [{}, {"grant": ["analytics"]}, {"action": None}])
def test_missing_action_is_a_400(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/consent", json=body)
    assert response.status_code == 400
    assert response.json()["allowed"] == ACTIONS


def test_unknown_grant_names_the_known_ids(client: TestClient) -> None:
    response = client.post("/consent", json={"action": "save", "grant": ["analytics", "spy"]})
    assert response.status_code == 400
    assert "'spy'" in response.json()["error"]
    assert sorted(response.json()["allowed"]) == sorted(IDS)
    form = client.post("/consent", data={"action": "save", "grant": ["spy", "Analytics"]})
    assert form.status_code == 400
    assert "'Analytics'" in form.text and "'spy'" in form.text
    assert all(id in form.text for id in IDS)
    assert state(client)["decided"] is False


@pytest.mark.parametrize("kind", ["form", "json"])
def test_body_over_64k_with_content_length_is_413(client: TestClient, kind: str) -> None:
    if kind == "form":
        body = b"action=accept_all&junk=" + b"x" * LIMIT
        headers = FORM
    else:
        body = b'{"action": "accept_all", "next": "' + b"x" * LIMIT + b'"}'
        headers = JSON_TYPE
    response = client.post("/consent", content=body, headers=headers)
    assert response.status_code == 413
    assert str(LIMIT) in response.text
    assert response.headers.get_list("set-cookie") == []


def test_body_of_exactly_64k_is_read(client: TestClient) -> None:
    head = b"action=accept_all&junk="
    response = client.post(
        "/consent",
        content=head + b"x" * (LIMIT - len(head)),
        headers=FORM,
        follow_redirects=False,
    )
    assert response.status_code == 303


@pytest.mark.parametrize(
    ("chunks", "status"),
    [
        ([b"action=accept_all&junk="] + [b"x" * 10000] * 7, 413),
        ([b"action=accept_all&junk="] + [b"x" * 8192] * 7, 303),
        ([b"action=", b"accept_all"], 303),
        ([b""] * 5 + [b"action=reject_all"], 303),
    ],
)
def test_streamed_body_without_content_length_is_capped(chunks: list[bytes], status: int) -> None:
    """413 also when the body arrives in chunks without Content-Length."""
    sent = raw_post([(b"content-type", FORM["content-type"].encode())], chunks)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == status
    assert sets_consent(sent[0]["headers"]) is (status == 303)


def test_client_disconnect_records_nothing() -> None:
    sent = raw_post([(b"content-type", FORM["content-type"].encode())], [])
    assert sent[0]["status"] == 400
    assert not sets_consent(sent[0]["headers"])


@pytest.mark.parametrize("value", [b"ten", b"-1", b"1e3", b"0x10", b" ", b"\xb2", b"\xb9"])
def test_bad_content_length_is_a_400(value: bytes) -> None:
    """Includes characters str.isdigit() accepts but int() does not ('\\xb2' is '²')."""
    headers = [(b"content-type", FORM["content-type"].encode()), (b"content-length", value)]
    try:
        sent = raw_post(headers, [b"action=accept_all"])
    except Exception as exc:  # report a crash as a failed check, not an error
        pytest.fail(f"Content-Length {value!r} raised {type(exc).__name__}: {exc}")
    assert sent[0]["status"] == 400
    assert not sets_consent(sent[0]["headers"])


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/x-www-form-urlencodedx",
        "application/jsonp",
        "",
        None,
    ],
)
def test_other_content_types_are_415(client: TestClient, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post("/consent", content=b"action=accept_all", headers=headers)
    assert response.status_code == 415
    assert "application/x-www-form-urlencoded" in response.text
    assert "application/json" in response.text
    assert response.headers.get_list("set-cookie") == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded; charset=utf-8", b"action=accept_all"),
        ("Application/X-WWW-Form-Urlencoded", b"action=accept_all"),
        ("application/json; charset=utf-8", b'{"action": "accept_all"}'),
        ("application/merge-patch+json", b'{"action": "accept_all"}'),
    ],
)
def test_content_type_parameters_and_case_are_accepted(
    client: TestClient, content_type: str, body: bytes
) -> None:
    response = client.post(
        "/consent", content=body, headers={"content-type": content_type}, follow_redirects=False
    )
    assert response.status_code in (200, 303)
    assert state(client)["decided"] is True


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"{", JSON_TYPE),
        (b"", JSON_TYPE),
        (b"[]", JSON_TYPE),
        (b'["accept_all"]', JSON_TYPE),
        (b'"accept_all"', JSON_TYPE),
        (b"null", JSON_TYPE),
        (b'{"action": "save", "grant": "analytics"}', JSON_TYPE),
        (b'{"action": "save", "grant": {"analytics": true}}', JSON_TYPE),
        (b'{"action": "save", "grant": [1]}', JSON_TYPE),
        (b'{"action": "save", "grant": [null]}', JSON_TYPE),
        (b'{"action": "save", "extra": 1}', JSON_TYPE),
        (b'{"action": "save", "next": 5}', JSON_TYPE),
        (b'{"action": ["accept_all"]}', JSON_TYPE),
        (b'{"action": "accept_all"}\xff', JSON_TYPE),
        (b"\xff\xfe{}", JSON_TYPE),
        (b"[" * 30000 + b"]" * 30000, JSON_TYPE),
        (b"1" * 5000, JSON_TYPE),
        (b"action=\xff\xfe", FORM),
        (b"action=accept_all&grant=\xe9", FORM),
        (b"action=save&action=accept_all", FORM),
        (b"action=accept_all&action=accept_all", FORM),
        (b"action=accept_all&next=/a&next=/b", FORM),
        (b"&".join([b"grant=analytics"] * 2000) + b"&action=save", FORM),
        (b"", FORM),
        (b"next=/", FORM),
    ],
)
def test_bad_bodies_get_clear_400s(
    client: TestClient, body: bytes, headers: dict[str, str]
) -> None:
    response = client.post("/consent", content=body, headers=headers, follow_redirects=False)
    assert response.status_code == 400
    assert len(response.text) > 10  # says what is wrong
    assert response.headers.get_list("set-cookie") == []
    assert state(client)["decided"] is False


def test_errors_answer_json_to_json_clients(client: TestClient) -> None:
    response = client.post(
        "/consent", content=b"action=x", headers={**FORM, "accept": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["allowed"] == ACTIONS


def test_a_failed_post_keeps_the_earlier_choice(client: TestClient) -> None:
    client.post("/consent", json={"action": "save", "grant": ["analytics"]})
    before = state(client)
    assert client.post("/consent", json={"action": "accept_all", "x": 1}).status_code == 400
    assert (
        client.post(
            "/consent", json={"action": "reject_all"}, headers={"origin": "null"}
        ).status_code
        == 403
    )
    assert state(client) == before


# --- properties: random bodies never crash and never grant what they did not ask for -----


def expected_grants(action: str, grant: list[str]) -> tuple[list[str], list[str]]:
    """DESIGN.md's semantics, written out independently: (categories, services)."""
    if action == "accept_all":
        return CATEGORIES, SERVICES
    chosen = set(grant) if action == "save" else set()
    categories = {c for c in CATEGORIES if c in chosen} | REQUIRED
    services = {s for s in SERVICES if s in chosen or CATEGORY_OF[s] in REQUIRED}
    for category in categories - REQUIRED:
        own = {s for s in SERVICES if CATEGORY_OF[s] == category}
        if not own & chosen:
            services |= own  # a category alone grants all its services
    return [c for c in CATEGORIES if c in categories], [s for s in SERVICES if s in services]


def form_outcome(pairs: list[tuple[str, str]]) -> tuple[int, str | None, list[str]]:
    """(status, action, grant) a form with these fields must produce."""
    actions = [v for k, v in pairs if k == "action"]
    nexts = [v for k, v in pairs if k == "next"]
    grant = [v for k, v in pairs if k == "grant"]
    if len(actions) != 1 or len(nexts) > 1 or actions[0] not in ACTIONS:
        return 400, None, grant
    if not set(grant) <= set(IDS):
        return 400, None, grant
    return 303, actions[0], grant


def json_outcome(value: Any) -> tuple[int, str | None, list[str]]:
    """(status, action, grant) a JSON body holding `value` must produce."""
    if not isinstance(value, dict) or not set(value) <= {"action", "grant", "next"}:
        return 400, None, []
    grant = value.get("grant", [])
    if not isinstance(grant, list) or not all(isinstance(g, str) for g in grant):
        return 400, None, []
    if value.get("next") is not None and not isinstance(value.get("next"), str):
        return 400, None, []
    action = value.get("action")
    if not isinstance(action, str) or action not in ACTIONS or not set(grant) <= set(IDS):
        return 400, None, []
    return 200, action, grant


def check_outcome(
    client: TestClient, response: httpx.Response, expected: tuple[int, str | None, list[str]]
) -> None:
    """The response has the expected status; a cookie only on success; the state matches."""
    status, action, grant = expected
    event(f"status {status}, action {action}")  # shown by --hypothesis-show-statistics
    assert response.status_code < 500
    assert response.status_code == status, response.text
    cookies = [h for h in response.headers.get_list("set-cookie") if h.startswith("consent=")]
    after = state(client)
    if action is None:
        assert cookies == []
        assert after["decided"] is False
        assert after["granted"] == ["essential"]
        return
    assert len(cookies) == 1
    categories, services = expected_grants(action, grant)
    assert after["decided"] is True
    assert after["granted"] == categories
    assert after["services"] == services


FIELD = st.sampled_from(["action", "grant", "next", "junk", "", "Action", "grant[]"])
VALUE = st.one_of(
    st.sampled_from([*ACTIONS, *IDS, "/", "//evil.com"]),
    st.text(max_size=8),
)
ACTION_VALUE = st.one_of(*[st.sampled_from(["save", *ACTIONS])] * 3, VALUE)
GRANT_VALUE = st.one_of(*[st.sampled_from(IDS)] * 4, VALUE)  # mostly known ids


@st.composite
def form_pairs(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Form fields close to what the pages send (often valid), plus noise, in any order."""
    pairs = [("action", draw(ACTION_VALUE))]
    pairs += [("grant", g) for g in draw(st.lists(GRANT_VALUE, max_size=5))]
    pairs += [("next", n) for n in draw(st.lists(VALUE, max_size=1))]
    pairs += draw(st.lists(st.tuples(FIELD, VALUE), max_size=2))
    return list(draw(st.permutations(pairs)))


@settings(max_examples=100, deadline=None)
@given(form_pairs())
def test_random_form_fields_never_crash_or_grant_unasked(pairs: list[tuple[str, str]]) -> None:
    client = TestClient(APP, raise_server_exceptions=True)
    response = client.post(
        "/consent", content=urlencode(pairs), headers=FORM, follow_redirects=False
    )
    check_outcome(client, response, form_outcome(pairs))


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.one_of(FIELD, st.text(max_size=6)), VALUE, max_size=6),
    st.dictionaries(st.sampled_from(["action", "grant"]), st.sampled_from([*ACTIONS, *IDS])),
)
def test_random_form_dictionaries_never_crash_or_grant_unasked(
    fields: dict[str, str], known: dict[str, str]
) -> None:
    fields = {**fields, **known}
    client = TestClient(APP, raise_server_exceptions=True)
    response = client.post(
        "/consent", content=urlencode(fields), headers=FORM, follow_redirects=False
    )
    check_outcome(client, response, form_outcome(list(fields.items())))


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda parts: b"&".join(parts),
            st.lists(
                st.sampled_from(
                    [
                        b"action=accept_all",
                        b"action=save",
                        b"action=reject_all",
                        b"grant=analytics",
                        b"grant=youtube",
                        b"grant=%FF",
                        b"next=//x",
                        b"=",
                        b"&",
                        b"%",
                        b"+",
                        b"action",
                        b"\xff",
                        b"grant=essential",
                    ]
                ),
                max_size=6,
            ),
        ),
    )
)
def test_random_form_bytes_never_crash_or_grant_unasked(body: bytes) -> None:
    client = TestClient(APP, raise_server_exceptions=True)
    response = client.post("/consent", content=body, headers=FORM, follow_redirects=False)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        expected: tuple[int, str | None, list[str]] = (400, None, [])
    else:
        expected = form_outcome(parse_qsl(text, keep_blank_values=True))
    check_outcome(client, response, expected)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6) | st.sampled_from(IDS),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
CHOICE = st.fixed_dictionaries(
    {"action": st.sampled_from(["save", "save", *ACTIONS])},
    optional={
        "grant": st.lists(st.sampled_from(IDS), max_size=5, unique=True),
        "next": st.one_of(st.none(), st.text(max_size=6)),
    },
)
NOISY_CHOICE = st.fixed_dictionaries(
    {"action": st.sampled_from([*ACTIONS, "x", None])},
    optional={
        "grant": st.one_of(st.lists(st.sampled_from([*IDS, "nope"]), max_size=5), JSON),
        "next": st.one_of(st.none(), st.text(max_size=6), st.integers()),
        "extra": JSON,
    },
)


@settings(max_examples=120, deadline=None)
@given(st.one_of(JSON, CHOICE, NOISY_CHOICE))
def test_random_json_never_crashes_or_grants_unasked(value: Any) -> None:
    client = TestClient(APP, raise_server_exceptions=True)
    response = client.post("/consent", content=json.dumps(value), headers=JSON_TYPE)
    check_outcome(client, response, json_outcome(value))


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_random_json_bytes_never_crash(body: bytes) -> None:
    client = TestClient(APP, raise_server_exceptions=True)
    response = client.post("/consent", content=body, headers=JSON_TYPE)
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        expected: tuple[int, str | None, list[str]] = (400, None, [])
    else:
        expected = json_outcome(value)
    check_outcome(client, response, expected)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("application/x-www-form-urlencoded", "form"),
        ("APPLICATION/JSON ; charset=utf-8", "json"),
        ('application/json;charset="utf-8"', "json"),
        ("\tapplication/ld+json ", "json"),
        ("application/json x", None),
        ("application/json/x", None),
        ("", None),
    ],
)
def test_content_kind_reads_the_type_as_the_mime_standard_does(
    value: str, kind: str | None
) -> None:
    """A request's Content-Type goes through the same MIME parser as the responses'."""
    headers = Headers(raw=[(b"content-type", value.encode())])
    if kind is None:
        with pytest.raises(BadRequest) as caught:
            content_kind(headers)
        assert caught.value.status == 415
    else:
        assert content_kind(headers) == kind
