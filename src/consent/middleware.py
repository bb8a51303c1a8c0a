"""ConsentMiddleware: pure ASGI, wraps any ASGI application."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterable, Sequence

import anyio
import anyio.lowlevel
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent._body import BodyError, GatedPage, accept_encoding, content_coding
from consent._links import gate_links
from consent._memo import remember
from consent._mime import Mime, extract_mime
from consent._scope import MAX_COPIES, SCOPE_KEY, ConsentSlot, get_consent
from consent.config import ConsentConfig, SameSite, check_cookie_settings, normalize_origins
from consent.cookies import cookie_names, cookie_values, parent_domains
from consent.endpoints import ConsentEndpoints
from consent.enforce import CookieGuard, Undeclared
from consent.gating import Gatekeeper, HTMLGate
from consent.gpc import (
    WELL_KNOWN_GPC,
    gpc_json,
    gpc_signal,
    gpc_withdrawal,
    reissuing,
    well_known_gpc,
)
from consent.policy import Policy
from consent.receipts import ConsentLog, Snapshot
from consent.signing import ConsentCodec
from consent.state import ConsentState

__all__ = ["ConsentMiddleware", "get_consent"]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
logger = logging.getLogger("consent")


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
        if not isinstance(policy, Policy):
            raise TypeError("policy must be a consent.Policy, e.g. load_policy('consent.toml')")
        if log is not None and not isinstance(log, ConsentLog):
            raise TypeError(
                "log must be a ConsentLog, e.g. consent.receipts.SQLiteConsentLog('consent.db')"
            )
        check_cookie_settings(cookie_name, path, secure, same_site, domain)
        if not (isinstance(log_timeout, int | float) and 0 < log_timeout < 3600):
            raise ValueError(
                f"log_timeout must be a number of seconds above 0 and below 3600, such as 5.0,"
                f" not {log_timeout!r}"
            )
        if well_known_gpc is not None and not _DATE.fullmatch(well_known_gpc):
            raise ValueError(
                f"well_known_gpc must be a date such as '2026-11-28', not {well_known_gpc!r}"
            )
        self._gpc_json = None if well_known_gpc is None else gpc_json(well_known_gpc)
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
            log=log,
            log_timeout=float(log_timeout),
            snapshot=None if log is None else Snapshot.of(policy),
        )
        self.endpoints = ConsentEndpoints(self.config)
        self.delete_refused_cookies = delete_refused_cookies
        self.gate_html = gate_html
        # What the site's gates share: the declared hosts and the memo of the tags read.
        self._gatekeeper = Gatekeeper({h: s.id for s in policy.services for h in s.hosts})
        self._hosts = self._gatekeeper.hosts or (lambda url: None)
        self._has_hosts = self._gatekeeper.hosts is not None
        self._cookie_bytes = cookie_name.encode("latin-1")
        self._codec = self.config.codec
        self._language = self._codec._language
        self._ui = self.endpoints.ui
        self._path = path
        self._cookie_cache: dict[bytes, _Cookies] = {}
        self._gpc_ids = policy.gpc_ids
        assert self.config.negotiate is not None
        self._negotiate = self.config.negotiate
        self._vary = self.config.vary.encode()
        # The banner and the other parts speak the visitor's language: a cache must not
        # hand one visitor's banner to another whose browser asks for another language.
        several = len(self._negotiate.enabled) > 1
        self._vary_localized = self._vary + b", Accept-Language" if several else self._vary

    def __repr__(self) -> str:
        return f"ConsentMiddleware(app={self.app!r}, cookie_name={self.config.cookie_name!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return

        # This runs on every request, so it sticks to cheap byte operations.
        header = accept = match = b""
        gpc = codings = False
        for key, value in scope["headers"]:
            if key == b"cookie":
                header = value if not header else header + b"; " + value
            elif key == b"accept-language":
                accept = value
            elif key == b"sec-gpc" and not gpc:
                gpc = gpc_signal(value)
            elif key == b"if-none-match":
                match += value
            elif key == b"accept-encoding" and accept_encoding(value) != value:
                codings = True
        # A returning visitor sends the same Cookie header on every page: one look-up.
        found = self._cookie_cache.get(header)
        if found is None:
            found = self._read_cookies(header)
        raw, copies, carries, current = found
        language = self._negotiate(accept.decode("latin-1")) if accept else None
        state = None
        if current is not None and not gpc and (language is None or language == self._language):
            # A valid cookie seen before: its state is known while it lasts.
            state, since, until = current
            if not since <= time.time() <= until:
                state = None  # expired (or from the future): decoded again, refused
        slot = ConsentSlot(self._codec, raw, self._ui, gpc, language, copies, state)
        scope[SCOPE_KEY] = slot
        if match and match.find(_TAGGED) >= 0:  # (see `find` above)
            slot.revalidated = _revalidating(scope, consent_tag(slot.state))
        if kind == "websocket":
            await self.app(scope, receive, self._websocket_send(send, slot))
            return

        path: str = scope["path"]
        consent_route = False
        if self._path in path or self._gpc_json is not None:
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            if path == WELL_KNOWN_GPC and self._gpc_json is not None:
                await well_known_gpc(self._gpc_json, send)
                return
            consent_route = self.endpoints.handles(path)
        if gpc and raw and self._gpc_ids and not (consent_route and scope["method"] == "POST"):
            await gpc_withdrawal(self.config, slot, scope)
        if consent_route:
            if slot.reissue is not None:
                send = reissuing(self.config, send, slot, scope)
            await self.endpoints(scope, receive, send, path)
            return

        if codings and self.gate_html:
            # An HTML page in a coding the middleware cannot decode is refused: the app is
            # asked for none of those.
            scope["headers"] = [
                (key, accept_encoding(value) if key == b"accept-encoding" else value)
                for key, value in scope["headers"]
            ]
        gated: _GatedBody | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal gated
            if gated is not None:
                await gated.send(message)
            elif message["type"] == "http.response.start":
                message, gated = self._response_start(message, scope, slot, header, carries, send)
                if gated is None:
                    await send(message)
            else:
                await send(message)

        await self.app(scope, receive, send_wrapper)

    def _response_start(
        self,
        message: Message,
        scope: Scope,
        slot: ConsentSlot,
        cookie_header: bytes,
        carries: bool,
        send: Send,
    ) -> tuple[Message, _GatedBody | None]:
        """Enforce the choice on the response headers: the start message to send, and a
        `_GatedBody` when the HTML body must be rewritten (the start message then waits
        for it). `carries`: whether the request's cookies may include cookies of optional
        services.

        The app's message and header list are never changed: an app may send the same
        ones on every response. A changed copy is sent instead."""
        headers: list[tuple[bytes, bytes]] = message.get("headers") or []
        vary = slot.accessed
        has_cookies = has_vary = validators = links = False
        types: list[bytes] = []
        codings: list[bytes] = []
        for key, value in headers:  # ASGI header names are lower-case
            if key == b"content-type":
                types.append(value)
            elif key == b"set-cookie":
                has_cookies = True
            elif key == b"vary":
                has_vary = True
            elif key == b"content-encoding":
                codings.append(value)
            elif key == b"etag" or key == b"last-modified":
                validators = True
            elif key == b"link":
                links = self._has_hosts  # it may preload from a declared host
            elif not key.islower() and key != key.lower():
                # ASGI asks for lower-case names, yet some apps send "Set-Cookie": their
                # headers are read, and passed on, in lower case (HTTP ignores the case).
                lowered = [(name.lower(), text) for name, text in headers]
                message = {**message, "headers": lowered}
                return self._response_start(message, scope, slot, cookie_header, carries, send)
        body = scope["method"] != "HEAD" and message.get("status") not in _BODILESS
        mime = _mime(types)
        # An HTML page, or a body a browser may sniff as HTML (no usable Content-Type).
        html = self.gate_html and (
            (mime is not None and mime.essence in _HTML_TYPES)
            or (body and (mime is None or mime.essence in _UNKNOWN_TYPES))
        )
        changes = vary or has_cookies or carries or html or links or slot.copies
        if not (changes or slot.revalidated) and slot.reissue is None:
            return message, None  # nothing to change
        coding = content_coding(codings) if codings else ""
        if html and coding is None:
            head = scope["method"] == "HEAD"
            return message, _GatedBody(None, _refusal(codings), send, error_body=not head)
        # Any iterable of pairs will do for ASGI; a list takes the headers added below.
        message = {**message, "headers": list(headers)}
        if has_cookies or carries:
            vary = self._enforce_cookies(message, scope, slot.state, cookie_header, carries) or vary
        if links:
            vary = self._gate_links(message, slot.state) or vary
        gated = None
        if validators and (html or (slot.revalidated and message.get("status") == 304)):
            message["headers"] = consent_validators(message["headers"], slot.state)
            vary = True
        if html:
            vary = True  # the markup depends on the consent cookie
            if coding:
                # Sent decoded: the gate read it, and the browser reads what the gate wrote.
                message["headers"] = [h for h in message["headers"] if h[0] != b"content-encoding"]
            if body:
                state = slot.state
                page = GatedPage(
                    coding or "", mime, lambda codec, xml: self._gate(state, codec, xml=xml)
                )
                gated = _GatedBody(page, message, send)
            else:
                # No body to gate, and the gated page's length is not known here: the
                # app's Content-Length (of the page before gating) would be wrong.
                message["headers"] = [h for h in message["headers"] if h[0] != b"content-length"]
        if slot.reissue is not None:
            https = scope.get("scheme") == "https"
            cookie = self.config.cookie_header(slot.reissue, https)
            message["headers"].append((b"set-cookie", cookie.encode("latin-1")))
            vary = True
        if slot.copies:
            self._expire_copies(message, scope)
            vary = True
        if vary:
            value = self._vary_localized if slot.localized else self._vary
            if has_vary:
                MutableHeaders(scope=message).add_vary_header(value.decode())
            else:
                message["headers"].append((b"vary", value))
        return message, gated

    def _gate_links(self, message: Message, state: ConsentState) -> bool:
        """Drop the `Link` header entries that would fetch from the host of a service
        `state` refuses (preload, preconnect, ...). True when an entry names a declared
        host at all: the response then depends on consent, dropped or not."""
        ui = self.endpoints.ui
        hosts = self._hosts
        named = False

        def refused(url: str) -> bool:
            nonlocal named
            service = hosts(url)
            named = named or service is not None
            return service is not None and not ui.allows_markup(state, service)

        headers: list[tuple[bytes, bytes]] = []
        for key, value in message["headers"]:
            if key == b"link":
                gated = gate_links(value, refused)
                if gated is None:
                    continue
                value = gated
            headers.append((key, value))
        message["headers"] = headers
        return named

    def _websocket_send(self, send: Send, slot: ConsentSlot) -> Send:
        """`send` for a WebSocket: the handshake's answer (`websocket.accept`, or a denial
        response under the ASGI extension) may carry Set-Cookie headers too."""
        guard = self.config.guard

        async def send_filtered(message: Message) -> None:
            kind = message["type"]
            if kind == "websocket.accept" or kind == "websocket.http.response.start":
                headers = message.get("headers")
                if headers:
                    lowered = [(key.lower(), value) for key, value in headers]
                    kept, dropped = guard.filter(lowered, slot.state)
                    if dropped:
                        message = {**message, "headers": kept}
            await send(message)

        return send_filtered

    def _enforce_cookies(
        self,
        message: Message,
        scope: Scope,
        state: ConsentState,
        cookie_header: bytes,
        carries: bool,
    ) -> bool:
        """Filter the app's Set-Cookie headers and expire refused ones; True if changed."""
        guard = self.config.guard
        headers, dropped = guard.filter(message["headers"], state)
        expired: list[str] = []
        if self.delete_refused_cookies and carries:
            names = cookie_names(cookie_header.decode("latin-1"))
            https = scope.get("scheme") == "https"
            host = Headers(scope=scope).get("host", "")
            expired = guard.deletions(names, state, secure=https, host=host)
            headers.extend((b"set-cookie", value.encode("latin-1")) for value in expired)
        message["headers"] = headers
        return bool(dropped or expired)

    def _gate(
        self, state: ConsentState, encoding: str | None = "utf-8", *, xml: bool = False
    ) -> HTMLGate:
        ui = self.endpoints.ui
        return self._gatekeeper.open(
            lambda id: ui.allows_markup(state, id), encoding=encoding, xml=xml
        )

    def _read_cookie(self, header: bytes) -> tuple[str | None, tuple[str, ...]]:
        """The first consent cookie in the header, and the further copies (at most one
        more than `MAX_COPIES`: enough to tell that there are too many)."""
        values = cookie_values(header.decode("latin-1"), self.config.cookie_name)
        if not values:
            return None, ()
        return values[0], tuple(values[1 : MAX_COPIES + 2])

    def _expire_copies(self, message: Message, scope: Scope) -> None:
        """Expire copies of the consent cookie that another (sub-)domain or path planted.

        The visitor's own cookie (this host or the configured `domain`, path `/`) stays.
        """
        host = Headers(scope=scope).get("host", "")
        https = scope.get("scheme") == "https"
        config = self.config
        secure = "; Secure" if https else ""
        for value in copy_deletions(config.cookie_name, host, scope["path"], config.domain):
            message["headers"].append((b"set-cookie", (value + secure).encode("latin-1")))

    def _read_cookies(self, header: bytes) -> _Cookies:
        """What the middleware needs from a Cookie header, remembered for the next request
        that sends the same header (at most 4,096 headers of up to 2 KiB)."""
        # (A header that does not even hold the name needs no parsing.)
        named = header.find(self._cookie_bytes) >= 0
        raw, copies = self._read_cookie(header) if named else _NONE
        # Whether it may hold cookies of optional services (to expire when refused).
        carries = bool(header) and self.config.guard.may_carry_refused(header.decode("latin-1"))
        # The state a valid cookie holds, when it is the only one.
        current = self._codec.current(raw) if raw and not copies else None
        found = (raw, copies, carries, current)
        if len(header) <= 2048:
            remember(self._cookie_cache, header, found)
        return found


_Cookies = tuple[str | None, tuple[str, ...], bool, tuple[ConsentState, int, int] | None]
_NONE: tuple[None, tuple[str, ...]] = (None, ())


def copy_deletions(name: str, host: str, path: str, own_domain: str | None) -> list[str]:
    """`Set-Cookie` values expiring every copy of cookie `name` that a request to `host`
    and `path` may carry, except the consent cookie's own (path `/`, host-only or
    `own_domain`).

    A sibling sub-domain can plant ("toss") a cookie of the same name with
    `Domain=<parent>` and a longer `Path`; a cookie is only replaced or deleted with its
    exact domain and path, so each candidate pair is listed: the request path's prefixes
    (5 levels, with and without a trailing `/`) and the host's parent domains.
    """
    domains: list[str | None] = [None, *parent_domains(host)]
    paths = ["/"]
    segments = [s for s in path.split("/") if s][:5]
    for depth in range(1, len(segments) + 1):
        prefix = "/" + "/".join(segments[:depth])
        paths += [prefix, prefix + "/"]
    own = (own_domain or "").lstrip(".").lower() or None
    found = []
    for domain in domains:
        for cookie_path in paths:
            if cookie_path == "/" and domain == own:
                continue  # the visitor's own cookie
            if any(c in cookie_path for c in ';,"\\') or not cookie_path.isprintable():
                continue
            where = f"; Domain={domain}" if domain else ""
            found.append(f'{name}=""; Max-Age=0; Path={cookie_path}{where}')
    return found


class _GatedBody:
    """The rest of a gated HTML response: the held start message, then rewritten chunks.
    Without a `page`, the start message is an error page sent instead of the app's body."""

    __slots__ = ("done", "error_body", "page", "send_next", "start")

    def __init__(
        self, page: GatedPage | None, start: Message, send: Send, *, error_body: bool = True
    ) -> None:
        self.page = page
        self.start: Message | None = start
        self.send_next = send
        self.done = False  # the response has ended: what the app still sends is dropped
        self.error_body = error_body  # (not for HEAD)

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if self.done:
            return
        if kind == "http.response.pathsend":
            await self._send_file(message["path"])
            return
        if kind != "http.response.body":
            await self.send_next(message)
            return
        page = self.page
        if page is None:
            await self._end(self.start)  # the error page
            return
        more = message.get("more_body", False)
        # Each piece is sent as it comes: a small compressed body may decode to a large page.
        pending = None
        try:
            for piece in await self._gated(page, message.get("body", b""), more):
                if pending is not None:
                    await self._write(pending, more=True)
                pending = piece
        except BodyError as error:
            logger.warning("consent: a compressed HTML page is corrupt (%s): it ends here", error)
            await self._end(_error_page())
            return
        if not more:
            await self._write(pending or b"", more=False)
        elif pending:
            await self._write(pending, more=True)

    @staticmethod
    async def _gated(page: GatedPage, body: bytes, more: bool) -> Iterable[bytes]:
        """`body` through the gate. A large body that came in one piece is gated in slices
        with a checkpoint between them, so that a page that is slow to gate (its cost is
        linear, but some hostile markup costs a thousand times a plain page's) holds the
        event loop for one slice at a time, never the whole page; the slices' output is sent
        as one piece, as the app sent it (its length stays known)."""
        if len(body) <= _SLICE or not page.identity:
            return page.feed(body, final=not more)
        out: list[bytes] = []
        for at in range(0, len(body), _SLICE):
            last = at + _SLICE >= len(body)
            out.extend(page.feed(body[at : at + _SLICE], final=last and not more))
            if not last:
                await anyio.lowlevel.checkpoint()
        return [b"".join(out)]

    async def _write(self, body: bytes, more: bool) -> None:
        if self.start is not None:
            headers = MutableHeaders(scope=self.start)
            if more:
                del headers["content-length"]  # the length changes; stream it chunked
            elif "content-length" in headers:
                headers["content-length"] = str(len(body))
            charset = None if self.page is None else self.page.charset
            types = [v for k, v in self.start["headers"] if k == b"content-type"]
            mime = _mime(types)
            if charset is not None and mime is not None:
                # Sent in another encoding than the header said (UTF-16 decoded, or a byte
                # order mark that overrides the header, as it does in browsers).
                kept = [h for h in self.start["headers"] if h[0] != b"content-type"]
                written = f"{mime.essence}; charset={charset}".encode()
                self.start["headers"] = [*kept, (b"content-type", written)]
            await self.send_next(self.start)
            self.start = None
        out: Message = {"type": "http.response.body", "body": body}
        if more:
            out["more_body"] = True
        await self.send_next(out)

    async def _end(self, error: Message | None) -> None:
        """End the response: with the error page `error` if nothing was sent yet (else
        the page stops where it is)."""
        self.done = True
        if self.start is not None and error is not None:
            await self.send_next(error)
            body = _ERROR_BODY if self.error_body else b""
            await self.send_next({"type": "http.response.body", "body": body})
        else:
            await self.send_next({"type": "http.response.body", "body": b""})
        self.start = None

    async def _send_file(self, path: str) -> None:
        """A page the app asked the server to send from a file (the ASGI `pathsend`
        extension, e.g. Starlette's FileResponse under Granian): read here, in chunks, and
        gated like any other body."""
        async with await anyio.open_file(path, "rb") as file:
            while chunk := await file.read(_FILE_CHUNK):
                await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})


# SVG documents run their scripts too (`<svg><script href=...>`): read as XML, like XHTML.
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml"})
# Types that make a browser sniff the body as if there were none.
_UNKNOWN_TYPES = frozenset({"unknown/unknown", "application/unknown"})
_MIMES: dict[bytes, tuple[Mime | None]] = {}


def _mime(types: list[bytes]) -> Mime | None:
    """The MIME type a browser reads from these Content-Type headers (None: none)."""
    if len(types) != 1:
        return extract_mime(types) if types else None
    known = _MIMES.get(types[0])  # an app sends the same few types again and again
    if known is None:
        known = (extract_mime(types),)
        if len(types[0]) <= 256:
            remember(_MIMES, types[0], known, size=256)
    return known[0]


_ERROR_BODY = b"502 Bad Gateway: the page could not be read safely.\n"


def _error_page() -> Message:
    """The start of a plain 502 answer, whose body is `_ERROR_BODY`."""
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(_ERROR_BODY)).encode()),
        (b"cache-control", b"no-store"),
    ]
    return {"type": "http.response.start", "status": 502, "headers": headers}


def _refusal(codings: list[bytes]) -> Message:
    """The error page sent for an HTML page in a coding the middleware cannot decode."""
    named = b", ".join(codings).decode("latin-1")[:60]
    logger.warning(
        "consent: an HTML page came with Content-Encoding %r, which the middleware cannot"
        " decode: it answered 502 instead (for br, install asgi-consent[brotli])",
        named,
    )
    return _error_page()


_FILE_CHUNK = 64 * 1024
_SLICE = 32 * 1024  # how much of a body the gate reads between two checkpoints

# Conditional requests. The app's ETag names the page it wrote, but a gated page differs from
# one visitor's consent to another's: a browser revalidating its copy after a change of
# consent would get a 304 and keep a page gated for the old choice, trackers active after a
# withdrawal among them. So a gated page's ETag carries the consent it was gated for, and its
# Last-Modified (which cannot) is dropped. An If-None-Match naming this visitor's consent is
# handed to the app as the app wrote it, so a 304 stays possible while the consent is the
# same; one made for another consent reaches the app as is, and matches nothing there.
_TAGGED = b"-consent-"
_CONSENT_TAGS: dict[tuple[frozenset[str], frozenset[str]], bytes] = {}


def consent_tag(state: ConsentState) -> bytes:
    """A short name for what the HTML gate allows in `state` (ten hex digits)."""
    key = (state.granted, state.services)
    found = _CONSENT_TAGS.get(key)
    if found is None:
        text = ",".join(sorted(state.granted)) + "|" + ",".join(sorted(state.services))
        found = hashlib.blake2s(text.encode(), digest_size=5).hexdigest().encode()
        remember(_CONSENT_TAGS, key, found)
    return found


def consent_validators(
    headers: list[tuple[bytes, bytes]], state: ConsentState
) -> list[tuple[bytes, bytes]]:
    """`headers` with the ETag made for `state`'s consent and no Last-Modified."""
    suffix = _TAGGED + consent_tag(state) + b'"'
    out = []
    for key, value in headers:
        if key == b"etag":
            value = value.strip()
            if len(value) < 2 or value[-1:] != b'"' or value[:1] not in b'W"':
                continue  # not an entity tag: dropped rather than guessed at
            value = value[:-1] + suffix
        elif key == b"last-modified":
            continue
        out.append((key, value))
    return out


def _revalidating(scope: Scope, tag: bytes) -> bool:
    """Hand the app the entity tags of If-None-Match that were made for consent `tag`, as
    the app wrote them; whether there was one."""
    suffix = _TAGGED + tag + b'"'
    found = False
    headers = []
    for key, value in scope["headers"]:
        if key == b"if-none-match" and value.find(suffix) >= 0:
            value = value.replace(suffix, b'"')
            found = True
        headers.append((key, value))
    if found:
        scope["headers"] = headers
    return found


_BODILESS = frozenset({204, 304})  # statuses that never carry a body
