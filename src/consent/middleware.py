"""ConsentMiddleware: pure ASGI, wraps any ASGI application.

This module builds the middleware's `Site` and routes each request (read by
`consent.arrival.arrive`, which the WSGI middleware shares): the consent routes to
`ConsentEndpoints`, everything else to the app, with a `ConsentResponder` as its `send`.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from types import FrameType

from starlette.types import ASGIApp, Receive, Scope, Send

from consent.arrival import arrive
from consent.endpoints import ConsentEndpoints
from consent.enforce import SameSite, Undeclared
from consent.gpc import WELL_KNOWN_GPC, gpc_withdrawal, reissuing, well_known_gpc
from consent.policy import Policy
from consent.receipts import ConsentLog
from consent.responder import websocket_send
from consent.site import Site
from consent.visit import get_consent

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
        shared_cache: let a shared cache (Varnish, nginx, a CDN: `consent edge`) keep
            gated pages per consent variant instead of per visitor: pages that depend on
            consent say `Consent-Variant`, visitors get a `<cookie_name>_variant` cookie
            naming theirs, and a response whose variant is not the one the request named
            is `Cache-Control: private, no-store` (docs/caching.md).
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
        shared_cache: bool = False,
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
                shared_cache=shared_cache,
            )
        except (TypeError, ValueError) as error:
            if not _built_by_an_application():
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
        self._handles = self.endpoints.handles

    def __repr__(self) -> str:
        return f"ConsentMiddleware(app={self.app!r}, cookie_name={self.site.cookies.name!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        site = self.site
        visit, responder, route, withdraw, trimmed = arrive(site, scope, send, self._handles)
        if responder is None:
            if route == WELL_KNOWN_GPC:
                assert site.well_known_gpc is not None
                await well_known_gpc(site.well_known_gpc, send)
                return
            if withdraw:
                await gpc_withdrawal(site, visit, scope)
            if kind == "websocket":
                await self.app(scope, receive, websocket_send(send, visit))
                return
            assert route is not None
            if visit.reissue is not None:
                send = reissuing(site, send, visit, scope)
            await self.endpoints(scope, receive, send, route)
            return

        if withdraw:
            await gpc_withdrawal(site, visit, scope)
        if trimmed is not None:
            # An HTML page in a coding the middleware cannot decode is refused: the app is
            # asked for none of those.
            trim = site.accept_encoding
            scope["headers"] = [
                (key, trim(value) if key == b"accept-encoding" else value)
                for key, value in scope["headers"]
            ]
        try:
            await self.app(scope, receive, responder.send)
        finally:
            # The scope holds the responder, which held the scope: without this, every
            # request would leave a reference cycle for the garbage collector to find.
            responder.scope = DONE


DONE: Scope = {}
"""The scope of a finished response (see `__call__`)."""


def _built_by_an_application() -> bool:
    """Whether Starlette (or FastAPI, which inherits it) is building its middleware stack:
    it does so lazily, on the application's first call (`build_middleware_stack`), which
    under a server is the lifespan start-up. A frame a few levels up names it (a subclass's
    `__init__` may stand between); anywhere else the constructor raises as it always did."""
    frame: FrameType | None = sys._getframe(2)  # (1 is `__init__`)
    for _ in range(8):
        if frame is None:
            return False
        if frame.f_code.co_name == "build_middleware_stack":
            return True
        frame = frame.f_back
    return False


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
