"""The body of a gated HTML response, on its way out: the held start message, then the
rewritten chunks (or, when the page cannot be read safely, a 502 in its place)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import NamedTuple

import anyio
import anyio.lowlevel
from starlette.types import Message, Send

from consent._mime import Mime, extract_mime
from consent.bounded_memo import remember
from consent.html_body import BodyError, GatedPage

__all__ = [
    "HTML_TYPES",
    "GatedBody",
    "GatedPages",
    "GatedText",
    "ResponseType",
    "ResponseTypes",
    "error_page",
    "refusal",
]

logger = logging.getLogger("consent")

ERROR_BODY = b"502 Bad Gateway: the page could not be read safely.\n"
_FILE_CHUNK = 64 * 1024
_SLICE = 32 * 1024  # how much of a body the gate reads between two checkpoints


# SVG documents run their scripts too (`<svg><script href=...>`): read as XML, like XHTML.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml"})
# Types that make a browser sniff the body as if there were none.
_UNKNOWN_TYPES = frozenset({"unknown/unknown", "application/unknown"})


class ResponseType(NamedTuple):
    """What the middleware makes of a response's Content-Type."""

    mime: Mime | None
    """The MIME type a browser reads from it (None: none)."""
    gated: bool
    """An HTML type: the body goes through the gate."""
    sniffed: bool
    """No usable type: a browser may sniff the body as HTML, so a body goes through the gate."""


class ResponseTypes:
    """Reads Content-Type headers for one site. An app sends the same few types again and
    again: the answer for a single header is remembered (256 values of up to 256 bytes).

    Args:
        gate_html: whether the site gates HTML at all (if not, nothing is `gated` or
            `sniffed`).
    """

    __slots__ = ("gate_html", "known", "missing")

    def __init__(self, gate_html: bool) -> None:
        self.gate_html = gate_html
        self.known: dict[bytes, ResponseType] = {}
        """The answers remembered, by header value (read it, never write it)."""
        self.missing = self._kind(None)
        """The answer for a response without Content-Type."""

    def __repr__(self) -> str:
        return f"<ResponseTypes gate_html={self.gate_html}>"

    def of(self, value: bytes) -> ResponseType:
        """The answer for one Content-Type header `value`."""
        known = self.known.get(value)
        if known is None:
            known = self._kind(extract_mime([value]))
            if len(value) <= 256:
                remember(self.known, value, known, size=256)
        return known

    def of_all(self, values: list[bytes]) -> ResponseType:
        """The answer for a response's Content-Type headers (several are read as browsers
        read them)."""
        if len(values) == 1:
            return self.of(values[0])
        return self._kind(extract_mime(values)) if values else self.missing

    def _kind(self, mime: Mime | None) -> ResponseType:
        if not self.gate_html:
            return ResponseType(mime, False, False)
        if mime is None:
            return ResponseType(None, False, True)
        return ResponseType(mime, mime.essence in HTML_TYPES, mime.essence in _UNKNOWN_TYPES)


class GatedText(NamedTuple):
    """A whole page as the gate wrote it, and the charset it was decoded from when that
    differs from the response's header (see `GatedPage.charset`)."""

    body: bytes
    charset: str | None


PageKey = tuple[tuple[frozenset[str], frozenset[str]], Mime | None, bytes]
"""(the consent a page is gated for, its MIME type, the page's bytes)."""


class GatedPages:
    """Whole pages gated before: a site sends the same page to many visitors and the same
    few consents recur, so a page is gated once per consent while it is remembered.

    The gate's output depends on nothing else than what the key holds (the consent's
    categories and services, the MIME type and its charset, the page's bytes) and the
    site, which owns this memo. Bounded: pages of up to 64 KiB, 8 MiB of pages in all
    (emptied when full, like every memo here).
    """

    __slots__ = ("_known", "_size")

    LONGEST = 64 * 1024
    """The longest page remembered."""
    BUDGET = 8 * 1024 * 1024
    """How many bytes of pages (as the app sent them and as gated) are remembered at most."""

    def __init__(self) -> None:
        self._known: dict[PageKey, GatedText] = {}
        self._size = 0

    def __len__(self) -> int:
        return len(self._known)

    def __repr__(self) -> str:
        return f"<GatedPages {len(self._known)} pages>"

    def get(self, key: PageKey) -> GatedText | None:
        """The page gated before for `key`, or None."""
        return self._known.get(key)

    def keep(self, key: PageKey, gated: GatedText) -> None:
        """Remember `gated` for `key` (a page no longer than `LONGEST`)."""
        size = len(key[2]) + len(gated.body)
        if self._size + size > self.BUDGET:
            self._known.clear()
            self._size = 0
        self._known[key] = gated
        self._size += size


def error_page() -> Message:
    """The start of a plain 502 answer, whose body is `ERROR_BODY`."""
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(ERROR_BODY)).encode()),
        (b"cache-control", b"no-store"),
    ]
    return {"type": "http.response.start", "status": 502, "headers": headers}


def refusal(codings: list[bytes]) -> Message:
    """The error page sent for an HTML page in a coding the middleware cannot decode."""
    named = b", ".join(codings).decode("latin-1")[:60]
    logger.warning(
        "consent: an HTML page came with Content-Encoding %r, which the middleware cannot"
        " decode: it answered 502 instead (for br, install asgi-consent[brotli])",
        named,
    )
    return error_page()


class GatedBody:
    """The rest of a gated HTML response: the held start message, then rewritten chunks.
    Without a `page`, the start message is an error page sent instead of the app's body.

    Args:
        page: the gate and decoder for this body (None: send `start`, an error page).
        start: the response's start message, held until the first gated bytes.
        mime: the response's MIME type (its charset is rewritten when the gate decoded
            the page from another encoding).
        send: the server's `send`.
        error_body: whether an error page gets its body (not for HEAD).
        pause: awaited between two slices of a large body (by default a checkpoint that
            lets the event loop run other tasks; the WSGI middleware, which has no loop
            there, gives one that never suspends).
    """

    __slots__ = (
        "charset",
        "consent",
        "done",
        "error_body",
        "fed",
        "mime",
        "page",
        "pages",
        "pause",
        "send_next",
        "start",
    )

    def __init__(
        self,
        page: GatedPage | None,
        start: Message,
        send: Send,
        *,
        mime: Mime | None = None,
        error_body: bool = True,
        pages: GatedPages | None = None,
        consent: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset()),
        pause: Callable[[], Awaitable[None]] = anyio.lowlevel.checkpoint,
    ) -> None:
        self.page = page
        self.pause = pause
        self.start: Message | None = start
        self.mime = mime
        self.send_next = send
        self.done = False  # the response has ended: what the app still sends is dropped
        self.error_body = error_body
        self.pages = pages
        self.consent = consent  # what the page is gated for: (categories, services)
        self.fed = False  # the gate has read part of the body
        self.charset: str | None = None  # the charset of a remembered page

    async def send(self, message: Message) -> None:
        """Take one message of the app's response."""
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
        body = message.get("body", b"")
        if (
            not more
            and not self.fed
            and self.pages is not None
            and page.identity
            and len(body) <= GatedPages.LONGEST
        ):
            await self._whole(page, body, self.pages)
            return
        self.fed = True
        # Each piece is sent as it comes: a small compressed body may decode to a large page.
        pending = None
        try:
            for piece in await self._gated(page, body, more):
                if pending is not None:
                    await self._write(pending, more=True)
                pending = piece
        except BodyError as error:
            logger.warning("consent: a compressed HTML page is corrupt (%s): it ends here", error)
            await self._end(error_page())
            return
        if not more:
            await self._write(pending or b"", more=False)
        elif pending:
            await self._write(pending, more=True)

    async def _whole(self, page: GatedPage, body: bytes, pages: GatedPages) -> None:
        """A whole uncompressed page in one message: as gated before for the same consent,
        or gated now and remembered."""
        key = (self.consent, self.mime, body)
        found = pages.get(key)
        if found is None:
            found = GatedText(b"".join(await self._gated(page, body, False)), page.charset)
            pages.keep(key, found)
        self.charset = found.charset
        await self._write(found.body, more=False)

    async def _gated(self, page: GatedPage, body: bytes, more: bool) -> Iterable[bytes]:
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
                await self.pause()
        return [b"".join(out)]

    async def _write(self, body: bytes, more: bool) -> None:
        if self.start is not None:
            # (The start message's headers are a list of our own here, names in lower case.)
            headers = self.start["headers"]
            if any(key == b"content-length" for key, _ in headers):
                kept = [h for h in headers if h[0] != b"content-length"]
                if not more:  # else the length changes: stream it chunked
                    kept.append((b"content-length", str(len(body)).encode()))
                self.start["headers"] = kept
            charset = self.charset or (None if self.page is None else self.page.charset)
            if charset is not None and self.mime is not None:
                # Sent in another encoding than the header said (UTF-16 decoded, or a byte
                # order mark that overrides the header, as it does in browsers).
                kept = [h for h in self.start["headers"] if h[0] != b"content-type"]
                written = f"{self.mime.essence}; charset={charset}".encode()
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
            body = ERROR_BODY if self.error_body else b""
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
