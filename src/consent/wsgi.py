"""ConsentWSGIMiddleware: ConsentMiddleware's behaviour around any WSGI (PEP 3333)
application: Flask, Django under gunicorn, a bare callable.

Nothing is restated: the request is read into an ASGI-style scope (`EnvironReader`) and goes
through the same `arrive`, `ConsentResponder` and `ConsentEndpoints` as under ASGI.

* A page of the app runs in the server's thread, as the app always does. The responder's
  coroutines never suspend there (their `send` collects messages in a list), so they are
  driven to their end with `send(None)`, without an event loop (`_drive`).
* The consent routes and a Global Privacy Control withdrawal await the consent log: they
  run on the middleware's one event loop, in a thread of its own (`LoopThread`), while
  the server's thread waits for their answer. The request body is read before, in the
  server's thread, never more than the routes accept.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Iterable, Iterator
from http import HTTPStatus
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from consent.arrival import arrive
from consent.endpoints import ConsentEndpoints
from consent.gpc import WELL_KNOWN_GPC, gpc_withdrawal, reissuing
from consent.middleware import DONE, ConsentMiddleware
from consent.responder import ConsentResponder
from consent.site import Site
from consent.visit import ENVIRON_KEY, Visit
from consent.wsgi_loop import LoopThread
from consent.wsgi_request import Environ, EnvironReader, read_body

__all__ = ["ConsentWSGIMiddleware", "WSGIApp"]

StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
"""A PEP 3333 application."""


class ConsentWSGIMiddleware:
    """ConsentMiddleware for a WSGI application: the same keyword arguments, with the same
    defaults (they are ConsentMiddleware's: see its documentation), and the same behaviour.

    The request's consent is in `environ["consent.visit"]` (`consent.visit.ENVIRON_KEY`),
    where `get_consent(request)` and `consent_html(request)` find it.

    Args:
        app: the WSGI application to wrap.
        **options: ConsentMiddleware's keyword arguments (`policy`, `secret_key`, ...).
    """

    def __init__(self, app: WSGIApp, **options: Any) -> None:
        self.app = app
        # ConsentMiddleware's signature is the one list of options and their defaults.
        bound = inspect.signature(ConsentMiddleware).bind(_no_app, **options)
        bound.apply_defaults()
        del bound.arguments["app"]
        self.site = Site.build(**bound.arguments)
        self.endpoints = ConsentEndpoints(self.site)
        self._handles = self.endpoints.handles
        self._reader = EnvironReader()
        self.loop = LoopThread()
        """Where the consent routes and GPC withdrawals run (started on first use)."""

    def __repr__(self) -> str:
        return f"ConsentWSGIMiddleware(app={self.app!r}, cookie_name={self.site.cookies.name!r})"

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        site = self.site
        scope = self._reader.scope(environ)
        exchange = _Exchange(start_response)
        arrival = arrive(site, scope, exchange.collect, self._handles, _WSGIResponder)
        visit, responder, route, withdraw, trimmed = arrival
        environ[ENVIRON_KEY] = visit
        if route == WELL_KNOWN_GPC:
            assert site.well_known_gpc is not None
            return _answer(start_response, 200, site.well_known_gpc, _GPC_HEADERS)
        if withdraw:
            self.loop.run(gpc_withdrawal(site, visit, scope))
        if responder is None:
            assert route is not None
            return self._route(environ, scope, visit, route, start_response)
        if trimmed is not None:
            # Codings the gate cannot decode are not offered to the app.
            environ["HTTP_ACCEPT_ENCODING"] = trimmed.decode("latin-1")
        if visit.revalidated:
            # The entity tags made for this consent, as the app wrote them.
            environ["HTTP_IF_NONE_MATCH"] = b", ".join(
                value for key, value in scope["headers"] if key == b"if-none-match"
            ).decode("latin-1")
        exchange.responder = responder
        try:
            result = self.app(environ, exchange.start_response)
        except BaseException:
            responder.scope = DONE
            raise
        return exchange.respond(result)

    def _route(
        self,
        environ: Environ,
        scope: Scope,
        visit: Visit,
        route: str,
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        """A consent route, answered on the loop thread."""
        site = self.site
        body = read_body(environ, site.max_body_size) if scope["method"] == "POST" else b""
        messages: list[Message] = []
        given = False

        async def receive() -> Message:
            nonlocal given
            if given:
                return {"type": "http.disconnect"}
            given = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def collect(message: Message) -> None:
            messages.append(message)

        send: Send = collect
        if visit.reissue is not None:
            send = reissuing(site, send, visit, scope)
        self.loop.run(self.endpoints(scope, receive, send, route))
        start = messages[0]
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
        start_response(_status_line(start["status"]), headers)
        return [b"".join(m.get("body", b"") for m in messages[1:])]


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("never called: it stands for the WSGI app in the signature")


class _WSGIResponder(ConsentResponder):
    """The responder of a WSGI page: it runs without an event loop, so it never pauses."""

    __slots__ = ()

    async def pause(self) -> None:
        """Nothing to let run: the server's thread belongs to this request."""


def _drive(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never suspends (the responder's, collecting into a list)."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("the consent responder suspended outside an event loop")


class _Exchange:
    """One page's response between the app and the server: the `start_response` and
    `write` the app gets, and what the responder made of them."""

    __slots__ = ("app_start", "out", "responder", "server_start", "server_write", "start")

    def __init__(self, server_start: StartResponse) -> None:
        self.server_start = server_start
        self.server_write: Callable[[bytes], object] | None = None  # once the server started
        self.app_start: tuple[str, list[tuple[str, str]]] | None = None
        self.start: Message | None = None  # the start message given to the responder
        self.out: list[Message] = []  # what the responder sent
        self.responder: ConsentResponder | None = None

    async def collect(self, message: Message) -> None:
        """The responder's `send`: never suspends."""
        self.out.append(message)

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        """The app's `start_response`: kept until the body (or the app's return) comes."""
        if exc_info is not None:
            try:
                if self.start is not None:
                    # The responder has read the first headers: they stand.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # (no reference cycle through the traceback)
        elif self.app_start is not None:
            raise RuntimeError("start_response was called twice without exc_info (PEP 3333)")
        self.app_start = (status, headers)
        return self.write

    def write(self, data: bytes) -> None:
        """The app's `write` (PEP 3333's imperative body): sent through the responder."""
        if self.start is None:
            self._feed_start()
        if data:
            self._feed(data, more=True)
        for chunk in self.drain():
            assert self.server_write is not None
            self.server_write(chunk)

    def respond(self, result: Iterable[bytes]) -> Iterable[bytes]:
        """What the server gets for the app's iterable `result`."""
        responder = self.responder
        assert responder is not None
        if self.start is None:
            if self.app_start is None:
                return _Body(self, result)  # start_response comes with the first chunk
            self._feed_start()
        if responder.body is None:
            # Only the headers change, if anything: the body goes as the app made it
            # (a `wsgi.file_wrapper` stays one).
            self.drain()
            responder.scope = DONE
            return result
        return _Body(self, result)

    def _feed_start(self) -> None:
        if self.app_start is None:
            raise RuntimeError("the WSGI app sent its body before calling start_response")
        status, headers = self.app_start
        code = int(status[:3])
        lowered = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        self.start = {"type": "http.response.start", "status": code, "headers": lowered}
        assert self.responder is not None
        _drive(self.responder.send(self.start))

    def _feed(self, data: bytes, more: bool) -> None:
        message = {"type": "http.response.body", "body": data, "more_body": more}
        assert self.responder is not None
        _drive(self.responder.send(message))

    def drain(self) -> list[bytes]:
        """The body bytes the responder sent since the last call, the server started first
        when the start message is among them."""
        chunks = []
        for message in self.out:
            if message["type"] == "http.response.start":
                self._start_server(message)
            elif message.get("body"):
                chunks.append(message["body"])
        self.out.clear()
        return chunks

    def _start_server(self, message: Message) -> None:
        assert self.app_start is not None
        if message is self.start:  # unchanged: the app's own status and headers
            self.server_write = self.server_start(*self.app_start)
            return
        status, _ = self.app_start
        line = status if message["status"] == int(status[:3]) else _status_line(message["status"])
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]]
        self.server_write = self.server_start(line, headers)


class _Body:
    """The body of a gated page (or one whose app starts its response late): the app's
    chunks through the responder. The last chunk is held until the next one comes, so that
    a body in one chunk reaches the gate whole (its length stays known)."""

    __slots__ = ("_exchange", "_held", "_iterator", "_result")

    def __init__(self, exchange: _Exchange, result: Iterable[bytes]) -> None:
        self._exchange = exchange
        self._result = result
        self._iterator: Iterator[bytes] | None = None
        self._held: bytes | None = None

    def __iter__(self) -> Iterator[bytes]:
        exchange = self._exchange
        self._iterator = iterator = iter(self._result)
        for chunk in iterator:
            if exchange.start is None:
                exchange._feed_start()
                if exchange.responder is not None and exchange.responder.body is None:
                    yield from exchange.drain()  # (the server starts)
                    yield chunk
                    yield from iterator  # nothing to gate: as the app sends it
                    return
            if not chunk:
                continue
            if self._held is not None:
                exchange._feed(self._held, more=True)
                pieces = exchange.drain()
                if pieces:
                    yield b"".join(pieces)
                body = exchange.responder.body if exchange.responder else None
                if body is not None and body.done:
                    return  # an error page was sent instead: the rest is not read
            self._held = chunk
        if exchange.start is None:
            exchange._feed_start()
        held, self._held = self._held, None
        exchange._feed(held or b"", more=False)
        pieces = exchange.drain()
        if pieces:
            yield b"".join(pieces)

    def close(self) -> None:
        """Close the app's iterable (PEP 3333: always, however the response ended)."""
        responder = self._exchange.responder
        if responder is not None:
            responder.scope = DONE
        close = getattr(self._result, "close", None)
        if close is not None:
            close()


def _answer(
    start_response: StartResponse, status: int, body: bytes, headers: list[tuple[str, str]]
) -> list[bytes]:
    start_response(_status_line(status), [*headers, ("Content-Length", str(len(body)))])
    return [body]


_GPC_HEADERS = [("Content-Type", "application/json"), ("Cache-Control", "public, max-age=86400")]


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"
