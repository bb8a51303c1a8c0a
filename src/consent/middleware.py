"""ConsentMiddleware: pure ASGI, wraps any ASGI application."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent._scope import SCOPE_KEY, ConsentSlot, get_consent
from consent.config import ConsentConfig, SameSite, check_cookie_settings, normalize_origins
from consent.endpoints import ConsentEndpoints
from consent.enforce import CookieGuard, Undeclared, cookie_names
from consent.gating import HTMLGate, host_matcher
from consent.policy import Policy
from consent.signing import ConsentCodec

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
            `"allow"`, `"warn"` (pass, and log each name once) or `"block"`.
        delete_refused_cookies: expire cookies of refused services that the browser still
            sends, on every response (scripts recreate them).
        gate_html: rewrite `text/html` responses so that scripts and iframes of refused
            categories or services stay inert.
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
    ) -> None:
        if not isinstance(policy, Policy):
            raise TypeError("policy must be a consent.Policy, e.g. load_policy('consent.toml')")
        check_cookie_settings(cookie_name, path, secure, same_site, domain)
        self.app = app
        guard = CookieGuard(policy, consent_cookie=cookie_name, undeclared=undeclared_cookies)
        self.config = ConsentConfig(
            policy=policy,
            codec=ConsentCodec(policy, secret_key),
            cookie_name=cookie_name,
            path=path,
            secure=secure,
            same_site=same_site,
            domain=domain,
            trusted_origins=normalize_origins(trusted_origins),
            guard=guard,
        )
        self.endpoints = ConsentEndpoints(self.config)
        self.delete_refused_cookies = delete_refused_cookies
        self.gate_html = gate_html
        self._hosts = host_matcher({h: s.id for s in policy.services for h in s.hosts})
        self._has_hosts = any(s.hosts for s in policy.services)
        self._cookie_prefix = cookie_name + "="

    def __repr__(self) -> str:
        return f"ConsentMiddleware(app={self.app!r}, cookie_name={self.config.cookie_name!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        cookie_header = self._cookie_header(scope)
        slot = ConsentSlot(self.config.codec, self._read_cookie(cookie_header), self.endpoints.ui)
        scope[SCOPE_KEY] = slot
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if self.endpoints.handles(path):
            await self.endpoints(scope, receive, send, path)
            return

        responder = _Responder(self, scope, slot, cookie_header, send)
        await self.app(scope, receive, responder.send)

    @staticmethod
    def _cookie_header(scope: Scope) -> str:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        return "; ".join(v.decode("latin-1") for k, v in headers if k == b"cookie")

    def _read_cookie(self, header: str) -> str | None:
        # Only our cookie is needed: a scan of the header is cheaper than parsing them all.
        if self._cookie_prefix not in header:
            return None
        prefix = self._cookie_prefix
        for part in header.split(";"):
            part = part.strip()
            if part.startswith(prefix):
                return part[len(prefix) :].strip('"')
        return None


class _Responder:
    """Per-request state of the send wrapper: headers on start, gating on the body."""

    __slots__ = ("cookie_header", "gate", "middleware", "scope", "send_next", "slot", "start")

    def __init__(
        self,
        middleware: ConsentMiddleware,
        scope: Scope,
        slot: ConsentSlot,
        cookie_header: str,
        send: Send,
    ) -> None:
        self.middleware = middleware
        self.scope = scope
        self.slot = slot
        self.cookie_header = cookie_header
        self.send_next = send
        self.gate: HTMLGate | None = None
        self.start: Message | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._start(message)
        elif message["type"] == "http.response.body" and self.gate is not None:
            await self._body(message)
        else:
            await self.send_next(message)

    async def _start(self, message: Message) -> None:
        middleware = self.middleware
        guard = middleware.config.guard
        raw: list[tuple[bytes, bytes]] = list(message.get("headers", []))
        vary = self.slot.accessed
        content_type = b""
        encoded = False
        has_cookies = False
        for key, value in raw:
            key = key.lower()
            if key == b"content-type":
                content_type = value.lower()
            elif key == b"content-encoding":
                encoded = value.strip().lower() not in (b"", b"identity")
            elif key == b"set-cookie":
                has_cookies = True
        if has_cookies:
            raw, dropped = guard.filter(raw, self.slot.state)
            vary = vary or bool(dropped)
        if middleware.delete_refused_cookies and guard.may_carry_refused(self.cookie_header):
            scheme = self.scope.get("scheme", "http")
            expired = guard.deletions(
                cookie_names(self.cookie_header), self.slot.state, secure=scheme == "https"
            )
            raw.extend((b"set-cookie", v.encode("latin-1")) for v in expired)
            vary = vary or bool(expired)
        if (
            middleware.gate_html
            and content_type.startswith(b"text/html")
            and not encoded
            and b"utf-16" not in content_type
            and b"utf-32" not in content_type
        ):
            vary = True  # the markup depends on the consent cookie
            state = self.slot.state
            ui = middleware.endpoints.ui
            self.gate = HTMLGate(
                lambda id: ui.allows_markup(state, id),
                middleware._hosts if middleware._has_hosts else None,
            )
        message = dict(message, headers=raw)
        if vary:
            MutableHeaders(scope=message).add_vary_header("Cookie")
        if self.gate is None:
            await self.send_next(message)
        else:
            self.start = message  # held until the first body chunk fixes Content-Length

    async def _body(self, message: Message) -> None:
        gate = self.gate
        assert gate is not None
        more = message.get("more_body", False)
        body = gate.feed(message.get("body", b""))
        if not more:
            body += gate.close()
        if self.start is not None:
            headers = MutableHeaders(scope=self.start)
            if more:
                del headers["content-length"]  # the length changes; stream it chunked
            elif "content-length" in headers:
                headers["content-length"] = str(len(body))
            await self.send_next(self.start)
            self.start = None
        await self.send_next(dict(message, body=body))
