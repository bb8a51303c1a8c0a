"""ConsentMiddleware as pure ASGI: scope, Vary, start-up errors, bad cookies.

Checklist items: C1 (a tampered cookie is "no decision", never a 500).
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from consent import ConsentMiddleware, Policy, get_consent
from tests.conftest import OTHER_SECRET, POLICY_DATA, SECRET, make_app, run_async

POLICY = Policy.model_validate(POLICY_DATA)


def test_raw_asgi_app_without_any_framework() -> None:
    """The middleware needs nothing but ASGI: hand-made scope, receive and send."""
    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen["state"] = get_consent(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hi"})

    middleware = ConsentMiddleware(app, policy=POLICY, secret_key=SECRET)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [(b"host", b"example.com")],
    }
    run_async(middleware(scope, receive, send))
    assert seen["state"].decided is False
    assert sent[0]["status"] == 200
    assert (b"vary", b"Cookie") in sent[0]["headers"]
    assert sent[1]["body"] == b"hi"


def test_lifespan_and_other_scopes_pass_through_untouched() -> None:
    calls: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(dict(scope))

    middleware = ConsentMiddleware(app, policy=POLICY, secret_key=SECRET)

    async def nothing() -> Message:
        return {}

    async def ignore(message: Message) -> None:
        pass

    run_async(middleware({"type": "lifespan"}, nothing, ignore))
    assert calls == [{"type": "lifespan"}]


def test_websockets_get_the_consent_too() -> None:
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"decided": get_consent(websocket).decided})
        await websocket.close()

    app = Starlette(
        routes=[WebSocketRoute("/ws", socket)],
        middleware=[Middleware(ConsentMiddleware, policy=POLICY, secret_key=SECRET)],
    )
    with TestClient(app).websocket_connect("/ws") as ws:
        assert ws.receive_json() == {"decided": False}


def test_get_consent_without_the_middleware_explains() -> None:
    async def page(request: Request) -> PlainTextResponse:
        get_consent(request)
        return PlainTextResponse("unreachable")

    client = TestClient(Starlette(routes=[Route("/", page)]))
    with pytest.raises(RuntimeError, match="ConsentMiddleware must be installed"):
        client.get("/")
    with pytest.raises(RuntimeError, match="ConsentMiddleware"):
        get_consent({"type": "http"})


def test_vary_cookie_only_when_the_consent_was_read() -> None:
    async def ignores(request: Request) -> PlainTextResponse:
        return PlainTextResponse("same for everyone")

    async def merges(request: Request) -> PlainTextResponse:
        get_consent(request)
        return PlainTextResponse("x", headers={"Vary": "Accept-Encoding"})

    app = Starlette(
        routes=[Route("/static", ignores), Route("/merge", merges)],
        middleware=[Middleware(ConsentMiddleware, policy=POLICY, secret_key=SECRET)],
    )
    client = TestClient(app)
    assert "vary" not in client.get("/static").headers
    assert client.get("/merge").headers["vary"] == "Accept-Encoding, Cookie"
    assert TestClient(make_app()).get("/").headers["vary"] == "Cookie"


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"secret_key": None}, ValueError, "secret_key"),
        ({"secret_key": "too-short"}, ValueError, "32"),
        ({"secret_key": [SECRET, "short"]}, ValueError, "secret_key[1]"),
        ({"policy": POLICY_DATA}, TypeError, "consent.Policy"),
        ({"cookie_name": "bad name"}, ValueError, "cookie_name"),
        ({"same_site": "none", "secure": False}, ValueError, "secure=True"),
        ({"same_site": "sometimes"}, ValueError, "same_site"),
        ({"cookie_name": "__Host-consent", "domain": "example.com"}, ValueError, "__Host-"),
        ({"path": "consent/"}, ValueError, "path"),
        ({"trusted_origins": ["shop.example.com"]}, ValueError, "trusted_origins"),
        ({"undeclared_cookies": "maybe"}, ValueError, "undeclared_cookies"),
    ],
)
def test_bad_settings_fail_at_start_up(
    options: dict[str, Any], error: type[Exception], words: str
) -> None:
    settings: dict[str, Any] = {"policy": POLICY, "secret_key": SECRET, **options}
    with pytest.raises(error) as caught:
        ConsentMiddleware(PlainTextResponse("x"), **settings)
    assert words in str(caught.value)


def test_repr_never_shows_the_secret() -> None:
    middleware = ConsentMiddleware(PlainTextResponse("x"), policy=POLICY, secret_key=SECRET)
    assert SECRET not in repr(middleware)
    assert SECRET not in repr(middleware.config)


@pytest.mark.parametrize(
    "cookie",
    ["garbage", "1.2.3.4.5.6.7.8", "x" * 5000, '"quoted"', "1.\u00e9", "%00%ff", ""],
)
def test_bad_cookie_is_undecided_never_500(cookie: str) -> None:
    """C1: whatever the browser sends, the app gets "no decision"."""
    client = TestClient(make_app())
    response = client.get("/", headers={b"cookie": f"consent={cookie}".encode()})
    assert response.status_code == 200
    assert response.json() == {
        "decided": False,
        "granted": ["essential"],
        "services": ["php-session", "wordpress"],
    }


def test_cookie_of_another_secret_is_undecided() -> None:
    other = TestClient(make_app(secret_key=OTHER_SECRET))
    value = other.post("/consent", json={"action": "accept_all"}).cookies["consent"]
    response = TestClient(make_app()).get("/", headers={"cookie": f"consent={value}"})
    assert response.json()["decided"] is False


def test_key_rotation_through_the_middleware() -> None:
    old = TestClient(make_app(secret_key=OTHER_SECRET))
    value = old.post("/consent", json={"action": "accept_all"}).cookies["consent"]
    rotated = TestClient(make_app(secret_key=[SECRET, OTHER_SECRET]))
    cookie = {"cookie": f"consent={value}"}
    assert rotated.get("/", headers=cookie).json()["decided"] is True  # old ones keep working
    choice = {"action": "save", "grant": ["analytics"]}
    value = rotated.post("/consent", json=choice, headers=cookie).cookies["consent"]
    only_new = TestClient(make_app(secret_key=SECRET))
    response = only_new.get("/", headers={"cookie": f"consent={value}"})
    assert response.json()["granted"] == ["analytics", "essential"]  # new ones use the first key


def test_the_right_cookie_is_found_among_others() -> None:
    value = (
        TestClient(make_app()).post("/consent", json={"action": "accept_all"}).cookies["consent"]
    )
    fresh = TestClient(make_app())
    header = f"xconsent=bad; a=1; consent={value}; consent_other=2"
    assert fresh.get("/", headers={"cookie": header}).json()["decided"] is True


def test_routes_under_a_root_path() -> None:
    client = TestClient(make_app(), root_path="/app")
    response = client.post("/app/consent", json={"action": "reject_all"})
    assert response.status_code == 200
    assert response.json()["decided"] is True
