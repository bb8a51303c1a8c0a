"""Bad input on the consent route: refused clearly, never a 500, never a wrong grant.

Checklist items: C1 (no forged grant), plus the security rules of DESIGN.md (same-origin
checks on every state-changing route, no open redirects).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers
from starlette.testclient import TestClient
from starlette.types import Message

from consent.requests import is_same_origin, safe_next
from tests.conftest import make_app, run_async

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site", "origin": "https://shop.example.com"},
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "http://testserver.evil.example"},
        {"referer": "https://evil.example/page"},
        {"referer": "not a url"},
    ],
)
def test_cross_site_posts_are_refused(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(
        "/consent", data={"action": "accept_all"}, headers=headers, follow_redirects=False
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert client.get("/").json()["decided"] is False


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},
        {"origin": "http://testserver"},
        {"origin": "https://testserver"},  # a TLS-terminating proxy in front
        {"referer": "http://testserver/article"},
        {},  # a non-browser client
    ],
)
def test_same_origin_posts_pass(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(
        "/consent", data={"action": "accept_all"}, headers=headers, follow_redirects=False
    )
    assert response.status_code == 303


def test_trusted_origins_may_post() -> None:
    client = TestClient(make_app(trusted_origins=["https://shop.example.com"]))
    headers = {"sec-fetch-site": "same-site", "origin": "https://shop.example.com"}
    assert (
        client.post("/consent", json={"action": "reject_all"}, headers=headers).status_code == 200
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"host": "example.com", "origin": "https://example.com"}, True),
        ({"host": "example.com:8443", "origin": "https://example.com:8443"}, True),
        ({"host": "example.com:8443", "origin": "https://example.com"}, False),
        ({"host": "Example.COM", "origin": "https://example.com"}, True),
        ({"host": "example.com", "origin": "https://example.com.evil"}, False),
        ({"host": "example.com", "origin": "ftp://example.com"}, False),
        ({"host": "example.com", "origin": "https://example.com:99999"}, False),
        ({"origin": "https://example.com"}, False),  # no Host to compare with
    ],
)
def test_is_same_origin_table(headers: dict[str, str], expected: bool) -> None:
    assert is_same_origin(Headers(headers), frozenset()) is expected


@pytest.mark.parametrize(
    "value",
    [
        "//evil.com",
        "/\\evil.com",
        "https://evil.com",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
        "/ok\x00",
        "",
        "relative/path",
        "/" + "a" * 3000,
        "\\\\evil.com",
        "/%0d%0a",
        "http:/evil.com",
        None,
    ],
)
def test_next_never_leaves_the_site(value: str | None) -> None:
    expected = "/%0d%0a" if value == "/%0d%0a" else "/"
    assert safe_next(value) == expected


def test_next_keeps_paths_queries_and_fragments() -> None:
    assert safe_next("/article?id=1&x=%2F#top") == "/article?id=1&x=%2F#top"


def test_next_through_http(client: TestClient) -> None:
    response = client.post(
        "/consent", data={"action": "reject_all", "next": "//evil.com"}, follow_redirects=False
    )
    assert response.headers["location"] == "/"


def test_unknown_action_names_the_allowed_ones(client: TestClient) -> None:
    response = client.post("/consent", json={"action": "accept"})
    assert response.status_code == 400
    assert response.json()["allowed"] == ["accept_all", "reject_all", "save"]
    form = client.post("/consent", data={"action": "accept"})
    assert form.status_code == 400 and "accept_all, reject_all, save" in form.text


def test_unknown_grant_names_the_known_ids(client: TestClient) -> None:
    response = client.post("/consent", json={"action": "save", "grant": ["analytics", "spy"]})
    assert response.status_code == 400
    assert "'spy'" in response.json()["error"]
    assert "analytics" in response.json()["allowed"]


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{", {"content-type": "application/json"}, 400),
        (b"[]", {"content-type": "application/json"}, 400),
        (b'{"action": "save", "grant": "analytics"}', {"content-type": "application/json"}, 400),
        (b'{"action": "save", "grant": [1]}', {"content-type": "application/json"}, 400),
        (b'{"action": "save", "extra": 1}', {"content-type": "application/json"}, 400),
        (b'{"action": "save", "next": 5}', {"content-type": "application/json"}, 400),
        (b"[" * 100000, {"content-type": "application/json"}, 413),
        (b"action=save&action=accept_all", FORM, 400),
        (b"action=\xff\xfe", FORM, 400),
        (b"action=accept_all", {"content-type": "text/plain"}, 415),
        (b"action=accept_all", {"content-type": "multipart/form-data; boundary=x"}, 415),
        (b"action=accept_all", {}, 415),
        (b"x" * (64 * 1024 + 1), FORM, 413),
        (b"&".join([b"grant=analytics"] * 2000), FORM, 400),
    ],
)
def test_bad_bodies_get_clear_errors(
    client: TestClient, body: bytes, headers: dict[str, str], status: int
) -> None:
    response = client.post("/consent", content=body, headers=headers)
    assert response.status_code == status
    assert response.text
    assert "set-cookie" not in response.headers


def test_deeply_nested_json_is_refused_not_crashed(client: TestClient) -> None:
    body = b"[" * 20000 + b"]" * 20000
    response = client.post(
        "/consent", content=body[: 60 * 1024], headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


def test_streamed_body_without_length_is_capped() -> None:
    """413 also when the body arrives in chunks without Content-Length."""
    app = make_app()
    chunks = [b"action=save&" + b"x" * 10000] * 10
    sent: list[Message] = []

    async def receive() -> Message:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/consent",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "server": ("testserver", 80),
        "headers": [(b"host", b"testserver"), (b"content-type", FORM["content-type"].encode())],
    }
    run_async(app(scope, receive, send))
    assert sent[0]["status"] == 413


def test_bad_content_length_is_a_400(client: TestClient) -> None:
    response = client.post(
        "/consent", content=b"action=save", headers={**FORM, "content-length": "ten"}
    )
    assert response.status_code == 400


# Properties: random bodies never produce a 500 and never grant anything they did not ask for.

IDS = ["essential", "analytics", "marketing", "matomo", "google-analytics", "youtube"]
FIELD = st.sampled_from(["action", "grant", "next", "junk", ""])
VALUE = st.one_of(st.sampled_from(["accept_all", "reject_all", "save", *IDS]), st.text(max_size=8))


def granted_without_asking(client: TestClient, body: dict[str, Any] | None) -> bool:
    state = client.get("/consent/state").json()
    optional = set(state["granted"]) - {"essential"}
    if not optional:
        return False
    if body is None:
        return True
    action = body.get("action")
    grants = set(body.get("grant", []))
    return not (action == "accept_all" or (action == "save" and optional <= grants))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(FIELD, VALUE), max_size=8))
def test_random_forms_never_crash_or_grant_unasked(pairs: list[tuple[str, str]]) -> None:
    client = TestClient(make_app(), raise_server_exceptions=True)
    response = client.post(
        "/consent", content=urlencode(pairs), headers=FORM, follow_redirects=False
    )
    assert response.status_code in (303, 400)
    actions = [v for k, v in pairs if k == "action"]
    body = {
        "action": actions[0] if len(actions) == 1 else None,
        "grant": [v for k, v in pairs if k == "grant"],
    }
    assert not granted_without_asking(client, body if response.status_code == 303 else None)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6) | st.sampled_from(IDS),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"action": st.sampled_from(["accept_all", "reject_all", "save", "x"])},
            optional={"grant": st.lists(st.sampled_from([*IDS, "nope"]), max_size=4)},
        ),
    )
)
def test_random_json_never_crashes_or_grants_unasked(value: Any) -> None:
    client = TestClient(make_app(), raise_server_exceptions=True)
    response = client.post(
        "/consent", content=json.dumps(value), headers={"content-type": "application/json"}
    )
    assert response.status_code in (200, 400)
    ok = response.status_code == 200
    assert not granted_without_asking(client, value if ok and isinstance(value, dict) else None)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([FORM["content-type"], "application/json"]))
def test_random_bytes_never_crash(body: bytes, content_type: str) -> None:
    client = TestClient(make_app(), raise_server_exceptions=True)
    response = client.post(
        "/consent", content=body, headers={"content-type": content_type}, follow_redirects=False
    )
    assert response.status_code < 500
