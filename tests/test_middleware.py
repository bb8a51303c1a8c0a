"""ConsentMiddleware as pure ASGI: the scope slot, Vary, start-up errors, bad cookies, keys.

Checklist items: C1 (a tampered, garbage, oversized or foreign-key cookie is "no decision",
never a 500 and never "granted"), plus the rules of DESIGN.md: pure ASGI, `Vary: Cookie`
on every response that depended on consent, clear start-up errors, no secret in reprs,
key rotation.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from consent import ConsentMiddleware, Policy, get_consent
from consent.signing import CLOCK_SKEW
from tests.conftest import OTHER_SECRET, POLICY_DATA, SECRET, call_asgi, make_app, run_async

POLICY = Policy.model_validate(POLICY_DATA)
UNDECIDED = {"decided": False, "granted": ["essential"], "services": ["php-session", "wordpress"]}
ALL = {
    "decided": True,
    "granted": ["analytics", "essential", "marketing"],
    "services": sorted(s["id"] for s in POLICY_DATA["services"]),
}


def app_with(*routes: Route | WebSocketRoute, **options: Any) -> Starlette:
    """A Starlette app with `routes` behind the middleware (default policy and secret)."""
    settings: dict[str, Any] = {"policy": POLICY, "secret_key": SECRET, **options}
    return Starlette(routes=list(routes), middleware=[Middleware(ConsentMiddleware, **settings)])


def consent_cookie(secret: str | list[str] = SECRET, action: str = "accept_all") -> str:
    """A valid consent cookie value, made through the route by an app with `secret`."""
    client = TestClient(make_app(secret_key=secret))
    value = client.post("/consent", json={"action": action}).cookies["consent"]
    assert isinstance(value, str) and value
    return value


def state_with_cookie(value: str, **options: Any) -> dict[str, Any]:
    """What `/` reports for a request carrying `consent=<value>` (on a fresh client)."""
    response = TestClient(make_app(**options)).get(
        "/", headers={b"cookie": f"consent={value}".encode("latin-1")}
    )
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


# --- get_consent -------------------------------------------------------------------------


def test_get_consent_accepts_a_request_and_a_raw_scope() -> None:
    async def both(request: Request) -> JSONResponse:
        from_request = get_consent(request)
        from_scope = get_consent(request.scope)
        return JSONResponse(
            {"same": from_request is from_scope, "decided": from_scope.decided},
        )

    client = TestClient(app_with(Route("/", both)))
    assert client.get("/").json() == {"same": True, "decided": False}
    cookie = {"cookie": f"consent={consent_cookie()}"}
    assert client.get("/", headers=cookie).json() == {"same": True, "decided": True}


def test_get_consent_without_the_middleware_explains() -> None:
    async def page(request: Request) -> PlainTextResponse:
        get_consent(request)
        return PlainTextResponse("unreachable")

    client = TestClient(Starlette(routes=[Route("/", page)]))
    with pytest.raises(RuntimeError, match="ConsentMiddleware must be installed"):
        client.get("/")
    with pytest.raises(RuntimeError, match="ConsentMiddleware"):
        get_consent({"type": "http", "path": "/", "headers": []})
    with pytest.raises(RuntimeError, match="ConsentMiddleware"):
        get_consent({"type": "http", "consent": "not a slot"})


# --- pure ASGI ---------------------------------------------------------------------------


def test_raw_asgi_app_without_any_framework() -> None:
    """Pure ASGI: a hand-written app, hand-made scope/receive/send, no TestClient.

    One visit (undecided, Vary added), one form POST to the consent route (303 + cookie),
    one visit carrying that cookie (decided, everything granted).
    """
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        state = get_consent(scope)
        seen.append((state.decided, sorted(state.granted)))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hi"})

    middleware = ConsentMiddleware(app, policy=POLICY, secret_key=SECRET)

    def call(method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> list[Any]:
        return call_asgi(middleware, method, path, headers, [body], host=b"example.com")

    sent = call("GET", "/", [], b"")
    assert seen == [(False, ["essential"])]
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert (b"vary", b"Cookie") in sent[0]["headers"]
    assert not any(key == b"set-cookie" for key, _ in sent[0]["headers"])
    assert sent[1] == {"type": "http.response.body", "body": b"hi"}

    form = [(b"content-type", b"application/x-www-form-urlencoded")]
    sent = call("POST", "/consent", form, urlencode({"action": "accept_all"}).encode())
    assert len(seen) == 1  # the consent route answered; the app was not called
    start = sent[0]
    assert start["status"] == 303
    assert (b"location", b"/") in start["headers"]
    cookies = [v.decode() for k, v in start["headers"] if k == b"set-cookie"]
    assert len(cookies) == 1 and cookies[0].startswith("consent=")
    cookie = cookies[0].split(";")[0]

    call("GET", "/", [(b"cookie", cookie.encode())], b"")
    assert seen[-1] == (True, ["analytics", "essential", "marketing"])


@pytest.mark.parametrize("kind", ["lifespan", "webtransport", "custom"])
def test_non_http_scopes_pass_through_untouched(kind: str) -> None:
    calls: list[tuple[Scope, Receive, Send]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append((scope, receive, send))

    middleware = ConsentMiddleware(app, policy=POLICY, secret_key=SECRET)

    async def receive() -> Message:
        return {"type": f"{kind}.startup"}

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent")

    scope: dict[str, Any] = {"type": kind, "asgi": {"version": "3.0"}}
    run_async(middleware(scope, receive, send))
    assert len(calls) == 1
    got_scope, got_receive, got_send = calls[0]
    assert got_scope is scope and got_scope == {"type": kind, "asgi": {"version": "3.0"}}
    assert got_receive is receive and got_send is send  # not wrapped


def test_lifespan_runs_through_the_middleware() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = Starlette(
        routes=[],
        lifespan=lifespan,
        middleware=[Middleware(ConsentMiddleware, policy=POLICY, secret_key=SECRET)],
    )
    with TestClient(app):
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


@pytest.mark.parametrize(
    ("cookie", "expected"), [(None, False), ("valid", True), ("consent=garbage", False)]
)
def test_websockets_get_the_consent_too(cookie: str | None, expected: bool) -> None:
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        state = get_consent(websocket)
        await websocket.send_json({"decided": state.decided, "granted": sorted(state.granted)})
        await websocket.close()

    client = TestClient(app_with(WebSocketRoute("/ws", socket)))
    headers: dict[str, str] = {}
    if cookie == "valid":
        headers["cookie"] = f"consent={consent_cookie()}"
    elif cookie is not None:
        headers["cookie"] = cookie
    with client.websocket_connect("/ws", headers=headers) as ws:
        data = ws.receive_json()
    assert data["decided"] is expected
    granted = ["analytics", "essential", "marketing"] if expected else ["essential"]
    assert data["granted"] == granted


# --- Vary: Cookie ------------------------------------------------------------------------


async def reads(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"decided={get_consent(request).decided}")


async def reads_scope(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"decided={get_consent(request.scope).decided}")


async def ignores(request: Request) -> PlainTextResponse:
    return PlainTextResponse("same for everyone")


async def merges(request: Request) -> PlainTextResponse:
    get_consent(request)
    return PlainTextResponse("x", headers={"Vary": "Accept-Encoding"})


async def keeps(request: Request) -> PlainTextResponse:
    return PlainTextResponse("x", headers={"Vary": "Accept-Encoding"})


async def html_ignores(request: Request) -> HTMLResponse:
    return HTMLResponse("<p>static</p>")


VARY_APP = app_with(
    Route("/reads", reads),
    Route("/reads-scope", reads_scope),
    Route("/ignores", ignores),
    Route("/merges", merges),
    Route("/keeps", keeps),
    Route("/html", html_ignores),
)


@pytest.mark.parametrize(
    ("path", "vary"),
    [
        ("/reads", "Cookie"),
        ("/reads-scope", "Cookie"),
        ("/ignores", None),  # never read the consent: cacheable for everyone
        ("/merges", "Accept-Encoding, Cookie"),
        ("/keeps", "Accept-Encoding"),
        ("/html", "Cookie"),  # HTML is gated, so its markup depends on the cookie
    ],
)
@pytest.mark.parametrize("with_cookie", [False, True])
def test_vary_cookie_only_when_the_response_depended_on_consent(
    path: str, vary: str | None, with_cookie: bool
) -> None:
    headers = {"cookie": f"consent={consent_cookie()}"} if with_cookie else {}
    response = TestClient(VARY_APP).get(path, headers=headers)
    assert response.status_code == 200
    assert response.headers.get_list("vary") == ([] if vary is None else [vary])


def test_vary_not_added_to_ungated_html_that_ignores_consent() -> None:
    client = TestClient(app_with(Route("/html", html_ignores), gate_html=False))
    response = client.get("/html")
    assert response.text == "<p>static</p>"
    assert "vary" not in response.headers


# --- start-up errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"secret_key": None}, ValueError, ["needs secret_key", "32"]),
        ({"secret_key": ""}, ValueError, ["secret_key", "32"]),
        ({"secret_key": []}, ValueError, ["needs secret_key"]),
        ({"secret_key": "too-short"}, ValueError, ["secret_key[0]", "32"]),
        ({"secret_key": "x" * 31}, ValueError, ["secret_key[0]", "32"]),
        ({"secret_key": [SECRET, "short"]}, ValueError, ["secret_key[1]", "too short"]),
        ({"secret_key": [SECRET, 12345]}, ValueError, ["secret_key[1]", "not a string"]),
        ({"policy": POLICY_DATA}, TypeError, ["consent.Policy", "load_policy"]),
        ({"policy": "consent.toml"}, TypeError, ["consent.Policy"]),
        ({"policy": None}, TypeError, ["consent.Policy"]),
        ({"cookie_name": "bad name"}, ValueError, ["cookie_name", "'bad name'"]),
        ({"cookie_name": ""}, ValueError, ["cookie_name"]),
        ({"cookie_name": "a;b"}, ValueError, ["cookie_name"]),
        ({"cookie_name": "a=b"}, ValueError, ["cookie_name"]),
        ({"same_site": "none", "secure": False}, ValueError, ["same_site='none'", "secure=True"]),
        ({"same_site": "sometimes"}, ValueError, ["same_site", "'sometimes'"]),
        ({"cookie_name": "__Host-consent", "domain": "example.com"}, ValueError, ["__Host-"]),
        ({"domain": "example.com; Path=/x"}, ValueError, ["domain", "host name"]),
        ({"domain": ""}, ValueError, ["domain", "host name"]),
        ({"cookie_name": "__Host-consent", "secure": False}, ValueError, ["__Host-"]),
        ({"path": "consent"}, ValueError, ["path", "leading '/'"]),
        ({"path": "/consent/"}, ValueError, ["path", "trailing '/'"]),
        ({"path": "/"}, ValueError, ["path"]),
        ({"path": "/consent?x=1"}, ValueError, ["path"]),
        ({"trusted_origins": ["shop.example.com"]}, ValueError, ["trusted_origins", "shop"]),
        ({"trusted_origins": ["https://shop.example.com/cart"]}, ValueError, ["trusted_origins"]),
        ({"trusted_origins": ["ftp://shop.example.com"]}, ValueError, ["trusted_origins"]),
        ({"trusted_origins": ["*"]}, ValueError, ["trusted_origins"]),
        ({"undeclared_cookies": "maybe"}, ValueError, ["undeclared_cookies", "'maybe'"]),
        ({"log": object()}, TypeError, ["log must be a ConsentLog", "SQLiteConsentLog"]),
    ],
)
def test_bad_settings_fail_at_start_up(
    options: dict[str, Any], error: type[Exception], words: list[str]
) -> None:
    settings: dict[str, Any] = {"policy": POLICY, "secret_key": SECRET, **options}
    with pytest.raises(error) as caught:
        ConsentMiddleware(PlainTextResponse("x"), **settings)
    assert type(caught.value) is error
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"secret_key": "x" * 32},  # exactly the minimum
        {"secret_key": [SECRET, OTHER_SECRET]},
        {"cookie_name": "__Host-consent"},  # secure=None: Secure on https
        {"cookie_name": "__Host-consent", "secure": True},
        {"same_site": "none", "secure": True},
        {"same_site": "strict"},
        {"path": "/privacy/consent"},
        {"domain": "example.com"},
        {"trusted_origins": ["https://shop.example.com", "HTTP://Blog.Example.com:8080/"]},
    ],
)
def test_good_settings_start(options: dict[str, Any]) -> None:
    """The checks above are not over-eager: these settings are accepted."""
    settings: dict[str, Any] = {"policy": POLICY, "secret_key": SECRET, **options}
    middleware = ConsentMiddleware(PlainTextResponse("x"), **settings)
    assert middleware.site.cookies.name == settings.get("cookie_name", "consent")


def test_repr_never_shows_the_secret() -> None:
    middleware = ConsentMiddleware(
        PlainTextResponse("x"), policy=POLICY, secret_key=[SECRET, OTHER_SECRET]
    )
    site = middleware.site
    for text in (repr(middleware), str(middleware), repr(site), repr(site.codec)):
        assert "ConsentMiddleware" in text or "Site" in text or "Codec" in text
        assert SECRET not in text and OTHER_SECRET not in text
        assert SECRET[:16] not in text


# --- C1: bad cookies are "no decision" ---------------------------------------------------


@pytest.mark.parametrize(
    "cookie",
    [
        "garbage",
        "1.2.3.4.5.6.7.8",
        "1." * 300,
        "x" * 5000,  # oversized
        '"quoted"',
        "1.\u00e9",
        "%00%ff",
        "",
        ".",
        "1.0.1.00000000.AAAAAAAAAAAAAAAAAAAAAA.7.1f." + "A" * 43,  # right shape, forged
    ],
)
def test_bad_cookie_is_undecided_never_500(cookie: str) -> None:
    """C1: whatever the browser sends, the app gets "no decision"."""
    assert state_with_cookie(cookie) == UNDECIDED


def test_tampered_cookie_is_undecided_at_every_position() -> None:
    """C1: flip any one character of a valid accept-all cookie: no decision, nothing granted."""
    value = consent_cookie()
    client = TestClient(make_app())
    assert client.get("/", headers={"cookie": f"consent={value}"}).json() == ALL
    for index, char in enumerate(value):
        for other in {"A" if char != "A" else "B", "0" if char != "0" else "1"}:
            tampered = value[:index] + other + value[index + 1 :]
            response = client.get("/", headers={"cookie": f"consent={tampered}"})
            assert response.status_code == 200
            assert response.json() == UNDECIDED, (index, tampered)
    for tampered in (value[:-1], value + "A", value[1:], value.replace(".", "", 1)):
        assert client.get("/", headers={"cookie": f"consent={tampered}"}).json() == UNDECIDED


def test_swapped_payload_and_signature_is_undecided() -> None:
    """C1: a reject-all payload upgraded to "everything" under its own signature, and a
    payload of one cookie under the signature of another, are both refused."""
    rejected = consent_cookie(action="reject_all")
    accepted = consent_cookie(action="accept_all")
    payload, _, signature = rejected.rpartition(".")
    fields = payload.split(".")
    fields[5], fields[6] = "7", "1f"  # all three categories, all five services
    assert state_with_cookie(".".join(fields) + "." + signature) == UNDECIDED
    swapped = accepted.rpartition(".")[0] + "." + signature
    assert state_with_cookie(swapped) == UNDECIDED
    assert state_with_cookie(rejected)["decided"] is True  # the original still works


COOKIE_TEXT = st.text(
    alphabet=st.sampled_from("0123456789abcdefABCDEF._-=\"' %\\,xyzé\u00ff"), max_size=200
)


@settings(max_examples=60, deadline=None)
@given(value=COOKIE_TEXT)
def test_random_cookie_values_are_undecided(value: str) -> None:
    """C1 (property): random cookie text never errors and never decides anything."""
    client = TestClient(make_app(), raise_server_exceptions=True)
    header = f"other=1; consent={value}".encode()
    response = client.get("/", headers={b"cookie": header})
    assert response.status_code == 200
    assert response.json() == UNDECIDED


@functools.cache
def valid_cookie() -> str:
    """One accept-all cookie, made once for the property test below."""
    return consent_cookie()


@settings(max_examples=40, deadline=None)
@given(index=st.integers(min_value=0), char=st.characters(min_codepoint=0x21, max_codepoint=0x7E))
def test_random_mutation_of_a_valid_cookie_is_undecided(index: int, char: str) -> None:
    """C1 (property): any one-character change to a valid cookie is refused."""
    value = valid_cookie()
    index %= len(value)
    mutated = value[:index] + char + value[index + 1 :]
    if mutated == value or char == ";":
        return
    assert state_with_cookie(mutated) == UNDECIDED


def test_cookie_of_another_secret_is_undecided() -> None:
    value = consent_cookie(secret=OTHER_SECRET)
    assert state_with_cookie(value, secret_key=OTHER_SECRET) == ALL  # valid where it was made
    assert state_with_cookie(value) == UNDECIDED


def test_key_rotation_through_the_middleware() -> None:
    """secret_key=[B, A]: cookies signed with A still verify; new choices are signed with B."""
    old = consent_cookie(secret=OTHER_SECRET)  # made under A
    rotated = TestClient(make_app(secret_key=[SECRET, OTHER_SECRET]))
    cookie = {"cookie": f"consent={old}"}
    assert rotated.get("/", headers=cookie).json() == ALL  # old cookies keep working
    choice = {"action": "save", "grant": ["analytics"]}
    response = rotated.post("/consent", json=choice, headers=cookie)
    assert response.status_code == 200
    new = response.cookies["consent"]
    assert new != old
    only_b = state_with_cookie(new, secret_key=SECRET)
    assert only_b["decided"] is True
    assert only_b["granted"] == ["analytics", "essential"]
    assert state_with_cookie(new, secret_key=OTHER_SECRET) == UNDECIDED  # not signed with A


def test_the_right_cookie_is_found_among_others() -> None:
    value = consent_cookie()
    for header in (
        f"xconsent=bad; a=1; consent={value}; consent_other=2",
        f"consent_x=1;consent={value}",
        f'consent="{value}"',
    ):
        response = TestClient(make_app()).get("/", headers={"cookie": header})
        assert response.json() == ALL, header
    response = TestClient(make_app()).get("/", headers={"cookie": f"xconsent={value}"})
    assert response.json() == UNDECIDED  # a cookie whose name only ends in "consent"


def test_cookie_headers_seen_before_give_the_same_answer_and_the_memory_stays_bounded() -> None:
    """C1: the middleware remembers what it read from a Cookie header (a returning visitor
    sends the same one on every page); the remembered answer is the one it would read,
    and neither many visitors nor long headers make the memory grow without bound."""
    app = make_app()
    client = TestClient(app)
    value = consent_cookie()
    tampered = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    headers = [f"consent={value}", f"consent={tampered}", "other=1", f"x=1; consent={value}"]
    expected = [ALL, UNDECIDED, UNDECIDED, ALL]
    for _ in range(3):  # the first round reads, the next ones remember
        got = [client.get("/", headers={"cookie": header}).json() for header in headers]
        assert got == expected
    middleware: Any = app.middleware_stack  # built by the first request
    while not isinstance(middleware, ConsentMiddleware):
        middleware = middleware.app
    long = f"consent={value}; pad={'x' * 3000}"
    assert client.get("/", headers={"cookie": long}).json() == ALL
    reader = middleware.site.reader
    assert long.encode() not in reader  # over 2 KiB: read every time
    for number in range(4200):
        reader.read(f"consent={value}; n={number}".encode())
    assert 0 < len(reader) <= 4096


def test_a_remembered_cookie_still_expires_on_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """C1, C3: the middleware keeps the state of a valid cookie it has read, with the times
    it holds between; past its max_age it is "no decision" again, however often it was
    seen before, and a cookie the clock says was issued in the future is refused."""
    app = make_app()
    client = TestClient(app)
    value = consent_cookie()
    header = {"cookie": f"consent={value}"}
    for _ in range(3):
        assert client.get("/", headers=header).json() == ALL
    now = time.time()
    max_age = POLICY.max_age_days * 86400
    for moment, expected in [
        (now + max_age - 60, ALL),
        (now + max_age + 60, UNDECIDED),
        (now - CLOCK_SKEW + 60, ALL),
        (now - CLOCK_SKEW - 60, UNDECIDED),  # issued, for this clock, in the future
        (now, ALL),
    ]:
        monkeypatch.setattr(time, "time", lambda moment=moment: moment)
        assert client.get("/", headers=header).json() == expected, moment - now


def test_cookie_name_option_is_used() -> None:
    client = TestClient(make_app(cookie_name="site_choice"))
    response = client.post("/consent", json={"action": "accept_all"})
    assert "site_choice" in response.cookies and "consent" not in response.cookies
    assert client.get("/").json() == ALL


# --- root_path and path ------------------------------------------------------------------


def test_routes_under_a_root_path() -> None:
    """Mounted under /app (scope root_path): /app/consent is still the consent route."""
    client = TestClient(make_app(), root_path="/app")
    response = client.post("/app/consent", json={"action": "reject_all"})
    assert response.status_code == 200
    assert response.json()["decided"] is True
    assert client.get("/app/consent/state").json()["decided"] is True
    page = client.get("/app/consent")
    assert page.status_code == 200
    assert 'action="/app/consent"' in page.text  # the form posts back under the root path


def test_root_path_not_included_in_path_still_routes() -> None:
    """Older servers put the mount prefix in root_path only; /consent still routes."""
    app = make_app()
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/consent/state",
        "root_path": "/app",
        "scheme": "http",
        "query_string": b"",
        "server": ("testserver", 80),
        "headers": [(b"host", b"testserver")],
    }
    run_async(app(scope, receive, send))
    assert sent[0]["status"] == 200
    assert b'"decided":false' in sent[1]["body"]


async def near_miss(request: Request) -> Response:
    return PlainTextResponse(f"app:{request.url.path}")


@pytest.mark.parametrize("path", ["/consentx", "/consent-settings", "/blog/consent", "/consen"])
def test_paths_that_only_resemble_the_consent_route_reach_the_app(path: str) -> None:
    client = TestClient(app_with(Route(path, near_miss)))
    response = client.get(path)
    assert response.status_code == 200
    assert response.text == f"app:{path}"


def test_custom_consent_path() -> None:
    client = TestClient(make_app(path="/privacy/choice"))
    assert client.post("/privacy/choice", json={"action": "accept_all"}).status_code == 200
    assert client.get("/privacy/choice/state").json()["decided"] is True
    assert client.get("/consent/state").status_code == 404  # the default path is not served


def test_every_request_gets_its_own_state() -> None:
    """Per-request state never leaks between visitors sharing one app."""
    app = make_app()
    granted = TestClient(app)
    granted.post("/consent", json={"action": "accept_all"})
    fresh = TestClient(app)
    for _ in range(3):
        assert granted.get("/").json() == ALL
        assert fresh.get("/").json() == UNDECIDED
