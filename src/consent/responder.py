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

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import Message, Scope, Send

from consent._body import GatedPage, content_coding
from consent._links import gate_links
from consent.cookies import cookie_names
from consent.gated_response import GatedBody, refusal, response_mime
from consent.state import ConsentState
from consent.visit import Visit

if TYPE_CHECKING:
    from consent.site import Site

__all__ = ["ConsentResponder", "websocket_send"]

# SVG documents run their scripts too (`<svg><script href=...>`): read as XML, like XHTML.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml"})
# Types that make a browser sniff the body as if there were none.
_UNKNOWN_TYPES = frozenset({"unknown/unknown", "application/unknown"})
_BODILESS = frozenset({204, 304})  # statuses that never carry a body


class ConsentResponder:
    """The `send` of one HTTP request under ConsentMiddleware.

    Args:
        site: the middleware's site.
        scope: the request's scope.
        visit: the request's consent.
        cookie_header: the request's Cookie header (its fields joined).
        carries: whether those cookies may include cookies of optional services.
        send: the server's `send`.
    """

    __slots__ = ("body", "carries", "cookie_header", "scope", "send_next", "site", "visit")

    def __init__(
        self,
        site: Site,
        scope: Scope,
        visit: Visit,
        cookie_header: bytes,
        carries: bool,
        send: Send,
    ) -> None:
        self.site = site
        self.scope = scope
        self.visit = visit
        self.cookie_header = cookie_header
        self.carries = carries
        self.send_next = send
        self.body: GatedBody | None = None  # set when the body goes through the gate

    async def __call__(self, message: Message) -> None:
        body = self.body
        if body is not None:
            await body.send(message)
        elif message["type"] == "http.response.start":
            message = self.start(message)
            if self.body is None:
                await self.send_next(message)
        else:
            await self.send_next(message)

    def start(self, message: Message) -> Message:
        """Enforce the choice on the response headers: the start message to send now, or,
        when the HTML body must be rewritten, the one `self.body` holds until it is."""
        headers: list[tuple[bytes, bytes]] = message.get("headers") or []
        visit = self.visit
        site = self.site
        scope = self.scope
        vary = visit.accessed
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
                links = site.hosts is not None  # it may preload from a declared host
            elif not key.islower() and key != key.lower():
                # ASGI asks for lower-case names, yet some apps send "Set-Cookie": their
                # headers are read, and passed on, in lower case (HTTP ignores the case).
                lowered = [(name.lower(), text) for name, text in headers]
                return self.start({**message, "headers": lowered})
        carries = self.carries
        body = scope["method"] != "HEAD" and message.get("status") not in _BODILESS
        mime = response_mime(types, site.mimes)
        # An HTML page, or a body a browser may sniff as HTML (no usable Content-Type).
        html = site.gate_html and (
            (mime is not None and mime.essence in HTML_TYPES)
            or (body and (mime is None or mime.essence in _UNKNOWN_TYPES))
        )
        changes = vary or has_cookies or carries or html or links or visit.copies
        if not (changes or visit.revalidated) and visit.reissue is None:
            return message  # nothing to change
        coding = content_coding(codings) if codings else ""
        if html and coding is None:
            head = scope["method"] == "HEAD"
            self.body = GatedBody(None, refusal(codings), self.send_next, error_body=not head)
            return message
        # Any iterable of pairs will do for ASGI; a list takes the headers added below.
        message = {**message, "headers": list(headers)}
        state = visit.state
        if has_cookies or carries:
            vary = self._enforce_cookies(message, state) or vary
        if links:
            vary = self._gate_links(message, state) or vary
        if validators and (html or (visit.revalidated and message.get("status") == 304)):
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
                self.body = GatedBody(page, message, self.send_next, mime=mime)
            else:
                # No body to gate, and the gated page's length is not known here: the
                # app's Content-Length (of the page before gating) would be wrong.
                message["headers"] = [h for h in message["headers"] if h[0] != b"content-length"]
        https = scope.get("scheme") == "https"
        if visit.reissue is not None:
            message["headers"].append((b"set-cookie", site.cookie_for(visit.reissue, https=https)))
            vary = True
        if visit.copies:
            host = Headers(scope=scope).get("host", "")
            for expired in site.cookies.expire_copies(host, scope["path"], https=https):
                message["headers"].append((b"set-cookie", expired))
            vary = True
        if vary:
            value = site.vary_localized if visit.localized else site.vary_bytes
            if has_vary:
                MutableHeaders(scope=message).add_vary_header(value.decode())
            else:
                message["headers"].append((b"vary", value))
        return message

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
        hosts = site.hosts
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


def websocket_send(site: Site, send: Send, visit: Visit) -> Send:
    """`send` for a WebSocket: the handshake's answer (`websocket.accept`, or a denial
    response under the ASGI extension) may carry Set-Cookie headers too."""
    guard = site.guard

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
