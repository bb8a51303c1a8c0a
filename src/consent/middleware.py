"""ConsentMiddleware: pure ASGI, wraps any ASGI application.

This module builds the middleware's `Site` and routes each request: the consent routes to
`ConsentEndpoints`, everything else to the app, with a `ConsentResponder` as its `send`.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from consent.endpoints import ConsentEndpoints
from consent.enforce import SameSite, Undeclared
from consent.etags import TAGGED
from consent.gpc import WELL_KNOWN_GPC, gpc_signal, gpc_withdrawal, reissuing, well_known_gpc
from consent.policy import Policy
from consent.receipts import ConsentLog
from consent.responder import ConsentResponder, websocket_send
from consent.site import Site
from consent.visit import SCOPE_KEY, Visit, get_consent

__all__ = ["ConsentMiddleware", "get_consent"]


class ConsentMiddleware:
    """Reads the visitor's signed consent cookie, serves the consent routes, and enforces
    the choice on every response.

    Args:
        app: the ASGI application to wrap.
        policy: the site's categories, services and cookies.
        secret_key: at least 32 random characters, or a list of keys: the first signs new
            cookies, all of them verify (key rotation).
        cookie_name: name of the consent cookie. `"__Host-consent"` locks it to this host.
        path: where the consent routes live.
        secure: the cookie's Secure flag; None sets it on https requests.
        same_site: the cookie's SameSite attribute.
        domain: the cookie's Domain (share one choice across sub-domains); None = this host.
        trusted_origins: other origins (`https://shop.example.com`) allowed to post choices.
        undeclared_cookies: what happens to a Set-Cookie the policy does not declare:
            `"allow"`, `"warn"` (pass, and log each name once) or `"block"`. One the
            catalog knows as needing consent (`_ga`, `_fbp`) waits, whatever this says,
            for the visitor to allow the policy category of the same id.
        delete_refused_cookies: expire cookies of refused services that the browser still
            sends, on every response (scripts recreate them).
        gate_html: rewrite `text/html` responses so that scripts and iframes of refused
            categories or services stay inert.
        log: a ConsentLog (e.g. `SQLiteConsentLog("consent.db")`) that keeps a receipt of
            every decision. When it cannot store one, new grants are refused with a 503 and
            the previous choice stays; refusals and withdrawals always go through.
        well_known_gpc: serve `/.well-known/gpc.json` saying the site honours Global
            Privacy Control, with this date (`"2026-11-28"`) as its `lastUpdate`; None
            (the default) serves nothing there.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        policy: Policy,
        secret_key: str | Sequence[str],
        cookie_name: str = "consent",
        path: str = "/consent",
        secure: bool | None = None,
        same_site: SameSite = "lax",
        domain: str | None = None,
        trusted_origins: Sequence[str] = (),
        undeclared_cookies: Undeclared = "warn",
        delete_refused_cookies: bool = True,
        gate_html: bool = True,
        log: ConsentLog | None = None,
        log_timeout: float = 10.0,
        well_known_gpc: str | None = None,
    ) -> None:
        self.app = app
        try:
            site = Site.build(
                policy=policy,
                secret_key=secret_key,
                cookie_name=cookie_name,
                path=path,
                secure=secure,
                same_site=same_site,
                domain=domain,
                trusted_origins=trusted_origins,
                undeclared_cookies=undeclared_cookies,
                delete_refused_cookies=delete_refused_cookies,
                gate_html=gate_html,
                log=log,
                log_timeout=log_timeout,
                well_known_gpc=well_known_gpc,
            )
        except (TypeError, ValueError) as error:
            if not _in_running_loop():
                raise
            # Built by an application on its first call: Starlette and FastAPI build their
            # middleware then, which under uvicorn is the lifespan start-up. Raised from
            # there, uvicorn's default (`--lifespan auto`) would take the error for "no
            # lifespan support", log it at INFO and answer 500 to every request; reported as
            # a failed start-up, it stops the server with the message.
            self.__class__ = _NotStarted
            self.error = error
            return
        self.site = site
        self.endpoints = ConsentEndpoints(site)

    def __repr__(self) -> str:
        return f"ConsentMiddleware(app={self.app!r}, cookie_name={self.site.cookies.name!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        site = self.site

        # This runs on every request: a dict built in C instead of a Python loop over the
        # headers, and the few this middleware reads looked up in it. (Repeated headers, as
        # HTTP/2 sends Cookie, take `_repeated`.)
        headers = scope["headers"]
        if type(headers) is not list:  # ASGI allows any iterable: read it once
            headers = scope["headers"] = list(headers)
        named = dict(headers)
        if len(named) != len(headers):
            named = _repeated(headers, site.accept_encoding)
        header = named.get(b"cookie", b"")
        cookies = site.reader.known.get(header) or site.reader.read(header)
        raw, copies, _, current = cookies
        accept = named.get(b"accept-language")
        language = site.negotiate(accept.decode("latin-1")) if accept else None
        gpc = b"sec-gpc" in named and gpc_signal(named[b"sec-gpc"])
        state = None
        if current is not None and not gpc and (language is None or language == site.language):
            # A valid cookie seen before: its state is known while it lasts (expired, or
            # from the future: decoded again, and refused).
            state, since, until = current
            if not since <= time.time() <= until:
                state = None
        # Which route: a consent route (answered here), or a page of the app.
        path: str = scope["path"]
        route = None
        if kind == "http" and (site.path in path or site.well_known_gpc is not None):
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            if path == WELL_KNOWN_GPC and site.well_known_gpc is not None:
                await well_known_gpc(site.well_known_gpc, send)
                return
            if self.endpoints.handles(path):
                route = path
        responder = None
        if kind == "http" and route is None:
            # A page of the app: its visit is also the `send` that enforces the consent.
            responder = ConsentResponder(site, scope, header, cookies, gpc, language, state, send)
            visit: Visit = responder
        else:
            visit = Visit(site, raw, gpc, language, copies, state)
        scope[SCOPE_KEY] = visit
        match = named.get(b"if-none-match")
        if match is not None and match.find(TAGGED) >= 0:
            visit.revalidated = site.tags.revalidating(scope, visit.state)
        if (
            gpc
            and raw
            and kind == "http"
            and site.policy.gpc_ids
            and not (route is not None and scope["method"] == "POST")
        ):
            await gpc_withdrawal(site, visit, scope)
        if responder is None:
            if kind == "websocket":
                await self.app(scope, receive, websocket_send(send, visit))
                return
            assert route is not None
            if visit.reissue is not None:
                send = reissuing(site, send, visit, scope)
            await self.endpoints(scope, receive, send, route)
            return

        codings = named.get(b"accept-encoding")
        trim = site.accept_encoding
        if codings is not None and site.gate_html and trim(codings) != codings:
            # An HTML page in a coding the middleware cannot decode is refused: the app is
            # asked for none of those.
            scope["headers"] = [
                (key, trim(value) if key == b"accept-encoding" else value)
                for key, value in scope["headers"]
            ]
        try:
            await self.app(scope, receive, responder.send)
        finally:
            # The scope holds the responder, which held the scope: without this, every
            # request would leave a reference cycle for the garbage collector to find.
            responder.scope = _DONE


_DONE: Scope = {}  # the scope of a finished response (see `__call__`)


def _in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _NotStarted(ConsentMiddleware):
    """A ConsentMiddleware whose options were refused while an application built it (see
    `ConsentMiddleware.__init__`): it fails the lifespan start-up with the error's message,
    and raises the error for any request (a server without lifespan answers 500)."""

    error: TypeError | ValueError

    def __repr__(self) -> str:
        return f"ConsentMiddleware(app={self.app!r}, not started: {self.error})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            if message["type"] == "lifespan.startup":
                failed = (
                    f"ConsentMiddleware cannot start: {type(self.error).__name__}: {self.error}"
                )
                await send({"type": "lifespan.startup.failed", "message": failed})
        # A fresh copy each time: raising one exception object again and again would grow
        # its traceback by every request.
        raise copy.copy(self.error) from None


def _repeated(
    headers: Iterable[tuple[bytes, bytes]], trim: Callable[[bytes], bytes]
) -> dict[bytes, bytes]:
    """The request headers the middleware reads, when some name comes more than once:
    Cookie fields joined with `; ` (HTTP/2 sends one per cookie), If-None-Match lists
    joined, the Global Privacy Control signal if any field carries it, an Accept-Encoding
    that the middleware must trim if any must be; otherwise the last field. (Joined once
    at the end: time linear in the headers, however many Cookie fields there are.)"""
    named: dict[bytes, bytes] = {}
    lists: dict[bytes, list[bytes]] = {b"cookie": [], b"if-none-match": []}
    for key, value in headers:
        if key in lists:
            lists[key].append(value)
        elif key in named:
            if key == b"sec-gpc" and gpc_signal(named[key]):
                continue
            if key == b"accept-encoding" and trim(named[key]) != named[key]:
                continue
        named[key] = value
    if lists[b"cookie"]:
        named[b"cookie"] = b"; ".join(lists[b"cookie"])
    if lists[b"if-none-match"]:
        named[b"if-none-match"] = b", ".join(lists[b"if-none-match"])
    return named
