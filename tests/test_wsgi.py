"""ConsentWSGIMiddleware around a plain PEP 3333 application: the same behaviour as
ConsentMiddleware (routes, cookie filtering, deletion, gating, entity tags, receipts, GPC,
languages), and PEP 3333 kept on both sides (start_response with exc_info, write(), close(),
wsgi.file_wrapper, the wsgiref validator). Flask: tests/test_flask.py."""

from __future__ import annotations

import copy
import io
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent import ConsentState, Policy, consent_html, get_consent
from consent.receipts import SQLiteConsentLog
from consent.signing import ConsentCodec, new_receipt_id
from consent.visit import ENVIRON_KEY, Visit
from consent.wsgi import ConsentWSGIMiddleware
from consent.wsgi_request import EnvironReader
from tests.conftest import POLICY_DATA, SECRET
from tests.test_receipts_middleware import all_receipts

DATA = copy.deepcopy(POLICY_DATA)
DATA["categories"][2]["gpc_opt_out"] = True  # marketing (YouTube)
DATA["languages"] = ["en", "de"]
POLICY = Policy.model_validate(DATA)
CODEC = ConsentCodec(POLICY, SECRET)
SCRIPT = b'<script data-consent="analytics" src="/a.js"></script>'
PAGE = b"<!doctype html><title>t</title><p>news</p>" + SCRIPT
Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
App = Callable[[Environ, StartResponse], Iterable[bytes]]


def consent_of(environ: Environ) -> ConsentState:
    """The request's consent, as an app reads it from its environ (marking `Vary`)."""
    state = get_consent(environ)
    assert isinstance(environ[ENVIRON_KEY], Visit)  # where the documentation says it is
    return state


def cookie(action: str = "accept_all", grant: tuple[str, ...] = ()) -> str:
    state = ConsentState.from_choice(
        POLICY,
        action,  # type: ignore[arg-type]
        list(grant),
        issued_at=ConsentState.now(),
        receipt_id=new_receipt_id(),
    )
    return CODEC.encode(state)


def html_app(
    chunks: Iterable[bytes] = (PAGE,),
    headers: Iterable[tuple[str, str]] = (),
    status: str = "200 OK",
    ctype: str = "text/html; charset=utf-8",
) -> App:
    """A page: `chunks` as the body, `headers` besides its Content-Type."""

    body = list(chunks)
    length = ("Content-Length", str(sum(map(len, body))))

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, [("Content-Type", ctype), length, *headers])
        return body

    return app


def wrap(app: App, **options: Any) -> ConsentWSGIMiddleware:
    return ConsentWSGIMiddleware(app, policy=POLICY, secret_key=SECRET, **options)


def client(app: App, **options: Any) -> httpx.Client:
    transport = httpx.WSGITransport(app=wrap(app, **options))
    return httpx.Client(transport=transport, base_url="http://testserver")


def test_the_options_are_consent_middleware_s_own() -> None:
    """One list of options: a bad one is refused with ConsentMiddleware's message."""
    with pytest.raises(ValueError, match="path must look like '/consent'"):
        wrap(html_app(), path="consent/")
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        wrap(html_app(), colour="red")
    middleware = wrap(html_app(), cookie_name="__Host-consent")
    assert middleware.site.cookies.name == "__Host-consent"
    assert "__Host-consent" in repr(middleware) and SECRET not in repr(middleware)


def test_a_gated_page_is_inert_then_active_after_a_form_accept() -> None:
    """A1, C1, B13: inert before a choice, active after accept, withdrawn by reject."""
    c = client(html_app())
    first = c.get("/")
    assert first.status_code == 200
    assert b'<script type="text/plain" data-consent="analytics"' in first.content
    assert first.headers["vary"] == "Cookie, Sec-GPC"
    assert int(first.headers["content-length"]) == len(first.content)
    assert "set-cookie" not in first.headers

    accepted = c.post("/consent", data={"action": "accept_all", "next": "/news"})
    assert accepted.status_code == 303 and accepted.headers["location"] == "/news"
    assert accepted.headers["set-cookie"].startswith("consent=")
    assert SCRIPT in c.get("/").content

    c.post("/consent", data={"action": "reject_all"})
    assert b'type="text/plain"' in c.get("/").content


def test_json_accept_reject_and_save() -> None:
    c = client(html_app())
    saved = c.post("/consent", json={"action": "save", "grant": ["youtube"]})
    assert saved.status_code == 200 and saved.headers["cache-control"] == "no-store"
    assert saved.json()["services"] == ["php-session", "wordpress", "youtube"]
    assert c.get("/consent/state").json()["granted"] == ["essential"]
    assert c.post("/consent", json={"action": "accept_all"}).json()["refused"] == []
    rejected = c.post("/consent", json={"action": "reject_all"}).json()
    assert rejected["granted"] == ["essential"] and rejected["decided"] is True


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"referer": "https://evil.example/page"},
    ],
)
def test_a_cross_site_post_is_refused(headers: dict[str, str]) -> None:
    """A4: the routes keep their own same-origin checks."""
    c = client(html_app())
    for answer in (
        c.post("/consent", data={"action": "accept_all"}, headers=headers),
        c.post("/consent", json={"action": "accept_all"}, headers=headers),
    ):
        assert answer.status_code == 403
        assert "set-cookie" not in answer.headers
    same = c.post(
        "/consent", json={"action": "accept_all"}, headers={"origin": "http://testserver"}
    )
    assert same.status_code == 200


def test_refused_set_cookie_is_dropped_and_refused_cookies_expired() -> None:
    """A2, A3: an optional service's Set-Cookie waits for consent; cookies it left are
    expired; essential ones pass."""
    app = html_app(
        [b"<p>x</p>"], [("Set-Cookie", "_ga=GA1.1; Path=/"), ("Set-Cookie", "PHPSESSID=1")]
    )
    c = client(app)
    answer = c.get("/", headers={"cookie": "_ga=GA1.old; YSC=v"})
    set_cookies = answer.headers.get_list("set-cookie")
    assert "PHPSESSID=1" in set_cookies
    assert not any(v.startswith("_ga=GA1.1") for v in set_cookies)
    expired = {v.split("=", 1)[0] for v in set_cookies if "Max-Age=0" in v}
    assert expired == {"_ga", "YSC"}
    c.cookies.set("consent", cookie())
    assert "_ga=GA1.1; Path=/" in c.get("/").headers.get_list("set-cookie")


def test_planted_copies_of_the_consent_cookie_are_expired() -> None:
    """E2: two consent cookies in one request: only what both grant, and the copies expired."""
    c = client(html_app())
    both = f"consent={cookie()}; consent={cookie('reject_all')}"
    answer = c.get("http://www.example.com/news/", headers={"cookie": both})
    assert b'type="text/plain"' in answer.content
    expired = [v for v in answer.headers.get_list("set-cookie") if v.startswith('consent="";')]
    assert any("Domain=example.com" in v for v in expired)
    assert any(v.endswith("Path=/news") for v in expired)


def test_streamed_html_is_gated_across_chunk_boundaries() -> None:
    """C1: a script tag split over the chunks of a streamed body stays inert."""
    page = PAGE * 3
    for size in (1, 7, 40):
        chunks = [page[i : i + size] for i in range(0, len(page), size)]
        answer = client(html_app(chunks)).get("/")
        assert answer.content.count(b'<script type="text/plain" data-consent="analytics"') == 3
        assert "content-length" not in answer.headers  # streamed: the length changes


@given(st.binary(max_size=200), st.integers(min_value=1, max_value=50))
@settings(max_examples=50, deadline=None)
def test_any_body_in_any_chunks_gives_the_one_piece_answer(body: bytes, size: int) -> None:
    """Chunked or whole, the gate writes the same bytes; bad bytes never give a 500."""
    chunks = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    whole = client(html_app([body])).get("/")
    split = client(html_app(chunks)).get("/")
    assert whole.status_code == split.status_code == 200
    assert whole.content == split.content


def test_a_tampered_cookie_is_undecided_and_never_a_500() -> None:
    """E1: a changed signature means no decision."""
    seen: list[ConsentState] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(consent_of(environ))
        return html_app()(environ, start_response)

    value = cookie()
    tampered = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    for bad in (tampered, "x" * 5000, "1.%%%.\x7f", value + value):
        answer = client(app).get("/", headers={"cookie": f"consent={bad}"})
        assert answer.status_code == 200 and b'type="text/plain"' in answer.content
        assert not seen.pop().decided


def test_a_head_request_claims_no_wrong_length() -> None:
    """B14: HEAD of a gated page: no body, and not the ungated page's length."""
    page = PAGE

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", "999")])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [page]

    answer = client(app).head("/")
    assert answer.status_code == 200 and answer.content == b""
    assert "content-length" not in answer.headers and "Cookie" in answer.headers["vary"]


def test_entity_tags_name_the_consent_and_a_304_stays_possible() -> None:
    """B14: the ETag names the consent; the app sees its own tag back and answers 304."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_IF_NONE_MATCH") == '"v1"':
            start_response("304 Not Modified", [("ETag", '"v1"')])
            return []
        start_response("200 OK", [("Content-Type", "text/html"), ("ETag", '"v1"')])
        return [PAGE]

    c = client(app)
    first = c.get("/")
    etag = first.headers["etag"]
    assert etag.startswith('"v1-consent-')
    again = c.get("/", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    c.post("/consent", json={"action": "accept_all"})
    changed = c.get("/", headers={"if-none-match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_receipts_are_written_into_a_real_sqlite_file(tmp_path: Path) -> None:
    """D1: every decision through the WSGI routes leaves a receipt (on the loop thread)."""
    path = tmp_path / "consent.db"
    c = client(html_app(), log=SQLiteConsentLog(path))
    c.post("/consent", data={"action": "accept_all"}, headers={"user-agent": "Test/1"})
    c.post("/consent", json={"action": "reject_all"})
    receipts = {r.method: r for r in all_receipts(SQLiteConsentLog(path))}
    assert set(receipts) == {"accept_all", "withdrawal"}
    assert receipts["withdrawal"].previous_id == receipts["accept_all"].id
    stored = CODEC.decode(c.cookies["consent"])
    assert stored.receipt_id == receipts["withdrawal"].id


def test_gpc_withdraws_a_stored_grant_with_a_receipt(tmp_path: Path) -> None:
    """F1, F2, F5: Sec-GPC on a page withdraws marketing for good, with a "gpc" receipt,
    and the new cookie comes with the page."""
    path = tmp_path / "consent.db"
    seen: list[ConsentState] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(consent_of(environ))
        return html_app()(environ, start_response)

    c = client(app, log=SQLiteConsentLog(path))
    c.post("/consent", json={"action": "accept_all"})
    answer = c.get("/", headers={"sec-gpc": "1"})
    assert not seen[-1].allows("marketing") and seen[-1].allows("analytics")
    assert not CODEC.decode(c.cookies["consent"]).allows("marketing")
    assert "consent=" in answer.headers["set-cookie"]
    receipts = all_receipts(SQLiteConsentLog(path))
    assert {(r.method, r.source) for r in receipts} == {
        ("accept_all", "visitor"),
        ("withdrawal", "gpc"),
    }
    c.get("/")  # without the signal: still withdrawn
    assert not seen[-1].allows("marketing")


def test_well_known_gpc_json() -> None:
    """F7"""
    answer = client(html_app(), well_known_gpc="2026-11-28").get("/.well-known/gpc.json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert json.loads(answer.content) == {"gpc": True, "lastUpdate": "2026-11-28"}
    assert client(html_app()).get("/.well-known/gpc.json").content == PAGE.replace(
        SCRIPT, SCRIPT.replace(b"<script ", b'<script type="text/plain" ')
    )


def test_languages_follow_accept_language() -> None:
    """G1: the routes speak the visitor's language and say they vary on it."""
    c = client(html_app())
    page = c.get("/consent", headers={"accept-language": "de-CH, en;q=0.5"})
    assert '<html lang="de"' in page.text
    assert c.get("/consent/state", headers={"accept-language": "de"}).json()["language"] == "de"


def test_the_consent_routes_are_found_under_script_name() -> None:
    """A WSGI app mounted at /shop: its routes are /shop/consent..., and next stays on it."""
    app = wrap(html_app())
    environ = _environ("/consent/state", SCRIPT_NAME="/shop")
    status, _, body = _call(app, environ)
    assert status.startswith("200") and json.loads(body)["decided"] is False
    status, _, body = _call(app, _environ("/news/consent/state", SCRIPT_NAME="/shop"))
    assert b"script" in body  # not the consent routes of this mount: a page of the app


def test_the_routes_bound_the_body() -> None:
    """A request body over the limit is refused with 413 and never read past it; a
    Content-Length that is not a number, with 400."""
    app = wrap(html_app())
    big = io.BytesIO(b"x" * 10**6)
    environ = _environ(
        "/consent",
        REQUEST_METHOD="POST",
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=str(10**6),
    )
    environ["wsgi.input"] = big
    assert _call(app, environ)[0].startswith("413") and big.tell() == 0
    environ = _environ("/consent", REQUEST_METHOD="POST", CONTENT_TYPE="application/json")
    environ["CONTENT_LENGTH"] = "1e3"
    assert _call(app, environ)[0].startswith("400")
    chunked = io.BytesIO(b"y" * 10**6)
    environ = _environ("/consent", REQUEST_METHOD="POST", CONTENT_TYPE="application/json")
    environ.update({"wsgi.input": chunked, "wsgi.input_terminated": True})
    assert _call(app, environ)[0].startswith("413") and chunked.tell() <= 64 * 1024 + 1


def test_codings_the_gate_cannot_read_are_not_offered_to_the_app() -> None:
    seen: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(environ.get("HTTP_ACCEPT_ENCODING", ""))
        return html_app()(environ, start_response)

    client(app).get("/", headers={"accept-encoding": "zstd, gzip"})
    assert seen == ["gzip"]


def test_the_routes_run_on_one_loop_thread_started_on_first_use() -> None:
    app = wrap(html_app())
    assert "not started" in repr(app.loop)
    client_ = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://testserver")
    client_.get("/")
    assert "not started" in repr(app.loop)  # a page needs no loop
    names: set[str] = set()
    for _ in range(3):
        client_.post("/consent", json={"action": "accept_all"})
        names.update(t.name for t in threading.enumerate() if t.name == "consent-wsgi-loop")
    assert "running" in repr(app.loop)
    app.loop.close()
    assert "not started" in repr(app.loop)
    assert client_.get("/consent/state").status_code == 200  # started again


# PEP 3333, both sides.


def _environ(path: str, **extra: Any) -> Environ:
    environ: Environ = {"PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "", **extra}
    setup_testing_defaults(environ)
    return environ


def _call(app: App, environ: Environ) -> tuple[str, list[tuple[str, str]], bytes]:
    got: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got[:] = [status, headers]
        return lambda data: got.append(data)

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return got[0], got[1], b"".join(got[2:]) + body


def _ignore(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


class Closing:
    """An app iterable that notes whether it was closed."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("ctype", ["text/html", "text/plain"])
def test_close_is_called_gated_or_not(ctype: str) -> None:
    body = Closing([PAGE])

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", ctype)])
        return body

    status, _, out = _call(wrap(app), _environ("/"))
    assert status == "200 OK" and body.closed
    assert (b'type="text/plain"' in out) == (ctype == "text/html")


def test_close_is_called_when_the_server_stops_early() -> None:
    body = Closing([PAGE, PAGE])

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        return body

    result = wrap(app)(_environ("/"), _ignore)
    close = getattr(result, "close", None)
    assert close is not None
    close()  # (closed before the first chunk was asked for)
    assert body.closed


def test_a_file_wrapper_passes_through_for_other_bodies() -> None:
    class FileWrapper:
        def __init__(self, file: io.BytesIO, size: int = 8192) -> None:
            self.file = file

        def __iter__(self) -> Iterator[bytes]:
            return iter([self.file.read()])

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        ctype = "text/html" if environ["PATH_INFO"] == "/page" else "application/pdf"
        start_response("200 OK", [("Content-Type", ctype), ("Set-Cookie", "_ga=1")])
        return environ["wsgi.file_wrapper"](io.BytesIO(PAGE))  # type: ignore[no-any-return]

    middleware = wrap(app)
    environ = _environ("/file", **{"wsgi.file_wrapper": FileWrapper})
    result = middleware(environ, _ignore)
    assert isinstance(result, FileWrapper)  # the server may still send it by sendfile
    _, headers, _ = _call(middleware, _environ("/file", **{"wsgi.file_wrapper": FileWrapper}))
    assert ("Set-Cookie", "_ga=1") not in headers  # the headers are still enforced
    page = _call(middleware, _environ("/page", **{"wsgi.file_wrapper": FileWrapper}))[2]
    assert b'type="text/plain"' in page  # HTML is read, and gated


def test_write_is_gated_like_the_iterable() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/html")])
        write(PAGE[:50])
        write(PAGE[50:])
        return [b"<p>end</p>"]

    _, _, body = _call(wrap(app), _environ("/"))
    assert body == PAGE.replace(b"<script ", b'<script type="text/plain" ') + b"<p>end</p>"


def test_start_response_with_exc_info() -> None:
    """Before the headers are read the error page replaces them (and is enforced); after,
    the app's exception is raised again."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            start_response(
                "500 Internal Server Error",
                [("Set-Cookie", "_ga=1"), ("Content-Type", "text/html")],
                sys.exc_info(),
            )
        return [SCRIPT]

    status, headers, body = _call(wrap(app), _environ("/"))
    assert status == "500 Internal Server Error" and b'type="text/plain"' in body
    assert ("Set-Cookie", "_ga=1") not in headers

    def late(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"sent")
        try:
            raise ValueError("late")
        except ValueError:
            import sys

            start_response("500 Internal Server Error", [], sys.exc_info())
        return []

    with pytest.raises(ValueError, match="late"):
        _call(wrap(late), _environ("/"))


def test_the_wsgiref_validator_passes_on_both_sides() -> None:
    """The middleware is a conforming server for the app and a conforming app for the
    server: wsgiref's validator wraps both."""
    streamed = [PAGE[:30], PAGE[30:]]

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/text":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"plain"]
        write = start_response("200 OK", [("Content-Type", "text/html")])
        if path == "/write":
            write(PAGE)
            return []
        return Closing(streamed)

    checked = validator(wrap(validator(app)))
    for path in ("/", "/text", "/write", "/consent/state", "/consent"):
        status = _call(checked, _environ(path))[0]
        assert status.startswith("200"), (path, status)
    environ = _environ(
        "/consent",
        REQUEST_METHOD="POST",
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH="25",
    )
    environ["wsgi.input"] = io.BytesIO(b'{"action": "accept_all"}')
    status, headers, _ = _call(checked, environ)
    assert status.startswith("200") and any(k == "set-cookie" for k, _ in headers)


def test_a_plain_wsgi_app_builds_its_page_from_the_environ() -> None:
    """`consent_html(environ)`: the parts without a framework, the forms returning to the
    page under its SCRIPT_NAME (percent-encoded as the browser asked for it)."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        parts = consent_html(environ)
        page = f"<html><head>{parts.head()}</head><body>{parts.banner()}"
        page += f"{parts.script('analytics', src='/a.js')}{parts.settings_link()}</body></html>"
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [page.encode()]

    middleware = ConsentWSGIMiddleware(
        app, policy=Policy.model_validate(POLICY_DATA), secret_key=SECRET
    )
    status, headers, body = _call(
        middleware, _environ("/caf\xc3\xa9", SCRIPT_NAME="/shop", QUERY_STRING="a=1")
    )
    html = body.decode()
    assert status.startswith("200") and "data-consent-banner" in html
    assert 'action="/shop/consent"' in html
    assert 'name="next" value="/shop/caf%C3%A9?a=1"' in html
    assert '<script data-consent="analytics" src="/a.js" type="text/plain">' in html
    assert {k.lower(): v for k, v in headers}["vary"].startswith("Cookie")


def test_the_scope_reads_the_environ_as_pep_3333_writes_it() -> None:
    """Paths and header values are the request's bytes as latin-1 text: the path is
    decoded from UTF-8 as an ASGI server decodes it, the headers keep their bytes."""
    from consent.wsgi_request import wsgi_scope

    environ = _environ(
        "/caf\xc3\xa9",
        SCRIPT_NAME="/shop",
        HTTP_ACCEPT_LANGUAGE="de",
        HTTP_X_NAME="\xe9t\xe9",
        CONTENT_TYPE="text/plain",
    )
    scope = wsgi_scope(environ)
    assert scope["path"] == "/shop/café" and scope["root_path"] == "/shop"
    headers = dict(scope["headers"])
    assert headers[b"x-name"] == b"\xe9t\xe9" and headers[b"accept-language"] == b"de"
    assert headers[b"content-type"] == b"text/plain" and b"content-length" not in headers


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "HTTP_COOKIE",
                "HTTP_ACCEPT_LANGUAGE",
                "HTTP_SEC_GPC",
                "HTTP_IF_NONE_MATCH",
                "HTTP_ACCEPT_ENCODING",
                "PATH_INFO",
                "SCRIPT_NAME",
                "SERVER_PORT",
                "REMOTE_PORT",
            ]
        ),
        st.text(st.characters(max_codepoint=255), max_size=40),
    )
)
@settings(max_examples=100, deadline=None)
def test_any_environ_text_is_answered_without_an_error(fields: dict[str, str]) -> None:
    """Whatever latin-1 text a server puts in these keys: an answer, never an exception."""
    environ = _environ("/")
    environ.update(fields)
    status, _, _ = _call(wrap(html_app()), environ)
    assert status[:3] in ("200", "404")


ENVIRON_KEYS = [
    *("HTTP_COOKIE", "HTTP_HOST", "HTTP_SEC_GPC", "HTTP_X_A", "HTTP_X_B", "REMOTE_ADDR"),
    *("wsgi.input", "HTTP_CONTENT_TYPE", "SERVER_NAME", "HTTP_ACCEPT_LANGUAGE"),
]


class _SmallReader(EnvironReader):
    SIZE = 6  # full after a few requests: the memo starts again


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(ENVIRON_KEYS),
            st.text(st.characters(max_codepoint=255), max_size=8),
            max_size=8,
        ),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from([EnvironReader, _SmallReader]),
)
def test_the_environ_reader_s_memo_never_changes_a_request_s_headers(
    environs: list[dict[str, str]], kind: type[EnvironReader]
) -> None:
    """What a reader remembers of earlier requests' keys (and forgets when full) never
    adds, drops or renames a header of the next request."""
    shared = kind()
    for environ in environs:
        expected = sorted(EnvironReader().headers(environ))
        assert sorted(shared.headers(environ)) == expected
        names = {name for name, _ in expected}
        assert b"content-type" not in names  # read from CONTENT_TYPE only (PEP 3333)
        assert names == {
            key[5:].lower().replace("_", "-").encode()
            for key in environ
            if key.startswith("HTTP_") and key != "HTTP_CONTENT_TYPE"
        }
