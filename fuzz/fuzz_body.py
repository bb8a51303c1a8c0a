"""Fuzz the response path that decides what a browser reads as HTML: Content-Type parsing,
sniffing, content codings (gzip, deflate, br, and ones the middleware cannot decode), byte
order marks, charsets and the `<meta>` prescan, through the whole middleware.

Properties (an `AssertionError` names the one that broke):

* the middleware never answers 500 and never raises, whatever the headers and body;
* a response a browser renders as HTML, decoded as the browser decodes it (its content
  coding undone, its encoding found as html5lib finds it: byte order mark, then the
  header's charset, then the `<meta>` prescan), holds no refused element that a browser
  would run or load (the gating target's oracle, scripting on and off);
* a coding the middleware cannot decode never reaches the browser on an HTML page;
* a `Link` header keeps no entry that fetches from a refused URL, and only ever loses some.

Run: `.venv/bin/python -m fuzz.fuzz_body [libFuzzer options] [corpus dirs]`.
"""

from __future__ import annotations

import gzip
import re
import zlib

import brotli
from html5lib._inputstream import HTMLBinaryInputStream
from starlette.types import ASGIApp, Receive, Scope, Send

from consent import ConsentMiddleware
from consent._links import gate_links
from fuzz._common import KEY, POLICY, Reader, call_asgi, response_headers, run_fuzzer
from fuzz.fuzz_gating import active_gated

__all__ = ["check", "main"]

_TYPES = [
    b"text/html",
    b"text/html; charset=utf-8",
    b"TEXT/HTML ; Charset=UTF-16",
    b"text/html; charset=utf-16le",
    b"text/html; charset=iso-2022-jp",
    b"text/html; charset=windows-1252",
    b"text/html; charset=bogus",
    b"application/xhtml+xml",
    b"text/plain",
    b"text/plain; x=text/html",
    b"unknown/unknown",
    b"",
]
_CODINGS = [b"", b"identity", b"gzip", b"x-gzip", b"deflate", b"br", b"zstd", b"gzip, gzip"]
_ENCODINGS = ["utf-8", "utf-16-le", "utf-16-be", "iso-2022-jp", "windows-1252"]
_BOMS = {"utf-8": b"\xef\xbb\xbf", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}
_REFUSED = '<script data-consent="analytics" src="/a.js"></script>'
_PIECES = [
    _REFUSED,
    '<iframe data-consent="marketing" src="https://v.example/e"></iframe>',
    '<img data-consent="analytics" src="/p.gif">',
    '<meta charset="utf-16">',
    '<meta http-equiv="content-type" content="text/html; charset=iso-2022-jp">',
    "<!--",
    "-->",
    "\x1b$B",
    "<p>Grüße ✓</p>",
]


def _compress(coding: bytes, body: bytes, reader: Reader) -> bytes:
    if coding in (b"gzip", b"x-gzip"):
        body = gzip.compress(body)
    elif coding == b"deflate":
        body = zlib.compress(body) if reader.byte() & 1 else _raw_deflate(body)
    elif coding == b"br":
        body = brotli.compress(body)
    elif coding == b"gzip, gzip":
        body = gzip.compress(gzip.compress(body))
    if body and reader.byte() % 8 == 0:  # corrupt it
        at = reader.u16() % len(body)
        body = body[:at] + bytes([body[at] ^ 0xFF]) + body[at + 1 :]
    return body


def _raw_deflate(body: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-15)
    return packer.compress(body) + packer.flush()


def _decompress(coding: bytes, body: bytes) -> bytes | None:
    """The body as a browser decodes it; None when it could not (it shows nothing)."""
    try:
        if coding in (b"gzip", b"x-gzip"):
            return zlib.decompressobj(wbits=47).decompress(body)
        if coding == b"deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, wbits=-15)
        if coding == b"br":
            return bytes(brotli.decompress(body))
    except (zlib.error, brotli.error):
        return None
    return body


def _app(status_body: tuple[list[tuple[bytes, bytes]], list[bytes]]) -> ASGIApp:
    headers, chunks = status_body

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for index, chunk in enumerate(chunks):
            more = index < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


# The MIME Sniffing standard's HTML patterns (after leading whitespace, case-insensitive,
# each followed by a space or ">"), for a body with no usable Content-Type.
_SNIFFED = re.compile(
    rb"[\t\n\f\r ]*<(?i:!DOCTYPE HTML|HTML|HEAD|SCRIPT|IFRAME|H1|DIV|FONT|TABLE|A|STYLE|"
    rb"TITLE|B|BODY|BR|P|!--)[ >]"
)


def _rendered_as_html(content_type: bytes | None, body: bytes) -> bool:
    """Whether a browser renders the response as HTML (a byte order mark before the markup
    makes a body without a type plain text, as the standard says)."""
    essence = b"" if content_type is None else content_type.split(b";")[0].strip().lower()
    if essence in (b"", b"unknown/unknown", b"application/unknown", b"*/*"):
        return _SNIFFED.match(body) is not None
    return essence in (b"text/html", b"application/xhtml+xml")


def _charset(content_type: bytes | None) -> str | None:
    if not content_type:
        return None
    for parameter in content_type.split(b";")[1:]:
        name, _, value = parameter.partition(b"=")
        if name.strip().lower() == b"charset":
            return value.strip().strip(b'"').decode("latin-1") or None
    return None


def check_links(value: bytes) -> None:
    """A `Link` header: the filter never raises, keeps no entry that fetches from a refused
    URL (what it keeps has nothing left to drop), only ever drops, and reads it once."""
    kept = gate_links(value, _refuses_tracker)
    if kept is not None:
        assert len(kept) <= len(value), f"grew: {value!r}"
        assert gate_links(kept, _refuses_tracker) == kept, f"left a fetch in {kept!r}"


def _refuses_tracker(url: str) -> bool:
    return "tracker" in url


def check(data: bytes) -> None:
    reader = Reader(data)
    if reader.byte() % 8 == 7:  # a Link header built from the rest
        check_links(reader.rest())
        return
    encoding = _ENCODINGS[reader.byte() % len(_ENCODINGS)]
    text = "".join(
        _PIECES[reader.byte() % len(_PIECES)] if reader.byte() & 1 else "x"
        for _ in range(reader.byte() % 8 + 1)
    )
    text += reader.take(reader.byte() % 64).decode("latin-1")
    if reader.byte() & 1:
        text += _REFUSED
    page = text.encode(encoding, "replace")
    if reader.byte() % 3 == 0 and encoding in _BOMS:
        page = _BOMS[encoding] + page
    content_type = _TYPES[reader.byte() % len(_TYPES)]
    coding = _CODINGS[reader.byte() % len(_CODINGS)]
    body = _compress(coding, page, reader)
    headers = [(b"content-type", content_type)] if content_type else []
    if coding:
        headers.append((b"content-encoding", coding))
    cut = reader.u16() % (len(body) + 1)
    chunks = [body[:cut], body[cut:]] if reader.byte() & 1 else [body]
    app = ConsentMiddleware(_app((headers, chunks)), policy=POLICY, secret_key=KEY)
    accept = [(b"accept-encoding", b"gzip, deflate, br, zstd")] if reader.byte() & 1 else []
    messages = call_asgi(app, "GET", "/", accept, [])
    start = messages[0]
    status = start["status"]
    assert status != 500, f"500 for {headers!r}"
    if status != 200:
        assert status == 502, f"status {status} for {headers!r}"
        return
    sent = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    types = response_headers(messages, b"content-type")
    sent_type = types[-1] if types else None
    codings = response_headers(messages, b"content-encoding")
    sent_coding = codings[-1].strip().lower() if codings else b""
    if not _rendered_as_html(sent_type, sent):
        return
    assert sent_coding in (b"", b"identity", b"gzip", b"x-gzip", b"deflate", b"br"), (
        f"an HTML page left with a coding no one decoded: {sent_coding!r}"
    )
    decoded = _decompress(sent_coding, sent)
    if decoded is None:
        return  # the browser shows an error, runs nothing
    stream = HTMLBinaryInputStream(decoded, transport_encoding=_charset(sent_type))
    as_read = stream.charEncoding[0].name
    try:
        read = decoded.decode(as_read, "replace")
    except LookupError:
        return
    active = active_gated(read.encode("utf-8"))
    assert not active, f"active though refused ({as_read}, {headers!r}): {active}"


def main() -> None:
    run_fuzzer("fuzz.fuzz_body")


if __name__ == "__main__":
    main()
