"""The gate reads what the browser reads: compressed pages, HTML under other types or none,
pages in UTF-16 and other encodings, hosts spelled in Unicode (A2: no active tracker before a
choice, whatever the bytes look like on the wire).

Through the real middleware, with raw ASGI apps and a Starlette app."""

from __future__ import annotations

import functools
import gzip
import itertools
import logging
import subprocess
import sys
import unicodedata
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import brotli
import idna
import pytest
from html5lib._inputstream import EncodingParser
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from consent import ConsentMiddleware, Policy
from consent._charset import codec, prescan
from consent.gating import browser_host
from consent.gating.hosts import fold_host, punycode_host
from tests.conftest import POLICY_DATA, SECRET, call_asgi
from tests.test_enforce import PAGE, RawApp, client, raw_app

ROOT = Path(__file__).resolve().parent.parent
GATED = PAGE.replace(b"<script", b'<script type="text/plain"')


def messages(app: RawApp, headers: list[tuple[bytes, bytes]] | None = None) -> list[Message]:
    policy = Policy.model_validate(POLICY_DATA)
    wrapped = ConsentMiddleware(app, policy=policy, secret_key=SECRET)
    return call_asgi(wrapped, "GET", "/", headers or [], [b""])


def body_of(sent: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent[1:])


def header(sent: list[Message], name: bytes) -> list[bytes]:
    return [value for key, value in sent[0]["headers"] if key == name]


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)] or [b""]


# --- compressed responses -------------------------------------------------------------------

CODINGS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,  # zlib-wrapped, as the standard says
    "DEFLATE": lambda data: zlib.compress(data)[2:-4],  # raw, as many servers send it
    "br": brotli.compress,
}


@settings(max_examples=40, deadline=None)
@given(
    coding=st.sampled_from(sorted(CODINGS)),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
    copies=st.integers(min_value=1, max_value=30),
)
def test_compressed_html_is_gated_and_sent_decoded(
    coding: str, cuts: list[int], copies: int
) -> None:
    """A2: gzip, x-gzip, deflate (zlib-wrapped or raw) and br pages are decoded, gated and
    sent without a Content-Encoding, however the compressed bytes are cut into messages."""
    page = PAGE * copies
    encoded = CODINGS[coding](page)
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-encoding", coding.encode()),
        (b"content-length", str(len(encoded)).encode()),
        (b"vary", b"Accept-Encoding"),
    ]
    sent = messages(raw_app(headers, chunked(encoded, cuts)))
    assert body_of(sent) == GATED * copies
    assert header(sent, b"content-encoding") == []
    lengths = header(sent, b"content-length")
    assert lengths in ([], [str(len(GATED * copies)).encode()])
    assert b"Accept-Encoding" in header(sent, b"vary")[0]


def test_gzip_middleware_inside_consent_middleware_is_gated() -> None:
    """A2: Starlette's GZipMiddleware placed inside ConsentMiddleware compresses the page for a
    browser that accepts gzip; the middleware decodes and gates it all the same."""

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE.decode() * 100)

    app = Starlette(
        routes=[Route("/", page)],
        middleware=[
            Middleware(
                ConsentMiddleware, policy=Policy.model_validate(POLICY_DATA), secret_key=SECRET
            ),
            Middleware(GZipMiddleware, minimum_size=10),
        ],
    )
    response = TestClient(app).get("/", headers={"accept-encoding": "gzip, deflate, br, zstd"})
    assert response.content == GATED * 100
    assert "content-encoding" not in response.headers
    assert "Accept-Encoding" in response.headers["vary"]


# Run in a fresh interpreter where `import brotli` fails, as on a site without the brotli
# extra: what the middleware then asks the app for, and what a br page becomes.
_WITHOUT_BROTLI = """
import logging, sys
sys.modules["brotli"] = None  # `import brotli` raises ImportError from here on
sys.path[:0] = [{root!r}]
from consent import ConsentMiddleware, Policy
from tests.conftest import POLICY_DATA, SECRET, call_asgi
policy = Policy.model_validate(POLICY_DATA)
seen = []
async def app(scope, receive, send):
    seen.extend(v for k, v in scope["headers"] if k == b"accept-encoding")
    kind = b"text/html" if scope["path"] == "/br" else b"text/plain"
    headers = [(b"content-type", kind)]
    if kind == b"text/html":
        headers.append((b"content-encoding", b"br"))
    await send({{"type": "http.response.start", "status": 200, "headers": headers}})
    body = bytes.fromhex(sys.argv[2])  # a valid br body: with brotli it would be gated
    await send({{"type": "http.response.body", "body": body}})
middleware = ConsentMiddleware(app, policy=policy, secret_key=SECRET)
if sys.argv[1] == "seen_accept_encoding":
    ask = [(b"accept-encoding", b"gzip, deflate, br;q=0.9, zstd, *;q=0.1")]
    call_asgi(middleware, "GET", "/", ask, [b""])
    print(seen[0].decode())
else:
    records = []
    logging.getLogger("consent").addHandler(logging.Handler())
    logging.getLogger("consent").handlers[-1].emit = records.append
    sent = call_asgi(middleware, "GET", "/br", [], [b""])
    body = b"".join(m.get("body", b"") for m in sent[1:])
    kind = dict(sent[0]["headers"])[b"content-type"].decode()
    assert b"<script" not in body
    print(sent[0]["status"], kind, "br" if any("br" in r.getMessage() for r in records) else "-")
"""


BR_PAGE = brotli.compress(b"<html><script src=/x.js></script>")


def without_brotli(what: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_BROTLI.format(root=str(ROOT)), what, BR_PAGE.hex()],
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard only
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_the_app_is_asked_only_for_codings_the_middleware_decodes() -> None:
    """A2: codings the middleware cannot decode (zstd, `*`, br without the brotli module) are
    taken out of the request's Accept-Encoding, so that a well-behaved app never uses them."""
    seen: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.extend(v for k, v in scope["headers"] if k == b"accept-encoding")
        await raw_app([(b"content-type", b"text/plain")])(scope, receive, send)

    ask = [(b"accept-encoding", b"gzip, deflate, br;q=0.9, zstd, *;q=0.1")]
    messages(app, ask)
    assert seen == [b"gzip, deflate, br;q=0.9"]
    # Without the brotli module, br is taken out too.
    assert without_brotli("seen_accept_encoding") == "gzip, deflate"


@pytest.mark.parametrize("coding", [b"zstd", b"gzip, gzip", b"compress", b"br"])
def test_a_coding_the_middleware_cannot_decode_fails_closed(
    coding: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A2: an HTML page in a coding the middleware cannot decode (br counts as one without the
    brotli module) never reaches the browser: a plain 502 replaces it, and a warning names
    the coding."""
    if coding == b"br":  # a coding it decodes only with the brotli module
        assert without_brotli("br_page") == "502 text/plain; charset=utf-8 br"
        return
    headers = [(b"content-type", b"text/html"), (b"content-encoding", coding)]
    with caplog.at_level(logging.WARNING, logger="consent"):
        sent = messages(raw_app(headers, [b"\x28\xb5\x2f\xfd", PAGE]))
    assert sent[0]["status"] == 502
    assert header(sent, b"content-type") == [b"text/plain; charset=utf-8"]
    assert PAGE not in body_of(sent) and len(sent) == 2
    assert coding.decode() in caplog.text


def test_a_corrupt_compressed_page_fails_closed() -> None:
    """A2: corrupt gzip data is no 500 from the middleware, and none of it passes: before
    anything was sent, a 502; later, the page ends where the good data ends."""
    headers = [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")]
    corrupt = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage, not deflate" * 4
    sent = messages(raw_app(headers, [corrupt]))
    assert sent[0]["status"] == 502 and b"garbage" not in body_of(sent)

    good = gzip.compress(PAGE * 2000)
    cut = len(good) // 2
    sent = messages(raw_app(headers, [good[:cut], b"\xff" * 64 + good[cut:], PAGE]))
    assert sent[0]["status"] == 200
    body = body_of(sent)
    assert body and (GATED * 2000).startswith(body) and len(body) < len(GATED * 2000)
    assert not sent[-1].get("more_body")


def test_a_decompression_bomb_streams_in_bounded_pieces() -> None:
    """A2: a small compressed body that decodes to a large page is sent on piece by piece,
    each of bounded size, not decoded whole into memory."""
    size = 8 * 1024 * 1024
    bomb = gzip.compress(b"<p>" + b"a" * size)
    headers = [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")]
    sent = messages(raw_app(headers, [bomb]))
    pieces = [len(m["body"]) for m in sent[1:]]
    assert sum(pieces) == size + 3
    assert max(pieces) <= 128 * 1024 and len(pieces) > 60


# --- other HTML types, and none -----------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        [(b"content-type", b"application/xhtml+xml")],
        [(b"content-type", b"Application/XHTML+XML ; charset=UTF-8")],
        [(b"content-type", b" text/html")],
        [(b"content-type", b"\tText/Html")],
        [],  # no Content-Type: sniffed
        [(b"content-type", b"unknown/unknown")],
        [(b"content-type", b"")],
        [(b"x-content-type-options", b"nosniff")],  # gated all the same: it only gates more
    ],
)
def test_html_under_other_types_or_none_is_gated(content_type: list[tuple[bytes, bytes]]) -> None:
    """A2: XHTML, and a body without a usable Content-Type that a browser sniffs as HTML,
    are gated; the type is read as the MIME Sniffing standard parses it."""
    page = b"\n\t <!DOCTYPE html>" + PAGE
    assert body_of(messages(raw_app(content_type, [page[:3], page[3:]]))) == (
        page.replace(b"<script", b'<script type="text/plain"')
    )


def test_xhtml_is_read_as_an_xml_parser_reads_it() -> None:
    """A2: in XHTML no element's text is raw: an iframe inside a <style> loads."""
    page = b'<style><iframe data-consent="marketing" src="https://x.example/"></iframe></style>'
    sent = messages(raw_app([(b"content-type", b"application/xhtml+xml")], page))
    assert b"data-consent-src" in body_of(sent)


@pytest.mark.parametrize(
    ("content_type", "page"),
    [
        (
            b"application/xhtml+xml",
            b'<html xmlns="http://www.w3.org/1999/xhtml" xmlns:h="http://www.w3.org/1999/xhtml">'
            b'<h:script data-consent="analytics" src="/a.js"></h:script>'
            b'<h:iframe data-consent="marketing" src="https://x.example/"></h:iframe></html>',
        ),
        (
            b"image/svg+xml",
            b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:s="http://www.w3.org/2000/svg">'
            b'<script data-consent="analytics" href="/a.js"/>'
            b'<s:script data-consent="analytics" href="/b.js"/></svg>',
        ),
    ],
)
def test_xml_documents_are_gated_whatever_the_prefix(content_type: bytes, page: bytes) -> None:
    """A2: an XML parser reads `<h:script>` as a script where `h` is bound to XHTML's
    namespace, and an SVG document served on its own runs its scripts: both are gated."""
    sent = body_of(messages(raw_app([(b"content-type", content_type)], page)))
    assert sent.count(b'type="text/plain"') == 2 - (b"iframe" in page)
    if b"iframe" in page:
        assert b"data-consent-src" in sent and b' src="https://x.example/"' not in sent


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ([], b'{"html": "' + PAGE.replace(b'"', b'\\"') + b'"}'),  # not sniffed as HTML
        ([(b"content-type", b"text/plain; x=text/html")], PAGE),
        ([(b"content-type", b"text/htmlx")], PAGE),
    ],
)
def test_bodies_a_browser_does_not_read_as_html_are_left_alone(
    content_type: list[tuple[bytes, bytes]], body: bytes
) -> None:
    """A2: what a browser does not render as HTML passes unchanged (a JSON body without a
    Content-Type, `text/plain` with a parameter that names HTML, a type that only starts
    like it)."""
    assert body_of(messages(raw_app(content_type, body))) == body


# --- encodings ------------------------------------------------------------------------------

UTF16_PAGE = '<p>Grüße ✓</p><script data-consent="analytics" src="/a.js"></script>'


@settings(max_examples=40, deadline=None)
@given(
    case=st.sampled_from(
        [
            (b"text/html; charset=utf-16", "utf-16-le", b""),
            (b"text/html; charset=UTF-16LE", "utf-16-le", b""),
            (b"text/html; charset=utf-16be", "utf-16-be", b""),
            (b"text/html; charset=utf-8", "utf-16-le", b"\xff\xfe"),  # the BOM wins
            (b"text/html", "utf-16-be", b"\xfe\xff"),
            (b"text/html; charset=iso-2022-jp", "iso2022_jp", b""),
        ]
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=6),
)
def test_pages_in_encodings_that_are_not_ascii_are_gated_as_utf_8(
    case: tuple[bytes, str, bytes], cuts: list[int]
) -> None:
    """A2: a UTF-16 page (by its header or its byte order mark) or an ISO-2022-JP one is
    decoded, gated, and sent in UTF-8, which the Content-Type then names."""
    content_type, codec, bom = case
    text = UTF16_PAGE if codec != "iso2022_jp" else UTF16_PAGE.replace("Grüße ✓", "日本語")
    encoded = bom + text.encode(codec)
    sent = messages(raw_app([(b"content-type", content_type)], chunked(encoded, cuts)))
    expected = text.replace("<script", '<script type="text/plain"')
    assert body_of(sent) == b"\xef\xbb\xbf" + expected.encode()
    assert header(sent, b"content-type") == [b"text/html; charset=utf-8"]


def test_a_utf_8_byte_order_mark_wins_over_the_header() -> None:
    """A2: a page that starts with the UTF-8 byte order mark is UTF-8 to a browser, whatever
    its header says: gated as such, and the header corrected."""
    page = b"\xef\xbb\xbf" + PAGE
    sent = messages(raw_app([(b"content-type", b"text/html; charset=utf-16")], page))
    assert body_of(sent) == b"\xef\xbb\xbf" + GATED
    assert header(sent, b"content-type") == [b"text/html; charset=utf-8"]


JIS_COMMENT = b"\x1b$B<!--\x1b(B"  # two kanji in ISO-2022-JP; "<!--" to a byte reader


@pytest.mark.parametrize(
    "meta",
    [
        b'<meta charset="iso-2022-jp">',
        b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-2022-JP">',
        b"<!-- a comment --><meta content='text/html;charset=csISO2022JP' http-equiv=content-type>",
    ],
)
def test_a_meta_charset_is_read_as_the_browser_reads_it(meta: bytes) -> None:
    """A2: the encoding a <meta> declares in the first 1,024 bytes counts when the header
    names none: an ISO-2022-JP page, whose two-byte characters may look like "<!--" to a
    byte reader, is decoded before it is gated."""
    page = b"<head>" + meta + b"</head><p>" + JIS_COMMENT + b"</p>" + PAGE
    sent = messages(raw_app([(b"content-type", b"text/html")], [page[:20], page[20:]]))
    assert b'type="text/plain"' in body_of(sent)
    assert header(sent, b"content-type") == [b"text/html; charset=utf-8"]


def test_escape_bytes_cannot_switch_an_undeclared_page_to_iso_2022_jp() -> None:
    """A2: in a page whose encoding is not declared, a browser may still guess ISO-2022-JP;
    the escape bytes that would switch it are taken out of an ASCII-compatible page, which
    every browser then reads as the gate does (here, a comment that hides the script)."""
    page = b"<p>" + JIS_COMMENT + b"</p>" + PAGE
    body = body_of(messages(raw_app([(b"content-type", b"text/html")], page)))
    assert body == page.replace(b"\x1b", b"")


# --- hosts spelled in Unicode ---------------------------------------------------------------

TRACKERS: dict[str, Any] = {
    **POLICY_DATA,
    "services": [
        *POLICY_DATA["services"],
        {
            "id": "gtm",
            "category": "analytics",
            "title": "Tag Manager",
            "hosts": ["www.googletagmanager.com", "*.google-analytics.com"],
        },
    ],
}


@pytest.mark.parametrize(
    ("src", "charset", "codec"),
    [
        ("https://www\uff0egoogle-analytics\u3002com/x.js", "utf-8", "utf-8"),
        ("https://\uff57\uff57\uff57.googletagmanager.com/gtm.js", "utf-8", "utf-8"),
        ("//WWW.GOOGLETAGMANAGER\uff61COM/gtm.js", "utf-8", "utf-8"),
        ("https://www.google\u00adtagmanager.com/gtm.js", "windows-1252", "cp1252"),
        ("https://\uff57\uff57\uff57.googletagmanager.com/gtm.js", "shift_jis", "cp932"),
        ("https://\uff57\uff57\uff57.googletagmanager.com/gtm.js", "utf-16", "utf-16-le"),
        (
            "https://\uff57\uff57\uff57.googletagmanager.com/gtm.js",
            None,
            "utf-8",
        ),  # not declared: UTF-8
        ("https://www.google\u00adtagmanager.com/gtm.js", None, "cp1252"),  # or windows-1252
    ],
)
def test_hosts_are_read_in_the_pages_encoding(src: str, charset: str | None, codec: str) -> None:
    """A2: a declared host written with full-width letters, ideographic full stops or a soft
    hyphen, in the page's own encoding, is the host the browser loads: gated."""
    page = f'<script src="{src}"></script>'.encode(codec)
    content_type = b"text/html" + (b"; charset=" + charset.encode() if charset else b"")
    response = client(raw_app([(b"content-type", content_type)], page), TRACKERS).get("/")
    assert b'data-consent="gtm" type="text/plain"' in response.content


@functools.cache
def spellings() -> dict[str, list[int]]:
    """For each character a host may hold, the other code points UTS 46 maps to it (by the
    `idna` package's copy of the UTS 46 mapping table), with the ones it ignores under ""."""
    found: dict[str, list[int]] = {}
    for point in [*range(0x80, 0xD800), *range(0xE000, 0x20000), *range(0xE0000, 0xE1000)]:
        try:
            mapped = idna.uts46_remap(chr(point), std3_rules=False)
        except idna.IDNAError:
            continue  # disallowed: a URL with it is invalid, and loads nothing
        if mapped == "" or (mapped != chr(point) and mapped in HOST_CHARACTERS):
            found.setdefault(mapped, []).append(point)
    return found


HOST_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
HOST = "www.googletagmanager.com"


@st.composite
def spelled(draw: st.DrawFn, host: str) -> str:
    """`host` with each character written as UTS 46 maps it, percent-encoded at times, and
    ignored characters slipped in."""
    out = []
    for char in host:
        choices = [char, char.upper(), *map(chr, spellings().get(char, []))]
        written = draw(st.sampled_from(choices))
        if draw(st.integers(0, 5)) == 0:
            written = "".join(f"%{b:02X}" for b in written.encode())
        if draw(st.integers(0, 7)) == 0:
            written += chr(draw(st.sampled_from(spellings()[""])))
        out.append(written)
    return "".join(out)


@settings(max_examples=150, deadline=None)
@given(host=spelled(HOST), lead=st.sampled_from(["https://", "//", "HTTPS:\\\\", " https:/\\"]))
def test_any_unicode_spelling_of_a_declared_host_is_that_host(host: str, lead: str) -> None:
    """A2: whatever UTS 46 maps to a declared host is that host, as a browser reads it."""
    assert browser_host(f"{lead}user@{host}:443/gtm.js") == HOST
    page = f'<script async src="{lead}{host}/gtm.js"></script>'.encode()
    response = client(raw_app([(b"content-type", b"text/html")], page), TRACKERS).get("/")
    assert b'data-consent="gtm" type="text/plain"' in response.content


@settings(max_examples=100, deadline=None)
@given(host=spelled(HOST))
def test_without_the_idna_package_known_characters_still_map(host: str) -> None:
    """A2: without `idna`, NFKC case folding maps every character Python's Unicode data knows
    as UTS 46 does."""
    spelled_host = unquote(host)
    if all(unicodedata.category(c) != "Cn" for c in spelled_host):
        assert punycode_host(fold_host(spelled_host)).lower().rstrip(".") == HOST


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https:/\\www.googletagmanager.com/", HOST),
        ("\t h\nttps://www.google\ttagmanager.com/", HOST),
        ("https://a@b@www.googletagmanager.com:8080/", HOST),
        ("https://user\uff20x.example@www.googletagmanager.com/", HOST),
        ("//www.googletagmanager.com./x", HOST),
        ("https://www.googletagmanager.com\\x", HOST),
        ("https://www.googletagmanager.com?x", HOST),
        ("/www.googletagmanager.com/x", None),
        ("www.googletagmanager.com/x", None),
        ("data:text/html,https://www.googletagmanager.com/", None),
    ],
)
def test_browser_host_follows_the_url_standard(url: str, host: str | None) -> None:
    """A2: tabs and newlines dropped, backslashes as slashes, userinfo up to its last "@",
    ports and a final dot dropped, as the URL standard reads an http(s) URL."""
    assert browser_host(url) == host


# --- the prescan, against html5lib's -------------------------------------------------------

LABELS = ["utf-8", "UTF8", "iso-2022-jp", "csISO2022JP", "shift_jis", "gbk", "big5", "bogus"]
ATTRIBUTES = st.sampled_from(
    [
        *(f"charset={label}" for label in LABELS),
        *(f'charset="{label}"' for label in LABELS),
        *(f"content='text/html; charset={label}'" for label in LABELS),
        'http-equiv="Content-Type"',
        "HTTP-EQUIV=content-type",
        'content="text/html"',
        "name=x",
        "a",
        "=b",
        "/",
        "x='>'",
    ]
)


def _meta_attribute(attribute: str) -> str:
    name = attribute.split("=")[0].lower()
    return "charset" if name == "content" else name


FRAGMENTS = st.one_of(
    # (html5lib reads a repeated attribute again, where the standard ignores it, and takes
    # the first of `content` and `charset`, where the standard lets `charset` win.)
    st.lists(ATTRIBUTES, max_size=4, unique_by=_meta_attribute).map(
        lambda attrs: "<meta " + " ".join(attrs) + ">"
    ),
    st.lists(ATTRIBUTES, max_size=3).map(lambda attrs: "<p " + " ".join(attrs) + ">"),
    st.sampled_from(["<!-- x -->", "<!-- <meta charset=gbk> -->", "</p>", "<!x>", "<?x>", "text"]),
)


@settings(max_examples=300, deadline=None)
@given(fragments=st.lists(FRAGMENTS, max_size=6))
def test_the_prescan_finds_the_encoding_html5lib_finds(fragments: list[str]) -> None:
    """A2: the encoding a <meta> declares is read as the HTML standard's prescan reads it
    (html5lib implements it; it predates two rules: a meta saying UTF-16 means UTF-8, and
    x-user-defined means windows-1252)."""
    data = "".join(fragments).encode()
    found = EncodingParser(data).getEncoding()
    expected = None if found is None else found.name
    expected = {"utf-16le": "utf-8", "utf-16be": "utf-8"}.get(expected or "", expected)
    assert prescan(data) == expected


# --- bad input -----------------------------------------------------------------------------

TYPES = [None, b"text/html", b"text/html; charset=utf-16", b"text/html;charset=iso-2022-jp"]
TYPES += [b"application/xhtml+xml", b'text/html; charset="', b"text/html;charset=bogus"]


@settings(max_examples=200, deadline=None)
@given(
    content_type=st.sampled_from(TYPES),
    coding=st.sampled_from([None, b"gzip", b"deflate", b"br", b"zstd", b"gzip, br"]),
    body=st.lists(st.binary(max_size=300), max_size=4),
    compress=st.booleans(),
)
def test_any_body_under_any_header_is_answered(
    content_type: bytes | None, coding: bytes | None, body: list[bytes], compress: bool
) -> None:
    """A2: whatever bytes an app sends under whatever type and coding, the middleware answers
    (the gated page, or a 502), never an error of its own."""
    if compress and coding in (b"gzip", b"deflate", b"br"):
        packed = CODINGS[coding.decode()](b"".join(body))
        body = [packed[: len(packed) // 2], packed[len(packed) // 2 :]]
    headers = [] if content_type is None else [(b"content-type", content_type)]
    if coding is not None:
        headers.append((b"content-encoding", coding))
    sent = messages(raw_app(headers, body or [b""]))
    assert sent[0]["status"] in (200, 502)
    assert not sent[-1].get("more_body")
    assert header(sent, b"content-encoding") == []  # what was sent, the gate has read


@given(data=st.binary(max_size=1100))
def test_the_prescan_reads_any_bytes(data: bytes) -> None:
    """A2: any bytes at the start of a page give an encoding the gate knows, or none."""
    found = prescan(data)
    assert found is None or codec(found)


def test_a_compressed_page_in_utf_16_is_decoded_twice() -> None:
    """A2: a gzip-compressed UTF-16 page is decompressed, then decoded, then gated."""
    page = gzip.compress(UTF16_PAGE.encode("utf-16-le"))
    headers = [(b"content-type", b"text/html; charset=utf-16"), (b"content-encoding", b"gzip")]
    sent = messages(raw_app(headers, page))
    expected = UTF16_PAGE.replace("<script", '<script type="text/plain"')
    assert body_of(sent) == b"\xef\xbb\xbf" + expected.encode()


def test_head_of_a_compressed_page_claims_the_decoded_page() -> None:
    """A2: HEAD of a compressed page says what a GET sends: no Content-Encoding."""
    policy = Policy.model_validate(POLICY_DATA)
    headers = [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")]
    app = ConsentMiddleware(raw_app(headers, b""), policy=policy, secret_key=SECRET)
    sent = call_asgi(app, "HEAD", "/", [], [b""])
    assert header(sent, b"content-encoding") == [] and header(sent, b"content-length") == []


def test_a_tag_read_in_one_encoding_is_not_reused_for_another() -> None:
    """A2: the same bytes name another host in another encoding: in UTF-8, C2 AD is a soft
    hyphen (dropped from a host, so this is the tracker's); in windows-1252 it is "Â" and a
    soft hyphen (another host). What the gate read of the tag for one page is not reused for
    a page in the other encoding, in either order."""
    page = b'<script src="https://www.google\xc2\xadtagmanager.com/gtm.js"></script>'
    gated = b'data-consent="gtm" type="text/plain"'
    for order in (["utf-8", "windows-1252"], ["windows-1252", "utf-8"]):
        for charset in order:
            content_type = b"text/html; charset=" + charset.encode()
            response = client(raw_app([(b"content-type", content_type)], page), TRACKERS).get("/")
            assert (gated in response.content) == (charset == "utf-8"), (order, charset)
