"""Server-side enforcement around raw ASGI apps (no Starlette routing): any framework works.

Checklist items: A1, A3 (Set-Cookie filtering), A5 (per category), B14 (withdrawal deletes).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import pathlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import FileResponse, HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from consent import ConsentMiddleware, Policy
from consent.cookies import cookie_names, parent_domains
from consent.enforce import CookieGuard
from consent.etags import ConsentTags
from consent.state import ConsentState
from tests import asgi
from tests.conftest import POLICY_DATA, SECRET, call_asgi, make_app, run_async

RawApp = Callable[[Scope, Receive, Send], Awaitable[None]]

POLICY_WITH_DOMAIN: dict[str, Any] = {
    **POLICY_DATA,
    "services": [
        *POLICY_DATA["services"],
        {
            "id": "ads",
            "category": "marketing",
            "title": "Ads",
            "cookies": [
                {
                    "name": "_gcl_au",
                    "purpose": "Ad clicks.",
                    "duration": "3 months",
                    "path": "/shop",
                    "domain": ".example.com",
                },
            ],
        },
    ],
}


def raw_app(
    headers: list[tuple[bytes, bytes]], body: bytes | list[bytes] = b"ok", status: int = 200
) -> RawApp:
    """A hand-written ASGI app sending fixed headers and a body (in chunks if a list)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": status, "headers": headers})
        chunks = body if isinstance(body, list) else [body]
        for index, chunk in enumerate(chunks):
            more = index < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


def client(
    app: RawApp,
    data: dict[str, Any] | None = None,
    base: str = "https://example.com",
    **options: Any,
) -> TestClient:
    policy = Policy.model_validate(data or POLICY_DATA)
    wrapped = ConsentMiddleware(app, policy=policy, secret_key=SECRET, **options)
    return TestClient(wrapped, base_url=base)


SETS_COOKIES = [
    (b"content-type", b"text/plain"),
    (b"set-cookie", b"_ga=GA1.1.123; Path=/; Max-Age=34000000"),
    (b"set-cookie", b"PHPSESSID=abc; Path=/; HttpOnly"),
    (b"set-cookie", b"wordpress_logged_in_0a1b=ann; Path=/"),
    (b"set-cookie", b"YSC=v; Path=/"),
]


def set_names(response: Any) -> list[str]:
    return [h.split("=", 1)[0] for h in response.headers.get_list("set-cookie")]


def test_no_choice_drops_optional_cookies_and_keeps_essential_ones() -> None:
    """A1, A3: before a choice only the essential cookies leave the server."""
    response = client(raw_app(SETS_COOKIES)).get("/")
    assert set_names(response) == ["PHPSESSID", "wordpress_logged_in_0a1b"]
    assert response.headers["vary"] == "Cookie"


@pytest.mark.parametrize("first", [b"content-encoding", b"content-type"])
def test_compressed_responses_are_filtered_whatever_the_header_order(first: bytes) -> None:
    """A1, A2, A3: a compressed page is gated (and sent decoded), and its Set-Cookie headers
    are filtered like any other's, wherever Content-Encoding stands among the headers."""
    headers = [(b"content-encoding", b"gzip"), *HTML, *SETS_COOKIES[1:]]
    headers.sort(key=lambda header: header[0] != first)
    response = client(raw_app(headers, gzip.compress(PAGE))).get("/")
    assert set_names(response) == ["PHPSESSID", "wordpress_logged_in_0a1b"]
    assert response.content == PAGE.replace(b"<script", b'<script type="text/plain"')
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Cookie"


def test_header_names_in_any_case_are_enforced() -> None:
    """A1, A2, A3: ASGI asks for lower-case header names, but some apps send "Set-Cookie" or
    "Content-Type": their cookies are filtered and their pages gated all the same."""
    headers = [(b"Content-Type", b"text/html; charset=utf-8")]
    headers += [(b"Set-Cookie", value) for _, value in SETS_COOKIES[1:]]
    headers += [(b"Content-Length", str(len(PAGE)).encode())]
    response = client(raw_app(headers, PAGE)).get("/")
    assert set_names(response) == ["PHPSESSID", "wordpress_logged_in_0a1b"]
    assert response.content != PAGE and b'type="text/plain"' in response.content
    assert response.headers.get_list("content-length") == [str(len(response.content))]
    assert response.headers["vary"] == "Cookie"


def test_headers_as_any_iterable_of_pairs_are_enforced() -> None:
    """A1, A3: ASGI takes any iterable of pairs for the headers (a tuple, say); the
    middleware adds its own headers to them without failing."""
    for headers in [tuple(HTML), tuple(SETS_COOKIES)]:
        response = client(raw_app(headers, PAGE)).get("/")  # type: ignore[arg-type]
        assert response.status_code == 200
        assert response.headers["vary"] == "Cookie"
        assert set_names(response) == ["PHPSESSID", "wordpress_logged_in_0a1b"][: len(headers) - 1]
    assert b'type="text/plain"' in client(raw_app(tuple(HTML), PAGE)).get("/").content  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("grant", "expected"),
    [
        ([], ["PHPSESSID", "wordpress_logged_in_0a1b"]),
        (["analytics"], ["_ga", "PHPSESSID", "wordpress_logged_in_0a1b"]),
        (["marketing"], ["PHPSESSID", "wordpress_logged_in_0a1b", "YSC"]),
        (["google-analytics"], ["_ga", "PHPSESSID", "wordpress_logged_in_0a1b"]),
        (["analytics", "matomo"], ["PHPSESSID", "wordpress_logged_in_0a1b"]),
        (["analytics", "marketing"], ["_ga", "PHPSESSID", "wordpress_logged_in_0a1b", "YSC"]),
    ],
)
def test_each_grant_lets_through_exactly_its_cookies(grant: list[str], expected: list[str]) -> None:
    """A3, A5: a granted category (or service) passes its cookies and nobody else's."""
    c = client(raw_app(SETS_COOKIES))
    assert c.post("/consent", json={"action": "save", "grant": grant}).status_code == 200
    assert set_names(c.get("/")) == expected


def test_deletions_and_the_consent_cookie_always_pass() -> None:
    headers = [
        (b"set-cookie", b"_ga=; Max-Age=0; Path=/"),
        (b"set-cookie", b"YSC=; expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"),
        (b"set-cookie", b"consent=whatever; Path=/"),
        (b"set-cookie", b"_pk_id.1=1; expires=Thu, 01 Jan 2099 00:00:00 GMT"),
    ]
    assert set_names(client(raw_app(headers)).get("/")) == ["_ga", "YSC", "consent"]


@pytest.mark.parametrize(
    ("mode", "passes", "warns"),
    [("allow", True, False), ("warn", True, True), ("block", False, False)],
)
def test_undeclared_cookies_follow_the_setting(
    mode: str, passes: bool, warns: bool, caplog: pytest.LogCaptureFixture
) -> None:
    c = client(raw_app([(b"set-cookie", b"mystery=1")]), undeclared_cookies=mode)
    with caplog.at_level(logging.WARNING, logger="consent"):
        first = c.get("/")
        c.get("/")
    assert ("mystery" in set_names(first)) is passes
    warnings = [r for r in caplog.records if "mystery" in r.getMessage()]
    assert len(warnings) == (1 if warns else 0)  # once per name, not per response


def test_warned_names_are_bounded() -> None:
    guard = CookieGuard(Policy.model_validate(POLICY_DATA), consent_cookie="c", undeclared="warn")
    state = ConsentState.undecided(guard.policy)
    for index in range(5000):
        assert guard.passes(f"junk{index}", state)
    assert len(guard._warned) <= 1000


def test_invalid_undeclared_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="undeclared_cookies"):
        client(raw_app([]), undeclared_cookies="sometimes")


def test_withdrawal_expires_carried_cookies_with_their_path_and_domain() -> None:
    """B14: a refusal after a grant expires what the refused services left, on every variant."""
    c = client(raw_app([(b"content-type", b"text/plain")]), POLICY_WITH_DOMAIN)
    c.post("/consent", json={"action": "accept_all"})
    c.cookies.set("_ga", "GA1.1", domain="example.com")
    c.cookies.set("_gcl_au", "1", domain="example.com")
    c.cookies.set("PHPSESSID", "s", domain="example.com")
    response = c.post("/consent", json={"action": "reject_all"})
    expired = [h for h in response.headers.get_list("set-cookie") if "Max-Age=0" in h]
    assert any(h.startswith('_ga=""') and "Path=/;" in h for h in expired)
    assert any(
        h.startswith('_gcl_au=""') and "Domain=.example.com" in h and "Path=/shop" in h
        for h in expired
    )
    assert any(h.startswith('_gcl_au=""') and "Domain" not in h for h in expired)
    assert not any(h.startswith("PHPSESSID") for h in expired)  # essential stays
    assert all("Secure" in h for h in expired)  # https request


def test_refused_cookies_are_expired_again_on_later_requests() -> None:
    """Analytics tags recreate their cookies; every response expires them again."""
    c = client(raw_app([(b"content-type", b"text/plain")]))
    c.post("/consent", json={"action": "reject_all"})
    for _ in range(2):  # the second time, the Cookie header is one the middleware has seen
        c.cookies.set("_pk_id.1.abc", "1", domain="example.com")  # the script recreates it
        response = c.get("/")
        expired = response.headers.get_list("set-cookie")
        assert any(h.startswith('_pk_id.1.abc=""') for h in expired)
        assert response.headers["vary"] == "Cookie"


def test_deleting_on_later_requests_can_be_switched_off() -> None:
    c = client(raw_app([(b"content-type", b"text/plain")]), delete_refused_cookies=False)
    c.cookies.set("_ga", "1", domain="example.com")
    assert c.get("/").headers.get_list("set-cookie") == []


HTML = [(b"content-type", b"text/html; charset=utf-8")]
PAGE = b'<p>hi</p><script data-consent="analytics" src="/a.js"></script>'


def test_html_is_gated_with_correct_content_length() -> None:
    headers = [*HTML, (b"content-length", str(len(PAGE)).encode())]
    response = client(raw_app(headers, PAGE)).get("/")
    assert b'type="text/plain"' in response.content
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["vary"] == "Cookie"
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_streamed_html_is_gated_across_chunks() -> None:
    chunks = [PAGE[:20], PAGE[20:31], PAGE[31:]]
    headers = [*HTML, (b"content-length", str(len(PAGE)).encode())]
    response = client(raw_app(headers, chunks)).get("/")
    assert response.content == PAGE.replace(b"<script", b'<script type="text/plain"')
    assert "content-length" not in response.headers  # unknown in advance: sent chunked


def test_granted_html_passes_unchanged() -> None:
    c = client(raw_app(HTML, PAGE))
    c.post("/consent", json={"action": "accept_all"})
    assert c.get("/").content == PAGE


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-type", b"text/plain")],
        [(b"content-type", b"application/json")],
        [(b"content-type", b"text/plain"), (b"content-encoding", b"gzip")],
        [(b"content-type", b"image/png; x=text/html")],
    ],
)
def test_other_bodies_are_left_alone(headers: list[tuple[bytes, bytes]]) -> None:
    body = gzip.compress(PAGE) if (b"content-encoding", b"gzip") in headers else PAGE
    response = client(raw_app(headers, body)).get("/")
    assert response.content == PAGE  # (the test client decodes gzip; the bytes were untouched)


@pytest.mark.parametrize("name", ["page.html", "notes.txt"])
def test_files_the_server_would_send_itself_are_gated_when_html(
    tmp_path: pathlib.Path, name: str
) -> None:
    """A2, B14: under a server with the ASGI `pathsend` extension (Granian), Starlette's
    FileResponse asks the server to send the file. An HTML page is read and gated by the
    middleware instead; any other file is still left to the server."""
    page = PAGE * 3000  # several reads
    (tmp_path / name).write_bytes(page)
    app = ConsentMiddleware(
        FileResponse(tmp_path / name), policy=Policy.model_validate(POLICY_DATA), secret_key=SECRET
    )
    scope, receive, send, sent = asgi.request("GET", "/", [], [])
    scope["extensions"] = {"http.response.pathsend": {}}
    run_async(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start"
    if name == "notes.txt":
        assert [m["type"] for m in sent[1:]] == ["http.response.pathsend"]
        return
    assert {m["type"] for m in sent[1:]} == {"http.response.body"}
    body = b"".join(m["body"] for m in sent[1:])
    assert not sent[-1].get("more_body") and all(m["more_body"] for m in sent[1:-1])
    assert body.count(b'type="text/plain"') == 3000 and len(body) > len(page)
    headers = dict(sent[0]["headers"])
    assert b"content-length" not in headers and headers[b"vary"] == b"Cookie"


def test_a_start_message_the_app_sends_again_is_never_changed() -> None:
    """A1, A2: a hand-written app may send one constant start message (and header list)
    on every response. The middleware sends changed copies: the constants stay as they
    were, and no header piles up from one response to the next."""
    for headers in [[*HTML, *SETS_COOKIES[1:]], list(HTML), list(SETS_COOKIES)]:
        start = {"type": "http.response.start", "status": 200, "headers": headers}
        original = [*headers]

        async def app(scope: Scope, receive: Receive, send: Send, start: Message = start) -> None:
            await send(start)
            await send({"type": "http.response.body", "body": PAGE})

        c = client(app)
        for _ in range(3):
            response = c.get("/")
            assert response.headers.get_list("vary") == ["Cookie"]
            assert (
                set_names(response)
                == ["PHPSESSID", "wordpress_logged_in_0a1b"][: len(original) - 1]
            )
        assert start == {"type": "http.response.start", "status": 200, "headers": original}
        assert start["headers"] is headers


def test_head_of_a_gated_page_claims_no_wrong_length() -> None:
    """B14: a HEAD request has no body to gate; the page's length before gating is not
    the length a GET gets, so it is not claimed (and never "0")."""
    app = HTMLResponse(PAGE.decode())
    get = client(app).get("/")
    assert get.headers["content-length"] == str(len(get.content)) != str(len(PAGE))
    head = client(app).head("/")
    assert head.status_code == 200 and head.content == b""
    assert "content-length" not in head.headers and head.headers["vary"] == "Cookie"


@pytest.mark.parametrize("status", [204, 304])
def test_answers_without_a_body_claim_no_wrong_length(status: int) -> None:
    """B14: a 304 (or 204) for an HTML page has no body to gate: it is passed on at once,
    without a Content-Length of "0" for the page."""
    headers = [*HTML, (b"content-length", str(len(PAGE)).encode()), (b"etag", b'"v1"')]
    policy = Policy.model_validate(POLICY_DATA)
    app = ConsentMiddleware(raw_app(headers, b"", status), policy=policy, secret_key=SECRET)
    sent = call_asgi(app, "GET", "/", [(b"if-none-match", b'"v1"')], [])
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == status and sent[1]["body"] == b""
    names = [key for key, _ in sent[0]["headers"]]
    assert b"content-length" not in names
    etags = [value for key, value in sent[0]["headers"] if key == b"etag"]
    assert len(etags) == 1 and etags[0].startswith(b'"v1-consent-')  # see the next test


def test_a_cached_page_is_never_reused_for_another_consent(tmp_path: pathlib.Path) -> None:
    """A2, B14: a browser revalidates its copy of a page with If-None-Match. A gated
    page's ETag names the consent it was gated for, so the app still answers 304 while the
    consent is the same, and the page itself once the consent changed (a withdrawal must
    never leave a copy with active trackers in use). Last-Modified, which cannot name a
    consent, is dropped from gated pages; other responses keep their validators."""
    (tmp_path / "index.html").write_bytes(PAGE)
    (tmp_path / "notes.txt").write_bytes(b"plain")
    c = client(StaticFiles(directory=tmp_path, html=True))  # answers 304 when it can

    first = c.get("/")
    etag = first.headers["etag"]
    assert b'type="text/plain"' in first.content and "-consent-" in etag
    assert "last-modified" not in first.headers
    again = c.get("/", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    assert "Cookie" in again.headers["vary"]

    assert c.post("/consent", json={"action": "accept_all"}).status_code == 200
    after = c.get("/", headers={"if-none-match": etag})
    assert after.status_code == 200 and after.content == PAGE  # not gated any more
    assert after.headers["etag"] not in (etag, "") and "-consent-" in after.headers["etag"]
    assert c.get("/", headers={"if-none-match": after.headers["etag"]}).status_code == 304

    assert c.post("/consent", json={"action": "reject_all"}).status_code == 200
    withdrawn = c.get("/", headers={"if-none-match": after.headers["etag"]})
    assert withdrawn.status_code == 200 and b'type="text/plain"' in withdrawn.content

    text = c.get("/notes.txt")
    assert "-consent-" not in text.headers["etag"] and "last-modified" in text.headers
    assert c.get("/notes.txt", headers={"if-none-match": text.headers["etag"]}).status_code == 304


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"")),
            st.sampled_from([b"-consent-", b'"', b"W/", b", ", b"*"]),
        ),
        max_size=8,
    ),
    st.booleans(),
)
def test_any_if_none_match_reaches_the_app_as_it_should(parts: list[bytes], ours: bool) -> None:
    """C1, A2: whatever If-None-Match a request carries, the app gets it unchanged, except
    that the ETags made for this visitor's current consent are handed back as the app wrote
    them; nothing raises."""
    policy = Policy.model_validate(POLICY_DATA)
    undecided = ConsentState.undecided(policy)
    suffix = b"-consent-" + ConsentTags().of(undecided) + b'"'
    value = b"".join(parts) + (b', "v1' + suffix if ours else b"")
    seen: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.extend(v for k, v in scope["headers"] if k == b"if-none-match")
        await send({"type": "http.response.start", "status": 200, "headers": HTML})
        await send({"type": "http.response.body", "body": PAGE})

    sent = call_asgi(
        ConsentMiddleware(app, policy=policy, secret_key=SECRET),
        "GET",
        "/",
        [(b"if-none-match", value)],
        [],
    )
    assert sent[0]["status"] == 200
    assert seen == [value.replace(suffix, b'"')]
    if ours:
        assert seen[0].endswith(b', "v1"')


@pytest.mark.parametrize(
    ("etag", "written"),
    [
        (b'W/"v1"', b'W/"v1-consent-'),
        (b' "v1" ', b'"v1-consent-'),
        (b"v1", None),  # not an entity tag: dropped
        (b'"', None),
    ],
)
def test_gated_pages_entity_tags_are_read_strictly(etag: bytes, written: bytes | None) -> None:
    """A2: weak entity tags stay weak; a value that is no entity tag is dropped."""
    headers = [*HTML, (b"etag", etag), (b"last-modified", b"Sat, 28 Nov 2026 10:00:00 GMT")]
    response = client(raw_app(headers, PAGE)).get("/")
    got = response.headers.get_list("etag")
    if written is None:
        assert got == []
    else:
        assert len(got) == 1 and got[0].encode().startswith(written) and got[0].endswith('"')
    assert "last-modified" not in response.headers


def test_gating_can_be_switched_off() -> None:
    assert client(raw_app(HTML, PAGE), gate_html=False).get("/").content == PAGE


def test_auto_blocking_by_declared_hosts() -> None:
    data: dict[str, Any] = {
        **POLICY_DATA,
        "services": [
            *POLICY_DATA["services"],
            {
                "id": "gtm",
                "category": "analytics",
                "title": "Tag Manager",
                "hosts": ["www.googletagmanager.com"],
            },
        ],
    }
    page = b'<script async src="https://www.googletagmanager.com/gtm.js?id=1"></script>'
    c = client(raw_app(HTML, page), data)
    assert c.get("/").content == page.replace(
        b"<script", b'<script data-consent="gtm" type="text/plain"'
    )
    c.post("/consent", json={"action": "save", "grant": ["gtm"]})
    assert c.get("/").content == page


@pytest.mark.parametrize(
    ("header", "carries"),
    [
        ("_ga=GA1.1.1", True),  # an exact name, first in the header
        ("PHPSESSID=1; _ga=GA1.1.1", True),
        ("YSC=abc", True),
        ("_pk_id.1.abcd=x", True),  # a prefix rule
        ("_g=1; YS=2", False),  # shorter names are other cookies
        ("_gaX=1", False),
        ("PHPSESSID=1; consent=x", False),
    ],
)
def test_the_quick_check_finds_exact_and_prefix_names(header: str, carries: bool) -> None:
    """B14: the pre-check that decides whether refused cookies must be expired matches whole
    cookie names (it once cut the last letter off exact names and so never matched)."""
    guard = CookieGuard(
        Policy.model_validate(POLICY_DATA), consent_cookie="consent", undeclared="warn"
    )
    assert guard.may_carry_refused(header) is carries


def test_a_refused_exact_name_cookie_is_expired_on_an_ordinary_page() -> None:
    """B14: after "Reject all", a `_ga` cookie recreated by a script is expired by the next
    page, not only by the consent route."""
    client = TestClient(make_app())
    client.post("/consent", json={"action": "reject_all"})
    client.cookies.set("_ga", "GA1.1.1")
    cookies = client.get("/").headers.get_list("set-cookie")
    assert any(h.startswith('_ga=""; Max-Age=0') for h in cookies)


@pytest.mark.parametrize(
    ("header", "passes"),
    [
        (b"_ga=1; Max-Age=0; Max-Age=63072000; Path=/", False),  # a set: the last one wins
        (b"_ga=1; Max-Age=0; Max-age=x", True),  # the invalid one is ignored
        (b"_ga=; Max-Age=63072000; Max-Age=0", True),
        (b"_ga=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=86400", False),
        (b"_ga=1; Max-Age=abc; Expires=Thu, 01 Jan 1970 00:00:00 GMT", True),
        (b"=_ga=GA1.1.123; Path=/", False),  # nameless: servers and scripts read `_ga`
        (b"_ga=1; Max-Age=0\x01", False),  # browsers ignore it; it is no deletion either
    ],
)
def test_set_cookie_attributes_are_read_as_browsers_read_them(header: bytes, passes: bool) -> None:
    """A1, A3: whether a refused cookie's Set-Cookie deletes it (and so may pass) follows
    RFC 6265, section 5.2: the last valid Max-Age wins, Max-Age beats Expires, invalid
    values are ignored. `Max-Age=0; Max-Age=63072000` sets the cookie for two years."""
    response = client(raw_app([(b"content-type", b"text/plain"), (b"set-cookie", header)])).get("/")
    assert bool(response.headers.get_list("set-cookie")) is passes


def websocket_app(headers: list[tuple[bytes, bytes]]) -> RawApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        await receive()
        await send({"type": "websocket.accept", "headers": headers})
        await send({"type": "websocket.close", "code": 1000})

    return app


def handshake_cookies(headers: list[tuple[bytes, bytes]] | None) -> list[bytes]:
    return [value.split(b"=")[0] for _, value in headers or []]


def test_websocket_handshake_cookies_are_filtered() -> None:
    """A1, A3: a WebSocket handshake's answer (`websocket.accept`) may set cookies too: the
    same filter applies as to any response."""
    headers = [(b"Set-Cookie", b"_ga=GA1.1; Path=/"), (b"set-cookie", b"PHPSESSID=s; Path=/")]
    c = client(websocket_app(headers))
    with c.websocket_connect("/ws") as ws:
        names = handshake_cookies(ws.extra_headers)
    assert names == [b"PHPSESSID"]
    c.post("/consent", json={"action": "accept_all"})
    granted = {"cookie": f"consent={c.cookies['consent']}"}
    with c.websocket_connect("/ws", headers=granted) as ws:
        names = handshake_cookies(ws.extra_headers)
    assert names == [b"_ga", b"PHPSESSID"]


def test_refusal_expires_cookies_on_each_parent_domain() -> None:
    """B14: Google's tag sets `_ga` on the registrable domain (`Domain=example.com`) by
    default; it is removed only with that domain. A refusal expires a refused cookie
    host-only and for every parent domain of the host, up to the registrable one."""
    c = TestClient(
        ConsentMiddleware(
            raw_app([(b"content-type", b"text/plain")]),
            policy=Policy.model_validate(POLICY_DATA),
            secret_key=SECRET,
        ),
        base_url="https://www.shop.example.com",
    )
    c.post("/consent", json={"action": "accept_all"})
    c.cookies.set("_ga", "GA1.1", domain="example.com")
    for response in (c.post("/consent", json={"action": "reject_all"}), c.get("/")):
        expired = [h for h in response.headers.get_list("set-cookie") if h.startswith('_ga=""')]
        domains = {h.partition("Domain=")[2].partition(";")[0] for h in expired}
        assert domains == {"", "www.shop.example.com", "shop.example.com", "example.com"}


# Undeclared cookies the catalog knows: held to the policy category of the same id.
TRACKERS = [
    (b"content-type", b"text/plain"),
    (b"set-cookie", b"_fbp=fb.1.1700000000.1; Path=/; Max-Age=7776000"),  # Meta, marketing
    (b"set-cookie", b"_hjSessionUser_123=eyJ9; Path=/; Max-Age=31536000"),  # Hotjar, analytics
    (b"set-cookie", b"_gcl_au=1.1.1; Path=/"),  # Google Ads, marketing
    (b"set-cookie", b"PHPSESSID=abc; Path=/"),  # declared essential
]


@pytest.mark.parametrize("mode", ["allow", "warn", "block"])
def test_undeclared_trackers_are_dropped_before_consent_whatever_the_setting(mode: str) -> None:
    """A1, A3: `_fbp`, `_hjSessionUser_123` and `_gcl_au`, which the policy does not declare
    but the catalog knows as marketing or analytics, never leave before a choice, even with
    `undeclared_cookies="allow"`; the site's declared cookies are untouched."""
    response = client(raw_app(TRACKERS), undeclared_cookies=mode).get("/")
    assert set_names(response) == ["PHPSESSID"]
    assert response.headers["vary"] == "Cookie"


@pytest.mark.parametrize(
    ("grant", "expected"),
    [
        ([], ["PHPSESSID"]),
        (["analytics"], ["_hjSessionUser_123", "PHPSESSID"]),
        (["marketing"], ["_fbp", "_gcl_au", "PHPSESSID"]),
        (["analytics", "marketing"], ["_fbp", "_hjSessionUser_123", "_gcl_au", "PHPSESSID"]),
        # A single service of the category is not the category: the tracker is no service's.
        (["matomo"], ["PHPSESSID"]),
        (["youtube"], ["PHPSESSID"]),
    ],
)
def test_undeclared_trackers_pass_once_their_category_is_allowed(
    grant: list[str], expected: list[str]
) -> None:
    """A3, A5: the visitor who allows marketing (analytics) lets the undeclared marketing
    (analytics) trackers through, and no others."""
    c = client(raw_app(TRACKERS), undeclared_cookies="block")
    assert c.post("/consent", json={"action": "save", "grant": grant}).status_code == 200
    assert set_names(c.get("/")) == expected


def test_an_undeclared_tracker_of_a_category_the_policy_lacks_stays_dropped() -> None:
    """A1: Intercom's visitor id needs a "functional" category, which this policy lacks: even
    "Accept all" does not let it through, until the policy declares it."""
    headers = [(b"set-cookie", b"intercom-id-abc=1; Path=/")]
    c = client(raw_app(headers), undeclared_cookies="allow")
    c.post("/consent", json={"action": "accept_all"})
    assert set_names(c.get("/")) == []
    declared = {
        **POLICY_DATA,
        "services": [*POLICY_DATA["services"], {"id": "chat", "preset": "intercom"}],
        "categories": [*POLICY_DATA["categories"], {"id": "functional", "title": "Chat"}],
    }
    c = client(raw_app(headers), declared)
    c.post("/consent", json={"action": "save", "grant": ["chat"]})
    assert set_names(c.get("/")) == ["intercom-id-abc"]


def test_a_declaration_wins_over_the_catalog() -> None:
    """A3: a site that declares `_fbp` in its analytics category decides for itself: the
    cookie follows its service, not the catalog's marketing."""
    data = {
        **POLICY_DATA,
        "services": [
            *POLICY_DATA["services"],
            {"id": "fb", "category": "analytics", "title": "FB", "cookies": [{"name": "_fbp"}]},
        ],
    }
    c = client(raw_app(TRACKERS[:2]), data)
    c.post("/consent", json={"action": "save", "grant": ["analytics"]})
    assert set_names(c.get("/")) == ["_fbp"]


@pytest.mark.parametrize(
    "name",
    [
        "mystery",  # unknown
        "sessionid",  # the catalog's is Instagram's; Django's session cookie is essential
        "locale",  # the catalog's is Facebook's, on facebook.com: here it is the site's own
        "csrftoken",
    ],
)
@pytest.mark.parametrize(("mode", "passes"), [("allow", True), ("warn", True), ("block", False)])
def test_cookies_the_catalog_does_not_hold_against_the_site_follow_the_setting(
    name: str, mode: str, passes: bool
) -> None:
    """A3: only a first-party tracker the catalog knows is held back; other undeclared
    cookies still follow `undeclared_cookies`."""
    c = client(raw_app([(b"set-cookie", f"{name}=1; Path=/".encode())]), undeclared_cookies=mode)
    assert (name in set_names(c.get("/"))) is passes


def test_dropping_an_undeclared_tracker_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """The site learns why `_fbp` disappeared, and how to decide otherwise."""
    c = client(raw_app(TRACKERS[:2]), undeclared_cookies="allow")
    with caplog.at_level(logging.WARNING, logger="consent"):
        c.get("/")
        c.get("/")
    messages = [r.getMessage() for r in caplog.records if "'_fbp'" in r.getMessage()]
    assert len(messages) == 1
    assert "marketing" in messages[0] and "Meta Pixel" in messages[0] and "declare" in messages[0]


def test_undeclared_trackers_the_browser_sends_are_expired_until_allowed() -> None:
    """A1, B14: what the site's undeclared Meta pixel left (`_fbp` on the registrable
    domain, as the pixel sets it) is expired while marketing is not allowed, for the host
    and each parent domain; once allowed it stays."""
    c = client(raw_app([(b"content-type", b"text/plain")]), base="https://www.example.com")
    c.cookies.set("_fbp", "fb.1.1", domain="example.com")
    c.cookies.set("mystery", "1", domain="example.com")
    expired = c.get("/").headers.get_list("set-cookie")
    assert sorted(expired) == sorted(
        f'_fbp=""{where}; Max-Age=0; Path=/; SameSite=Lax; Secure'
        for where in ("", "; Domain=www.example.com", "; Domain=example.com")
    )
    c.post("/consent", json={"action": "reject_all"})
    assert any(h.startswith('_fbp=""') for h in c.get("/").headers.get_list("set-cookie"))
    c.post("/consent", json={"action": "accept_all"})
    assert c.get("/").headers.get_list("set-cookie") == []


@pytest.mark.parametrize(
    ("header", "carries"),
    [
        ("_fbp=fb.1", True),  # undeclared, known as marketing
        ("PHPSESSID=1; _hjSessionUser_9=x", True),  # a prefix entry
        ("locale=fr; sessionid=1; mystery=2", False),
        ("consent=x", False),
    ],
)
def test_the_quick_check_finds_undeclared_trackers(header: str, carries: bool) -> None:
    """B14: the pre-check also sees the catalog's trackers, so that they are expired."""
    guard = CookieGuard(
        Policy.model_validate(POLICY_DATA), consent_cookie="consent", undeclared="warn"
    )
    assert guard.may_carry_refused(header) is carries


def test_the_catalog_memo_is_bounded() -> None:
    """Names from Cookie headers are the visitor's: the memo stays bounded, long names are
    not kept at all."""
    guard = CookieGuard(Policy.model_validate(POLICY_DATA), consent_cookie="c", undeclared="warn")
    for index in range(10_000):
        guard.tracker(f"_hjSessionUser_{index}")
    guard.tracker("_ga_" + "x" * 5000)
    assert len(guard._tracked) <= 4096
    assert all(len(name) <= 256 for name in guard._tracked)


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_deletion_domains_come_only_from_host_names(host: str) -> None:
    """A Host header is the visitor's: only a host name (never `;`, spaces or an IP
    address) becomes a Domain attribute, so it cannot add attributes to the deletion."""
    for domain in parent_domains(host):
        assert re.fullmatch(r"[a-z0-9_-]+(\.[a-z0-9_-]+)+", domain)
        assert host.strip().lower().rstrip(".").partition(":")[0].endswith(domain)


@pytest.mark.parametrize(
    ("host", "domains"),
    [
        ("www.example.com", ["www.example.com", "example.com"]),
        ("WWW.Example.COM.:8443", ["www.example.com", "example.com"]),
        (
            "a.b.c.d.e.example.com",
            [
                "a.b.c.d.e.example.com",
                "b.c.d.e.example.com",
                "c.d.e.example.com",
                "d.e.example.com",
            ],
        ),
        ("localhost", []),
        ("127.0.0.1:8000", []),
        ("[::1]:8000", []),
        ("example.com; Path=/x", []),
        ("", []),
    ],
)
def test_deletion_domains(host: str, domains: list[str]) -> None:
    assert parent_domains(host) == domains


def test_refused_cookies_are_not_expired_on_a_vendors_domain() -> None:
    """B14: a preset's cookie that lives on the vendor's domain (YouTube's `YSC` on
    `.youtube.com`) is expired host-only: a Domain the site cannot set is a header the
    browser ignores."""
    data = {
        **POLICY_DATA,
        "services": [*POLICY_DATA["services"][:4], {"id": "yt", "preset": "youtube"}],
    }
    c = client(raw_app([(b"content-type", b"text/plain")]), data)
    c.post("/consent", json={"action": "reject_all"})
    c.cookies.set("YSC", "1", domain="example.com")
    expired = [h for h in c.get("/").headers.get_list("set-cookie") if h.startswith("YSC")]
    assert expired == ['YSC=""; Max-Age=0; Path=/; SameSite=Lax; Secure']


NAMES = st.sampled_from(
    ["_fbp", "_ga", "_ga_X1", "_hjSessionUser_7", "PHPSESSID", "YSC", "locale", "consent", "a b"]
) | st.text(alphabet=st.characters(codec="latin-1"), max_size=12)


@given(st.lists(st.tuples(NAMES, st.text(max_size=8)), max_size=8), st.booleans())
@settings(max_examples=300, deadline=None)
def test_deletions_expire_exactly_the_refused_trackers(
    pairs: list[tuple[str, str]], decided: bool
) -> None:
    """A1, B14: whatever the Cookie header, the undeclared trackers it carries are expired
    while their category is not allowed, nothing else undeclared is, and each header is a
    plain deletion of a name the browser sent."""
    policy = Policy.model_validate(POLICY_DATA)
    guard = CookieGuard(policy, consent_cookie="consent", undeclared="allow")
    header = "; ".join(f"{name}={value}" for name, value in pairs)
    names = cookie_names(header)
    refused = ConsentState.undecided(policy)
    if decided:
        refused = ConsentState.from_choice(
            policy, "reject_all", issued_at=ConsentState.now(), receipt_id="r" * 22
        )
    everything = ConsentState.from_choice(
        policy, "accept_all", issued_at=ConsentState.now(), receipt_id="r" * 22
    )
    out = guard.deletions(names, refused, secure=True, host="www.example.com")
    expired = {value.split("=", 1)[0] for value in out}
    owners = {n: guard.owner(n) for n in names}
    trackers = {n for n, o in owners.items() if o is None and guard.tracker(n) and n != "consent"}
    declared = {n for n, o in owners.items() if o is not None and o[0].category != "essential"}
    sendable = {n for n in trackers | declared if re.fullmatch(r"[^\x00-\x20\x7f;=,]{1,256}", n)}
    assert expired == sendable
    assert all(v.split("=", 1)[1].startswith('""; ') and "Max-Age=0" in v for v in out)
    if trackers or declared:  # the pre-check may say yes too often, never too rarely
        assert guard.may_carry_refused(header)
    assert guard.deletions(names, everything, secure=True, host="www.example.com") == []


def test_a_large_page_is_gated_in_slices_that_let_other_requests_run() -> None:
    """A page that is slow to gate (hostile markup costs far more per byte than a plain
    page, though linearly) holds the event loop for one slice at a time: other tasks run
    between the slices. The page still goes out as one piece with its length."""
    # 290 KB in the gate's strict mode (a stray end tag in SVG), every script refused.
    page = b"<svg><g></x></g></svg><p>" + b'<script data-consent="analytics"></script>' * 7_000
    app = ConsentMiddleware(
        raw_app(
            [(b"content-type", b"text/html"), (b"content-length", str(len(page)).encode())], page
        ),
        policy=Policy.model_validate(POLICY_DATA),
        secret_key=SECRET,
    )
    scope, receive, send, sent = asgi.request("GET", "/", [], [])

    async def scenario() -> int:
        ticks = 0
        done = False

        async def other_request() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(other_request())
        await asyncio.sleep(0)
        before = ticks
        await app(scope, receive, send)
        during = ticks - before
        done = True
        await task
        return during

    during = run_async(scenario())
    assert during >= len(page) // (32 * 1024) - 1
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert len(bodies) == 1 and bodies[0].get("more_body", False) is False
    start = sent[0]
    length = dict(start["headers"])[b"content-length"]
    assert int(length) == len(bodies[0]["body"])
    assert bodies[0]["body"].count(b'type="text/plain"') == 7_000


WITH_GTM: dict[str, Any] = {
    **POLICY_DATA,
    "services": [
        *POLICY_DATA["services"],
        {
            "id": "gtm",
            "category": "analytics",
            "title": "Tag Manager",
            "hosts": ["www.googletagmanager.com"],
        },
    ],
}


@pytest.mark.parametrize(
    ("link", "kept"),
    [
        (b"<https://www.googletagmanager.com/gtag/js?id=1>; rel=preload; as=script", None),
        (b'<https://www.googletagmanager.com>; rel="preconnect dns-prefetch"', None),
        (b"<https://WWW.GOOGLETAGMANAGER.COM/x>; REL=modulepreload", None),
        (
            b"</app.css>; rel=preload; as=style, "
            b"<https://www.googletagmanager.com/a>; rel=prefetch",
            b"</app.css>; rel=preload; as=style",
        ),
        (
            b'<https://www.googletagmanager.com/a>; rel=canonical; title="a, b"',
            b'<https://www.googletagmanager.com/a>; rel=canonical; title="a, b"',
        ),
        (b"</app.css>; rel=preload; as=style", b"</app.css>; rel=preload; as=style"),
        (b"garbage <https://www.googletagmanager.com/a> rel=preload", None),
    ],
)
def test_link_headers_do_not_preload_a_refused_host(link: bytes, kept: bytes | None) -> None:
    """A1, A2: `Link: <tracker>; rel=preload` makes the browser fetch the tracker (or
    connect to its host) before it reads any markup: such an entry is dropped while the
    host's service is refused, and the response varies on consent."""
    headers = [*HTML, (b"link", link)]
    c = client(raw_app(headers, b"<p>x</p>"), WITH_GTM)
    response = c.get("/")
    assert response.headers.get("link") == (None if kept is None else kept.decode())
    assert "cookie" in response.headers["vary"].lower() or kept == link
    c.post("/consent", json={"action": "save", "grant": ["gtm"]})
    assert c.get("/").headers.get("link") == link.decode()
