"""The bytes of a gated page on their way to `HTMLGate`: decompressed, sniffed, and decoded
as the browser will decode them (see docs/enforcement.md, "compressed responses" and
"encodings")."""

from __future__ import annotations

import codecs
import importlib
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from consent._charset import (
    NOT_ASCII,
    PRESCAN_WINDOW,
    bom_encoding,
    codec,
    encoding_label,
    prescan,
    xml_encoding,
)
from consent._mime import Mime, sniffs_html
from consent.bounded_memo import remember
from consent.gating import HTMLGate

brotli: Any
try:
    brotli = importlib.import_module("brotli")
except ImportError:  # the optional extra: `pip install asgi-consent[brotli]`
    brotli = None

__all__ = ["AcceptEncodings", "BodyError", "GatedPage", "accept_encoding", "content_coding"]

_PIECE = 64 * 1024  # the most a decoder writes at once: a small input cannot fill memory
_BITE = 16 * 1024  # the most it reads at once (zlib copies what it leaves unread)


class BodyError(Exception):
    """The compressed body is corrupt: the page ends here."""


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...


class _Zlib:
    """gzip (several members in a row, as `gzip.decompress` reads them) or deflate, zlib
    wrapped or raw: browsers accept both, telling them apart by the zlib header."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._inflate: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._head = b""
        self._fresh = False  # between gzip members: the next bytes must start another
        self._done = False  # what follows the end of the data is ignored, as browsers do

    def feed(self, data: bytes) -> Iterator[bytes]:
        pos = 0
        try:
            while pos < len(data) and not self._done:
                if self._inflate is None or self._fresh:
                    # The first two bytes tell a zlib header, or the start of a member.
                    taken = data[pos : pos + 2 - len(self._head)]
                    self._head += taken
                    pos += len(taken)
                    if len(self._head) < 2:
                        return
                    yield from self._start(self._head)
                    self._head = b""
                    continue
                yield from self._inflated(data[pos : pos + _BITE])
                pos += _BITE
        except zlib.error as error:
            raise BodyError(str(error)) from None

    def _start(self, head: bytes) -> Iterator[bytes]:
        if self._fresh:
            self._fresh = False
            self._done = head != b"\x1f\x8b"
        else:
            wrapped = head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        if not self._done:
            yield from self._inflated(head)

    def _inflated(self, data: bytes) -> Iterator[bytes]:
        """The output of `data` (a bite), at most `_PIECE` bytes at a time."""
        while True:
            inflate = self._inflate
            out = inflate.decompress(data, _PIECE)
            if out:
                yield out
            if inflate.eof:
                rest = inflate.unused_data
                if not self._gzip or (rest and rest[:2] != b"\x1f\x8b"[: len(rest)]):
                    self._done = True
                    return
                self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                if len(rest) < 2:
                    self._fresh, self._head = True, rest
                    return
                data = rest
                continue
            data = inflate.unconsumed_tail
            if not data and len(out) < _PIECE:
                return


class _Brotli:
    def __init__(self) -> None:
        self._decompress = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        process = self._decompress.process
        try:
            for start in range(0, len(data), _BITE):
                if self._decompress.is_finished():
                    return
                out = process(data[start : start + _BITE], output_buffer_limit=_PIECE)
                # Output past the limit waits inside until asked for with empty input.
                while out:
                    yield out
                    out = process(b"", output_buffer_limit=_PIECE)
        except brotli.error as error:
            raise BodyError(str(error)) from None


def _codings() -> frozenset[str]:
    found = {"gzip", "x-gzip", "deflate"}
    if brotli is not None:
        found.add("br")
    return frozenset(found)


DECODED = _codings()
"""The content codings the middleware decodes; it asks apps for no other."""


def content_coding(values: list[bytes]) -> str | None:
    """The one coding the Content-Encoding headers name ("" for none); None when it is one
    the middleware cannot decode (unknown, or several stacked)."""
    names = [
        name
        for value in values
        for part in value.decode("latin-1").split(",")
        if (name := part.strip(" \t").lower()) and name != "identity"
    ]
    if not names:
        return ""
    return names[0] if len(names) == 1 and names[0] in DECODED else None


def accept_encoding(value: bytes) -> bytes:
    """An Accept-Encoding header without the codings the middleware cannot decode (`*`
    among them, which would let the app pick one)."""
    kept = [
        part.strip(b" \t")
        for part in value.split(b",")
        if part.split(b";", 1)[0].strip(b" \t").lower() in _ASKED
    ]
    return b", ".join(kept)


class AcceptEncodings:
    """`accept_encoding`, remembered for the few Accept-Encoding values browsers send (256
    values of up to 256 bytes). One per site."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[bytes, bytes] = {}

    def __call__(self, value: bytes) -> bytes:
        known = self._known.get(value)
        if known is None:
            known = accept_encoding(value)
            if len(value) <= 256:
                remember(self._known, value, known, size=256)
        return known


_ASKED = frozenset(name.encode() for name in DECODED | {"identity"})


def _decoder(coding: str) -> _Decoder | None:
    if coding in ("gzip", "x-gzip"):
        return _Zlib(gzip=True)
    if coding == "deflate":
        return _Zlib(gzip=False)
    if coding == "br":
        return _Brotli()
    return None


MakeGate = Callable[[str | None, bool], HTMLGate]
"""A gate for a page in this Python codec (None: not declared), XML or not."""


class GatedPage:
    """One gated page, fed the app's body as it comes: decompressed (`coding`), its head held
    until the browser's reading of it is known (whether a body without a Content-Type is
    HTML; the encoding, from its byte order mark, `mime`'s charset or a `<meta>` in its first
    1,024 bytes), then decoded to UTF-8 where its encoding is not ASCII-compatible, and
    gated. `charset` is then the charset the Content-Type must name (None: as it was)."""

    def __init__(self, coding: str, mime: Mime | None, make_gate: MakeGate) -> None:
        self._decoder = _decoder(coding)
        self._mime = mime
        self._make_gate = make_gate
        self._head = b""
        self._gate: HTMLGate | None = None
        self._text: codecs.IncrementalDecoder | None = None
        self._html = True
        self.decided = False
        self.charset: str | None = None
        self.identity = self._decoder is None  # not compressed

    def feed(self, chunk: bytes, final: bool) -> Iterator[bytes]:
        """What can be sent of the page after `chunk` (the last if `final`), in pieces of
        bounded size. Raises BodyError on corrupt compressed data."""
        if self._decoder is None:
            # (The last chunk in one step: what `_write(chunk)` and then `_write(b"")` at
            # the end would give, with the head decided and the page gated once.)
            yield from self._write(chunk, final=final)
            return
        for piece in self._decoder.feed(chunk):
            yield from self._write(piece, final=False)
        if final:
            yield from self._write(b"", final=True)

    def _write(self, data: bytes, final: bool) -> Iterator[bytes]:
        if not self.decided:
            self._head += data
            if not self._decide(final):
                return
            data, self._head = self._head, b""
            first = True
            if self._text is not None and bom_encoding(data) is not None:
                data = data[2:]  # the decoder would keep it as U+FEFF; a UTF-8 one replaces it
        else:
            first = False
        if not self._html:
            if data:
                yield data
            return
        if self._text is not None:
            data = (_UTF8_BOM if first else b"") + self._text.decode(data, final).encode()
        elif data.find(b"\x1b") >= 0:
            # An escape byte is how ISO-2022-JP switches to two-byte characters, in which
            # "<" or a quote may be half a character. A page in an ASCII-compatible encoding
            # has no use for it; without it, no browser that guesses or finds an ISO-2022-JP
            # label later (where the header declares none) reads the bytes otherwise.
            data = data.replace(b"\x1b", b"")
        gate = self._gate
        assert gate is not None
        if final:
            out = gate.close(data)  # the whole page in one piece: one pass
        else:
            out = gate.feed(data) if data else b""
        if out:
            yield out

    def _decide(self, final: bool) -> bool:
        """Settle how a browser reads the page, once the head says enough (or it ends)."""
        head = self._head
        mime = self._mime
        if mime is None:
            html = sniffs_html(head, final)
            if html is None:
                return False
            self._html = html
        if len(head) < 3 and not final:
            return False
        xml = mime is not None and mime.essence in ("application/xhtml+xml", "image/svg+xml")
        declared = None if mime is None or mime.charset is None else encoding_label(mime.charset)
        encoding = bom_encoding(head)
        if encoding is not None:
            # The byte order mark wins over the header: the header is corrected to match.
            if encoding != (declared or encoding) or encoding in NOT_ASCII:
                self.charset = "utf-8"
        elif declared is not None:
            encoding = declared
        elif xml:
            encoding = xml_encoding(head) or "utf-8"
        elif self._html:
            if len(head) < PRESCAN_WINDOW and not final:
                return False
            encoding = prescan(head)
        self.decided = True
        if not self._html:
            return True
        name = None if encoding is None else codec(encoding)
        if encoding in NOT_ASCII:
            # Decoded, and sent as UTF-8: what the gate reads is what the browser reads.
            assert name is not None
            self._text = codecs.getincrementaldecoder(name)("replace")
            name = "utf-8"
            self.charset = "utf-8"
        self._gate = self._make_gate(name, xml)
        return True


_UTF8_BOM = b"\xef\xbb\xbf"
