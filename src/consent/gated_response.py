"""The body of a gated HTML response, on its way out: the held start message, then the
rewritten chunks (or, when the page cannot be read safely, a 502 in its place)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import anyio
import anyio.lowlevel
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Send

from consent._body import BodyError, GatedPage
from consent._mime import Mime, extract_mime
from consent.bounded_memo import remember

__all__ = ["GatedBody", "error_page", "refusal", "response_mime"]

logger = logging.getLogger("consent")

ERROR_BODY = b"502 Bad Gateway: the page could not be read safely.\n"
_FILE_CHUNK = 64 * 1024
_SLICE = 32 * 1024  # how much of a body the gate reads between two checkpoints


def response_mime(types: list[bytes], memo: dict[bytes, tuple[Mime | None]]) -> Mime | None:
    """The MIME type a browser reads from these Content-Type headers (None: none).
    `memo` remembers the answer for a single header: an app sends the same few types
    again and again."""
    if len(types) != 1:
        return extract_mime(types) if types else None
    known = memo.get(types[0])
    if known is None:
        known = (extract_mime(types),)
        if len(types[0]) <= 256:
            remember(memo, types[0], known, size=256)
    return known[0]


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
    """

    __slots__ = ("done", "error_body", "mime", "page", "send_next", "start")

    def __init__(
        self,
        page: GatedPage | None,
        start: Message,
        send: Send,
        *,
        mime: Mime | None = None,
        error_body: bool = True,
    ) -> None:
        self.page = page
        self.start: Message | None = start
        self.mime = mime
        self.send_next = send
        self.done = False  # the response has ended: what the app still sends is dropped
        self.error_body = error_body

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
        # Each piece is sent as it comes: a small compressed body may decode to a large page.
        pending = None
        try:
            for piece in await self._gated(page, message.get("body", b""), more):
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
