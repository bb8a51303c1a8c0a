"""ConsentMiddleware: pure ASGI, wraps any ASGI application."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent._scope import SCOPE_KEY, ConsentSlot, get_consent
from consent.config import ConsentConfig, SameSite, check_cookie_settings, normalize_origins
from consent.endpoints import ConsentEndpoints
from consent.policy import Policy
from consent.signing import ConsentCodec

__all__ = ["ConsentMiddleware", "get_consent"]


class ConsentMiddleware:
    """Reads the visitor's signed consent cookie and serves the consent routes.

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
    ) -> None:
        if not isinstance(policy, Policy):
            raise TypeError("policy must be a consent.Policy, e.g. load_policy('consent.toml')")
        check_cookie_settings(cookie_name, path, secure, same_site, domain)
        self.app = app
        self.config = ConsentConfig(
            policy=policy,
            codec=ConsentCodec(policy, secret_key),
            cookie_name=cookie_name,
            path=path,
            secure=secure,
            same_site=same_site,
            domain=domain,
            trusted_origins=normalize_origins(trusted_origins),
        )
        self.endpoints = ConsentEndpoints(self.config)
        self._codec = self.config.codec
        self._cookie_prefix = cookie_name + "="

    def __repr__(self) -> str:
        return f"ConsentMiddleware(app={self.app!r}, cookie_name={self.config.cookie_name!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        slot = ConsentSlot(self._codec, self._read_cookie(scope), self.endpoints.ui)
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

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and slot.accessed:
                MutableHeaders(scope=message).add_vary_header("Cookie")
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _read_cookie(self, scope: Scope) -> str | None:
        # Only our cookie is needed: a scan of the header is cheaper than parsing them all.
        prefix = self._cookie_prefix
        name: bytes
        value: bytes
        for name, value in scope["headers"]:
            if name == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    part = part.strip()
                    if part.startswith(prefix):
                        return part[len(prefix) :].strip('"')
        return None
