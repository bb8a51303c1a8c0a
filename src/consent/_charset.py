"""The character encoding a browser decodes a page with: the WHATWG Encoding standard's
labels, a byte order mark, and the HTML standard's prescan of the first 1,024 bytes for a
`<meta charset>`, as far as the HTML gate needs to know."""

from __future__ import annotations

import re

__all__ = [
    "NOT_ASCII",
    "PRESCAN_WINDOW",
    "bom_encoding",
    "codec",
    "encoding_label",
    "prescan",
    "xml_encoding",
]

# The WHATWG Encoding standard's labels for the encodings a page can be decoded with, and the
# Python codec that decodes each. All the labels of the encodings that are not ASCII-compatible
# (UTF-16, ISO-2022-JP) are here, as the gate must transcode those; of the others, the labels
# that are in use. An unknown label is ignored, as browsers ignore it.
_LABELS: dict[str, str] = {
    "utf-8": "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8",
    "utf-16le": "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le",
    "utf-16be": "unicodefffe utf-16be",
    "iso-2022-jp": "csiso2022jp iso-2022-jp",
    "replacement": "csiso2022kr hz-gb-2312 iso-2022-cn iso-2022-cn-ext iso-2022-kr replacement",
    "windows-1252": "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100"
    " iso8859-1 iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252",
    "shift_jis": "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis",
    "euc-jp": "cseucpkdfmtjapanese euc-jp x-euc-jp",
    "gbk": "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk",
    "gb18030": "gb18030",
    "big5": "big5 big5-hkscs cn-big5 csbig5 x-x-big5",
    "euc-kr": "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989"
    " ksc5601 ksc_5601 windows-949",
    "iso-8859-2": "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 l2 latin2",
    "iso-8859-15": "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9 latin-9",
    "koi8-r": "cskoi8r koi koi8 koi8-r koi8_r",
    "x-user-defined": "x-user-defined",
    **{f"windows-125{n}": f"cp125{n} windows-125{n} x-cp125{n}" for n in "01345678"},
}
_ENCODINGS = {label: name for name, labels in _LABELS.items() for label in labels.split()}
# The Python codec for each encoding. "replacement" turns the whole body into one U+FFFD in
# a browser, which then runs nothing: it is gated as ASCII, which changes nothing either.
_CODECS = {
    "utf-8": "utf-8",
    "utf-16le": "utf-16-le",
    "utf-16be": "utf-16-be",
    "iso-2022-jp": "iso2022_jp",
    "replacement": "cp1252",
    "windows-1252": "cp1252",
    "shift_jis": "cp932",
    "euc-jp": "euc_jp",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "big5": "big5hkscs",
    "euc-kr": "cp949",
    "iso-8859-2": "iso8859_2",
    "iso-8859-15": "iso8859_15",
    "koi8-r": "koi8_r",
    "x-user-defined": "latin-1",
    **{f"windows-125{n}": f"cp125{n}" for n in "01345678"},
}
NOT_ASCII = frozenset({"utf-16le", "utf-16be", "iso-2022-jp"})
"""Encodings in which the bytes of "<", quotes and letters may mean other characters."""


def encoding_label(label: str) -> str | None:
    """The encoding a label names ("get an encoding"), or None for an unknown label."""
    return _ENCODINGS.get(label.strip("\t\n\f\r ").lower())


def codec(encoding: str) -> str:
    """The Python codec that decodes `encoding` (a name `encoding_label` returns)."""
    return _CODECS[encoding]


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte order mark at the start of `head` names (it overrides all else)."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    if head.startswith(b"\xfe\xff"):
        return "utf-16be"
    if head.startswith(b"\xff\xfe"):
        return "utf-16le"
    return None


PRESCAN_WINDOW = 1024
_WS_BYTES = b"\t\n\f\r "
_META = re.compile(rb"<(?i:meta)[\t\n\f\r /]")
_XML_ENCODING = re.compile(rb"<\?xml[\t\n\r ][^>]*?encoding[\t\n\r ]*=[\t\n\r ]*[\"']([^\"']*)")


def xml_encoding(head: bytes) -> str | None:
    """The encoding an XML document declares in its first bytes (UTF-16 by its shape)."""
    if head.startswith(b"<\x00?\x00"):
        return "utf-16le"
    if head.startswith(b"\x00<\x00?"):
        return "utf-16be"
    found = _XML_ENCODING.match(head)
    return None if found is None else encoding_label(found.group(1).decode("latin-1"))


def prescan(data: bytes) -> str | None:
    """The encoding a `<meta charset>` or `<meta http-equiv="content-type">` declares in the
    first 1,024 bytes (the HTML standard's prescan), or None."""
    data = data[:PRESCAN_WINDOW]
    if _META.search(data) is None:
        return None  # the common case, found at C speed
    end = len(data)
    pos = 0
    while True:
        pos = data.find(b"<", pos)
        if pos < 0:
            return None
        if data.startswith(b"<!--", pos):
            close = data.find(b"-->", pos + 2)
            if close < 0:
                return None
            pos = close + 3
        elif _META.match(data, pos):
            pos += 5
            found, pos = _meta(data, pos)
            if found is not None:
                return found
            if pos >= end:
                return None
        elif data[pos + 1 : pos + 2].isalpha() or (
            data[pos + 1 : pos + 2] == b"/" and data[pos + 2 : pos + 3].isalpha()
        ):
            while pos < end and data[pos] not in b"\t\n\f\r >":
                pos += 1
            while True:
                attribute, pos = _attribute(data, pos)
                if attribute is None:
                    break
            pos += 1
        elif data[pos + 1 : pos + 2] in (b"!", b"/", b"?"):
            close = data.find(b">", pos + 1)
            if close < 0:
                return None
            pos = close + 1
        else:
            pos += 1
        if pos >= end:
            return None


def _meta(data: bytes, pos: int) -> tuple[str | None, int]:
    """Read the attributes of a `<meta` (from after its name): what encoding it declares."""
    seen: set[bytes] = set()
    pragma = False
    need: bool | None = None  # (None: no charset found yet, the standard's "null")
    charset: str | None = None  # (None with `need` set: an unknown label)
    while True:
        attribute, pos = _attribute(data, pos)
        if attribute is None:
            break
        name, value = attribute
        if name in seen:
            continue  # a repeated attribute is ignored
        seen.add(name)
        if name == b"http-equiv":
            pragma = pragma or value == b"content-type"
        elif name == b"content" and need is None:
            found = _charset_in_content(value)
            label = None if found is None else encoding_label(found.decode("latin-1"))
            if label is not None:
                charset, need = label, True
        elif name == b"charset":
            charset, need = encoding_label(value.decode("latin-1")), False
    if pos >= len(data) or need is None or (need and not pragma) or charset is None:
        return None, pos
    if charset in ("utf-16le", "utf-16be"):
        charset = "utf-8"  # a page that can say so in ASCII is not UTF-16
    elif charset == "x-user-defined":
        charset = "windows-1252"
    return charset, pos


# The prescan's "get an attribute", in one match: blanks and slashes, then a name (its first
# byte may be "="), then "=" and a value (quoted, or up to a blank or ">"), or no value when
# the name ends at "/", ">" or blanks not followed by "=". No match: the bytes end first.
_PRESCAN_ATTRIBUTE = re.compile(
    rb"[\t\n\f\r /]*+([^\t\n\f\r />][^\t\n\f\r /=>]*+)(?:"
    rb"[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    rb"(?:\"([^\"]*+)\"|'([^']*+)'|(?=>)|([^\t\n\f\r >\"'][^\t\n\f\r >]*+)(?=[\t\n\f\r >]))"
    rb"|[\t\n\f\r ]*+(?=[^\t\n\f\r =])"
    rb")"
)
_PRESCAN_END = re.compile(rb"[\t\n\f\r /]*+>")


def _attribute(data: bytes, pos: int) -> tuple[tuple[bytes, bytes] | None, int]:
    """The prescan's "get an attribute": (lower-case name, lower-case value) and where it
    stops; None at a ">" (where it stops), or where the bytes end first (at their end)."""
    close = _PRESCAN_END.match(data, pos)
    if close is not None:
        return None, close.end() - 1
    found = _PRESCAN_ATTRIBUTE.match(data, pos)
    if found is None:
        return None, len(data)
    name, double, single, bare = found.groups()
    value = double if double is not None else single if single is not None else bare or b""
    return (name.lower(), value.lower()), found.end()


_CHARSET_WORD = re.compile(rb"charset", re.IGNORECASE)
_CONTENT_CHARSET = re.compile(rb"charset[\t\n\f\r ]*=[\t\n\f\r ]*", re.IGNORECASE)


def _charset_in_content(value: bytes) -> bytes | None:
    """The charset in a meta's `content` ("extract a character encoding from a meta element")."""
    pos = 0
    while True:
        found = _CHARSET_WORD.search(value, pos)
        if found is None:
            return None
        at = _CONTENT_CHARSET.match(value, found.start())
        if at is None:
            pos = found.end()
            continue
        rest = value[at.end() :]
        if rest[:1] in (b'"', b"'"):
            close = rest.find(rest[:1], 1)
            return None if close < 0 else rest[1:close]
        stop = re.search(rb"[\t\n\f\r ;]", rest)
        text = rest if stop is None else rest[: stop.start()]
        return text or None
