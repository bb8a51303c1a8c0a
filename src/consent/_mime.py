"""What a browser makes of a response: its MIME type and whether it sniffs the body as HTML
(WHATWG MIME Sniffing and Fetch), as far as the HTML gate needs to know. The encoding it
decodes the page with is in `consent._charset`."""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["Mime", "extract_mime", "parse_mime", "sniffs_html"]


class Mime(NamedTuple):
    """A parsed MIME type: its essence (`text/html`) and its charset parameter, if any."""

    essence: str
    charset: str | None


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QUOTED = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_HTTP_WS = "\t\n\r "


def parse_mime(text: str) -> Mime | None:
    """Parse a MIME type as the MIME Sniffing standard does; None when it is not valid."""
    text = text.strip(_HTTP_WS)
    kind, slash, rest = text.partition("/")
    if not slash or not _TOKEN.fullmatch(kind):
        return None
    subtype, _, params = rest.partition(";")
    subtype = subtype.rstrip(_HTTP_WS)
    if not _TOKEN.fullmatch(subtype):
        return None
    charset: str | None = None
    pos, end = 0, len(params)
    while pos < end and charset is None:
        while pos < end and params[pos] in _HTTP_WS:
            pos += 1
        stop = pos
        while stop < end and params[stop] not in ";=":
            stop += 1
        name = params[pos:stop].lower()
        pos = stop
        if pos >= end or params[pos] == ";":
            pos += 1
            continue
        pos += 1  # "="
        if pos < end and params[pos] == '"':
            value, pos = _quoted_string(params, pos)
            pos = params.find(";", pos)
            pos = end if pos < 0 else pos + 1
        else:
            stop = params.find(";", pos)
            stop = end if stop < 0 else stop
            value, pos = params[pos:stop].rstrip(_HTTP_WS), stop + 1
            if not value:
                continue
        # The first valid charset parameter counts; later ones are ignored.
        if name == "charset" and _QUOTED.fullmatch(value):
            charset = value
    return Mime(f"{kind}/{subtype}".lower(), charset)


def _quoted_string(text: str, pos: int) -> tuple[str, int]:
    """The value of the quoted string at `pos` (its opening quote), and where it ends."""
    out: list[str] = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        pos += 1
        if char == '"':
            break
        if char == "\\" and pos < len(text):
            char = text[pos]
            pos += 1
        out.append(char)
    return "".join(out), pos


def _split_values(text: str) -> list[str]:
    """Comma-separated values, commas inside quoted strings kept (Fetch's "split")."""
    values, start, quoted, pos = [], 0, False, 0
    while pos < len(text):
        char = text[pos]
        if char == '"':
            quoted = not quoted
        elif char == "\\" and quoted:
            pos += 1
        elif char == "," and not quoted:
            values.append(text[start:pos])
            start = pos + 1
        pos += 1
    values.append(text[start:])
    return values


def extract_mime(headers: list[bytes]) -> Mime | None:
    """The MIME type a browser reads from a response's Content-Type headers (Fetch's
    "extract a MIME type"): the last valid one, which keeps an earlier charset of the same
    essence. None when there is none (the browser then sniffs)."""
    found: Mime | None = None
    for header in headers:
        for value in _split_values(header.decode("latin-1")):
            mime = parse_mime(value)
            if mime is None or mime.essence == "*/*":
                continue
            if found is not None and mime.charset is None and mime.essence == found.essence:
                mime = Mime(mime.essence, found.charset)
            found = mime
    return found


# What "rules for identifying an unknown MIME type" find HTML by, after leading whitespace.
_HTML_PATTERNS = re.compile(
    rb"[\t\n\f\r ]*+(?:<(?i:!DOCTYPE HTML|HTML|HEAD|SCRIPT|IFRAME|H1|DIV|FONT|TABLE|A|STYLE"
    rb"|TITLE|B|BODY|BR|P)[ >]|<!--[ >])"
)
SNIFF_WINDOW = 1445  # the longest resource header the standard reads


def sniffs_html(head: bytes, final: bool) -> bool | None:
    """Whether a body without a usable Content-Type must be gated as HTML: when a browser
    may sniff it as HTML, and, failing closed, whenever its first byte after a byte order
    mark and whitespace is "<" (XML, which can hold XHTML scripts, among them) or there is
    only whitespace in the bytes a browser reads. None: more bytes are needed to tell."""
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :]
            break
    text = head.lstrip(b"\t\n\f\r ")
    if text:
        return text[:1] == b"<"
    return True if final or len(head) >= SNIFF_WINDOW else None


_BOMS = (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")
