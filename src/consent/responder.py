"""The response path: what ConsentMiddleware does to one response on its way out.

A `ConsentResponder` is the `send` the app gets for one HTTP request. On the start message
it enforces the visitor's choice on the headers: Set-Cookie filtering and the expiry of
refused cookies, `Link` entries that would fetch from a refused service's host, entity tags
made for the consent, the re-issued consent cookie, the expiry of planted copies of it, and
`Vary`. An HTML body (or one a browser would sniff as HTML) goes through the gate
(`GatedBody`); anything else passes as the app sent it.

The app's message and header list are never changed: an app may send the same ones on
every response. A changed copy is sent instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio.lowlevel
from starlette.datastructures import Headers
from starlette.types import Message, Scope, Send

from consent._links import gate_links
from consent.cookies import cookie_names
from consent.gated_response import GatedBody, refusal
from consent.header_fields import list_field, with_field
from consent.html_body import GatedPage, content_coding
from consent.state import ConsentState
from consent.variant import CONSENT_VARIANT, no_store, request_variant, variant_marker
from consent.visit import RequestCookies, Visit

if TYPE_CHECKING:
    from consent.site import Site

__all__ = ["ConsentResponder", "websocket_send"]

_BODILESS = frozenset({204, 304})  # statuses that never carry a body


class _Found:
    """What the response path needs to know of a response's headers."""

    __slots__ = ("codings", "cookies", "links", "types", "validators", "vary")

    def __init__(self) -> None:
        self.types: list[bytes] = []  # Content-Type values
        self.codings: list[bytes] = []  # Content-Encoding values
        self.cookies = False  # a Set-Cookie
        self.vary = False
        self.validators = False  # an ETag or Last-Modified
        self.links = False  # a Link header that may name a declared host


class ConsentResponder(Visit):
    """The visit of one HTTP request that reaches the app: its consent (a `Visit`, in the
    scope for `get_consent`) and the `send` the app answers through (`send`), which
    enforces that consent on the response. (One object per request: a request that
    reaches the app costs one allocation.)

    Args:
        site: the middleware's site.
        scope: the request's scope.
        cookie_header: the request's Cookie header (its fields joined).
        cookies: what that header holds.
        gpc: whether the request carries the Global Privacy Control signal.
        language: the language negotiated for the visitor (None: the default).
        state: the consent, when the middleware knows it already (a valid cookie seen
            before); None: decoded when first asked for.
        send: the server's `send`.
    """

    __slots__ = ("body", "carries", "cookie_header", "scope", "send_next")

    def __init__(
        self,
        site: Site,
        scope: Scope,
        cookie_header: bytes,
        cookies: RequestCookies,
        gpc: bool,
        language: str | None,
        state: ConsentState | None,
        send: Send,
    ) -> None:
        raw, copies, carries, _ = cookies
        Visit.__init__(self, site, raw, gpc, language, copies, state)
        self.scope = scope
        self.cookie_header = cookie_header
        self.carries = carries
        self.send_next = send
        self.body: GatedBody | None = None  # set when the body goes through the gate

    async def send(self, message: Message) -> None:
        """The `send` the app gets: one message of its response."""
        body = self.body
        if body is not None:
            await body.send(message)
        elif message["type"] == "http.response.start":
            message = self.start(message)
            if self.body is None:
                await self.send_next(message)
        else:
            await self.send_next(message)

    async def pause(self) -> None:
        """Awaited between two slices of a large HTML body: lets the event loop run other
        tasks (a subclass that runs without an event loop overrides it)."""
        await anyio.lowlevel.checkpoint()

    def start(self, message: Message) -> Message:
        """Enforce the choice on the response headers: the start message to send now, or,
        when the HTML body must be rewritten, the one `self.body` holds until it is."""
        headers: list[tuple[bytes, bytes]] = message.get("headers") or []
        # A dict built in C says at once which headers are there; only headers that repeat
        # (several Set-Cookie), or names not in lower case, need the loop of `_read`.
        named = dict(headers)
        if len(named) != len(headers) or not b"\n".join(named).islower():
            if headers:
                return self._start(message, *self._read(headers))
        site = self.site
        ctype = named.get(b"content-type")
        if ctype is None:
            _, gated, sniffed = site.types.missing
        else:
            _, gated, sniffed = site.types.known.get(ctype) or site.types.of(ctype)
        if (
            gated
            or sniffed
            or self.carries
            or self.copies
            or self.revalidated
            or self.reissue is not None
            or b"set-cookie" in named
            or b"link" in named
        ):
            return self._start(message, *self._read(headers))
        if not self.accessed:
            return message  # nothing to change
        if site.shared_cache:
            return self._start(message, *self._read(headers))
        # Only Vary to add: the app read the consent.
        value = site.vary_localized if self.localized else site.vary_bytes
        if b"vary" in named:
            return {**message, "headers": with_vary(headers, value)}
        return {**message, "headers": [*headers, (b"vary", value)]}

    def _read(self, headers: list[tuple[bytes, bytes]]) -> tuple[list[tuple[bytes, bytes]], _Found]:
        """The headers in lower case, and what the response path needs to know of them."""
        found = _Found()
        for key, value in headers:  # ASGI header names are lower-case
            if key == b"content-type":
                found.types.append(value)
            elif key == b"set-cookie":
                found.cookies = True
            elif key == b"vary":
                found.vary = True
            elif key == b"content-encoding":
                found.codings.append(value)
            elif key == b"etag" or key == b"last-modified":
                found.validators = True
            elif key == b"link":
                found.links = (
                    self.site.gatekeeper.hosts is not None
                )  # it may preload from a declared host
            elif not key.islower() and key != key.lower():
                # ASGI asks for lower-case names, yet some apps send "Set-Cookie": their
                # headers are read, and passed on, in lower case (HTTP ignores the case).
                return self._read([(name.lower(), text) for name, text in headers])
        return headers, found

    def _start(
        self, message: Message, headers: list[tuple[bytes, bytes]], found: _Found
    ) -> Message:
        """`start` for any response: what `found` says about its `headers`."""
        visit = self
        site = self.site
        scope = self.scope
        vary = visit.accessed
        carries = self.carries
        body = scope["method"] != "HEAD" and message.get("status") not in _BODILESS
        kind = site.types.of_all(found.types)
        mime = kind.mime
        # An HTML page, or a body a browser may sniff as HTML (no usable Content-Type).
        html = kind.gated or (body and kind.sniffed)
        changes = vary or found.cookies or carries or html or found.links or visit.copies
        if not (changes or visit.revalidated) and visit.reissue is None:
            return message  # nothing to change
        codings = found.codings
        coding = content_coding(codings) if codings else ""
        if html and coding is None:
            head = scope["method"] == "HEAD"
            self.body = GatedBody(None, refusal(codings), self.send_next, error_body=not head)
            return message
        # Any iterable of pairs will do for ASGI; a list takes the headers added below.
        message = {**message, "headers": list(headers)}
        state = visit.state
        if found.cookies or carries:
            vary = self._enforce_cookies(message, state) or vary
        if found.links:
            vary = self._gate_links(message, state) or vary
        if found.validators and (html or (visit.revalidated and message.get("status") == 304)):
            message["headers"] = site.tags.validators(message["headers"], state)
            vary = True
        if html:
            vary = True  # the markup depends on the consent cookie
            if coding:
                # Sent decoded: the gate read it, and the browser reads what the gate wrote.
                message["headers"] = [h for h in message["headers"] if h[0] != b"content-encoding"]
            if body:
                page = GatedPage(
                    coding or "", mime, lambda codec, xml: site.gate(state, codec, xml=xml)
                )
                self.body = GatedBody(
                    page,
                    message,
                    self.send_next,
                    mime=mime,
                    pages=site.pages,
                    consent=(state.granted, state.services),
                    pause=self.pause,
                )
            else:
                # No body to gate, and the gated page's length is not known here: the
                # app's Content-Length (of the page before gating) would be wrong.
                message["headers"] = [h for h in message["headers"] if h[0] != b"content-length"]
        https = scope.get("scheme") == "https"
        if visit.reissue is not None:
            for cookie in site.set_cookies(visit.reissue, https=https):
                message["headers"].append((b"set-cookie", cookie))
            vary = True
        if visit.copies:
            host = Headers(scope=scope).get("host", "")
            for expired in site.cookies.expire_copies(host, scope["path"], https=https):
                message["headers"].append((b"set-cookie", expired))
            vary = True
        if vary:
            value = site.vary_localized if visit.localized else site.vary_bytes
            if found.vary:
                message["headers"] = with_vary(message["headers"], value)
            else:
                message["headers"].append((b"vary", value))
            if site.shared_cache:
                self._name_variant(message, state, https)
        return message

    def _name_variant(self, message: Message, state: ConsentState, https: bool) -> None:
        """`shared_cache`: say which variant the response was rendered for; where the
        request named another (the key a shared cache used), no cache may store it, and
        the visitor gets the right variant cookie (or loses a wrong one)."""
        site = self.site
        rendered = site.variant_of(state)
        headers = message["headers"]
        headers.append((CONSENT_VARIANT, rendered.encode("latin-1")))
        if request_variant(self.cookie_header, site.cookies.name, self.gpc) == rendered:
            return
        headers = message["headers"] = no_store(headers)
        if self.reissue is None:  # (else the re-issued consent cookie brought its own)
            # Bound to the one consent cookie the choice came from; with several, none
            # until the planted copies are gone (this response expires them).
            raw = self.raw
            bound = state.decided and not self.copies
            marker = variant_marker(rendered, raw) if bound and raw else None
            headers.append((b"set-cookie", site.cookies.variant(marker, https=https)))

    def _enforce_cookies(self, message: Message, state: ConsentState) -> bool:
        """Filter the app's Set-Cookie headers and expire refused ones; True if changed."""
        site = self.site
        headers, dropped = site.guard.filter(message["headers"], state)
        expired: list[str] = []
        if site.delete_refused_cookies and self.carries:
            names = cookie_names(self.cookie_header.decode("latin-1"))
            https = self.scope.get("scheme") == "https"
            host = Headers(scope=self.scope).get("host", "")
            expired = site.guard.deletions(names, state, secure=https, host=host)
            headers.extend((b"set-cookie", value.encode("latin-1")) for value in expired)
        message["headers"] = headers
        return bool(dropped or expired)

    def _gate_links(self, message: Message, state: ConsentState) -> bool:
        """Drop the `Link` header entries that would fetch from the host of a service
        `state` refuses (preload, preconnect, ...). True when an entry names a declared
        host at all: the response then depends on consent, dropped or not."""
        site = self.site
        hosts = site.gatekeeper.hosts
        assert hosts is not None  # (only asked when the policy declares hosts)
        named = False

        def refused(url: str) -> bool:
            nonlocal named
            service = hosts(url)
            named = named or service is not None
            return service is not None and not site.allows_markup(state, service)

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


def with_vary(headers: list[tuple[bytes, bytes]], value: bytes) -> list[tuple[bytes, bytes]]:
    """`headers` (names in lower case) with one Vary field, where the first was, naming
    each header that any of their Vary fields or `value` names, once: HTTP compares those
    names without case, and a field after the first still counts (`*` stands alone)."""
    out, at, elements = list_field([*headers, (b"vary", value)], b"vary")
    names: dict[bytes, bytes] = {}  # lower case -> as first written
    for name in elements:
        names.setdefault(name.lower(), name)
    joined = b"*" if b"*" in names else b", ".join(names.values())
    return with_field(out, at, b"vary", joined)


def websocket_send(send: Send, visit: Visit) -> Send:
    """`send` for a WebSocket: the handshake's answer (`websocket.accept`, or a denial
    response under the ASGI extension) may carry Set-Cookie headers too."""
    guard = visit.site.guard

    async def send_filtered(message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.accept" or kind == "websocket.http.response.start":
            headers = message.get("headers")
            if headers:
                lowered = [(key.lower(), value) for key, value in headers]
                kept, dropped = guard.filter(lowered, visit.state)
                if dropped:
                    message = {**message, "headers": kept}
        await send(message)

    return send_filtered
