"""Streaming gate for text/html bodies: scripts, iframes, images, media, ... wait for consent.

`HTMLGate` rewrites start tags as the body streams through:

* ``<script data-consent="x" ...>`` whose id is not allowed gets ``type="text/plain"`` (the
  original type kept in ``data-consent-type``): the browser neither fetches nor runs it;
* any other element that loads something (`_LOADS`: an iframe's ``src`` and ``srcdoc``, an
  image's ``src`` and ``srcset``, media, ``<embed>``, ``<object>``, links that fetch, a
  declarative shadow root's ``shadowrootmode``) not allowed has it moved to
  ``data-consent-<attribute>``; the <source> and <track> children of a ``<video>``,
  ``<audio>`` or ``<picture>`` with a data-consent wait with it;
* with auto-blocking, such an element loading from a host a service declares (every
  srcset candidate, relative URLs after a ``<base href>`` on such a host, what an iframe's
  srcdoc document loads) is gated as that service even without ``data-consent``.

The tokenizer follows the HTML start-tag grammar (quoted, single-quoted and unquoted
attribute values, ``>`` inside quotes) and skips comments and raw-text elements such as
``<script>`` bodies, so ``"<iframe"`` inside a script is left alone, but only where a
browser's tree builder makes them raw text: not inside ``<svg>`` or ``<math>`` (see
`_Context`). Where it cannot tell how a browser reads what follows, it gates every start
tag of those elements that it finds (`HTMLGate._run_paranoid`). It keeps only the unfinished
construct between chunks: memory is bounded by the longest tag, not the page (inside
``<noscript>``, by the longest comment or raw-text element, at most 64 KiB). Time is linear
in the body, whatever it holds and however it is cut: an unfinished construct is followed
over the chunks that arrive, not read again from its start (`_Hold`), and in paranoid mode
the tags of overlapping candidates are read in one shared pass (`_Ends`).
Bytes outside rewritten tags pass through unchanged, so any ASCII-compatible charset is
kept as it is.

Most of a page is text and ordinary tags, which never change. The gate jumps with one
C-level search to the next place that can matter (a comment, the start tag of a script, an
iframe, an image, ... or another raw-text element, a container's end tag) and proves with a
few byte searches that the bytes before it are plain (see `_plain_until`); only when that
proof fails does it read them tag by tag. A site serves the same script, iframe and image
tags on every page to every visitor: each is read once, and what its reading found is kept
for the next (`_TAGS`, bounded), so that only the visitor's consent is applied to it. The
output is byte for byte what reading every tag gives (tests/gating_reference.py).
"""

from __future__ import annotations

import html
import importlib
import re
import unicodedata
from array import array
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import unquote

from consent._links import LOADING_RELS
from consent.bounded_memo import remember

__all__ = ["HTMLGate", "host_matcher"]

_WS = rb"\t\n\f\r "


def _attribute(group: bytes) -> bytes:
    # One attribute as the HTML tokenizer reads it. A quote after "=" always opens a quoted
    # value, even while its closing quote has not arrived (the tag is then unfinished).
    # `group` is b"(" to capture name and value, b"(?:" not to.
    g = group
    return (
        g + rb"[^" + _WS + rb"/>][^" + _WS + rb"/=>]*+)"
        rb"(?:[" + _WS + rb"]*+=[" + _WS + rb"]*+"
        rb"(?:\""
        + g
        + rb"[^\"]*+)\"|'"
        + g
        + rb"[^']*+)'|(?![\"'])"
        + g
        + rb"[^"
        + _WS
        + rb">]*+))"
        rb"|(?![" + _WS + rb"]*+=))"
    )


# One attribute of a start tag that _START_TAG or _NEXT matched, as (raw text, name, value
# with its quotes). In such a tag a quote after "=" always has its closing quote, so this
# shorter pattern reads the attributes exactly as `_attribute` does.
_ATTRS = re.compile(
    rb"(([^" + _WS + rb"/>][^" + _WS + rb"/=>]*+)(?:[" + _WS + rb"]*+=[" + _WS + rb"]*+"
    rb"(\"[^\"]*+\"|'[^']*+'|[^" + _WS + rb">]*+))?)"
)
_START_TAG = re.compile(
    rb"<([a-zA-Z][^" + _WS + rb"/>]*+)((?:[" + _WS + rb"/]++|(?>" + _attribute(b"(?:") + rb"))*+)>"
)
# Elements whose content is not markup: the tokenizer skips to their end tag.
_RAW_TEXT = frozenset(
    {b"script", b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed", b"noframes"}
)
# Where the text of each such element surely ends: its end tag, found case-insensitively; or,
# for a script, a "<!--" before that, after which it cannot tell (see `_script_text`).
_RAW_ENDS = {
    n: re.compile(rb"</" + n + rb"[\t\n\f\r />]" + rb"|<!--" * (n == b"script"), re.IGNORECASE)
    for n in _RAW_TEXT
}
# Script text has states of its own: "<!--" escapes it, and in the escaped text a
# "<script" starts a nested, doubly escaped part in which "</script>" ends nothing (the
# tokenizer's script data states). These are the tokens that move between them.
_SCRIPT_TOKENS = re.compile(rb"<!--|-->|</?(?i:script)[\t\n\f\r />]")
_DATA, _ESCAPED, _DOUBLE = 0, 1, 2
# After "<!--" in the data state, while dashes follow (the escape start dash dash state): a
# state of its own, so that a long run of dashes streams through instead of being held.
_DASHES = 3
_DASH_RUN = re.compile(rb"-*+")


def _run_end(run: re.Pattern[bytes], data: bytes | bytearray, pos: int) -> int:
    """Where `run`, a pattern that matches the empty string too, ends from `pos`."""
    found = run.match(data, pos)
    assert found is not None
    return found.end()


def _script_text(
    data: bytes | bytearray, pos: int, state: int, final: bool
) -> tuple[int, int, bool]:
    """Read script text from `pos` in `state`: (where it surely goes, the state there,
    whether that is the "<" of the end tag that closes the script)."""
    end = len(data)
    read = pos  # what is read for sure: the state holds here
    while True:
        if state == _DASHES:
            after = _run_end(_DASH_RUN, data, pos)
            if after == end and not final:
                return end, state, False  # more dashes may follow
            if after < end and data[after] == 0x3E:  # ">": "<!-->" escapes nothing
                state, pos = _DATA, after + 1
            else:
                state, pos = _ESCAPED, after
            read = pos
        token = _SCRIPT_TOKENS.search(data, pos)
        if token is None:
            # Keep a tail that could start a token (at most 9 bytes long).
            return (end if final else max(read, end - 9)), state, False
        start, text = token.start(), token.group()
        if text[:2] == b"</":
            if state != _DOUBLE:
                return start, state, True
            state, pos = _ESCAPED, token.end()  # it ends only the nested part
        elif text == b"<!--":
            if state != _DATA:
                pos = start + 1  # text there; its dashes may still end an escape
                continue
            state, pos = _DASHES, token.end()
            continue
        elif text == b"-->":
            if state == _DATA:
                pos = start + 1
                continue
            state, pos = _DATA, token.end()
        elif state == _ESCAPED:  # "<script": the nested part
            state, pos = _DOUBLE, token.end()
        else:
            pos = start + 1
            continue
        read = pos


def _plain_raw_end(name: bytes, data: bytes, pos: int) -> int | None:
    """The "<" of the end tag of raw-text element `name` whose text starts at `pos`, when one
    search finds it: for any element but a script whose text holds "<!--" (which has states,
    see `_script_text`). None otherwise."""
    close = _RAW_ENDS[name].search(data, pos)
    if close is None:
        return None
    stop = close.start()
    return None if data[stop + 1] == 0x21 else stop  # "<!": script text with states


def _raw_stop(name: bytes, data: bytes, pos: int, final: bool) -> int | None:
    """Where the text of raw-text element `name`, starting at `pos`, ends (the "<" of its end
    tag); None when its end is not in `data` yet."""
    stop = _plain_raw_end(name, data, pos)
    if stop is None and name == b"script":
        at, _, found = _script_text(data, pos, _DATA, final)
        stop = at if found else None
    return stop


# Start tags after which the tree builder may read tags differently (see `_Context`).
_CONTEXT_TAGS = frozenset({b"svg", b"math", b"select", b"noscript"})
# The other start tags the gate may rewrite or must note (see `_plan`): what loads an image,
# a frame, media, a plug-in or a link's resource, a declarative shadow root, and the
# <base> and media containers that change how later tags are read.
_GATED_ONLY = frozenset(
    b"img image source track video audio picture embed object input link template base".split()
)
# Every start tag the gate reads for a plan, in every mode (paranoid too: `_CANDIDATE`).
_GATED_NAMES = _GATED_ONLY | {b"script", b"iframe"}
_WATCHED = _RAW_TEXT | _CONTEXT_TAGS | _GATED_ONLY
# The containers whose children load for them: their end tags matter too.
_CONTAINER_NAMES = frozenset({b"video", b"audio", b"picture"})
# A container's end tag as pages write it, with its name: nothing else to read in it.
_PLAIN_ENDS = {b"</" + name + b">": name for name in _CONTAINER_NAMES}
_COMMENT_END = re.compile(rb"--!?>")
_CDATA_END = re.compile(rb"]]>")
# Everything the gate passes on unchanged, consumed in one C-level match: text, tags other
# than the raw-text and context elements above (scripts and iframes among them), end tags,
# doctype and other "<!...>" / "<?...>" constructs. It stops at a comment, at a tag the gate
# must look at, and before anything unfinished at the end of the buffer.
_SKIP = re.compile(
    rb"(?:[^<]++"
    rb"|<(?![a-zA-Z!/?]|\Z)"
    rb"|<(?!(?i:" + b"|".join(sorted(_WATCHED)) + rb")[" + _WS + rb"/>])"
    rb"[a-zA-Z][^" + _WS + rb"/>]*+(?:[" + _WS + rb"/]++|(?>" + _attribute(b"(?:") + rb"))*+>"
    rb"|</(?!(?i:" + b"|".join(sorted(_CONTAINER_NAMES)) + rb")[" + _WS + rb"/>])"
    rb"[a-zA-Z][^" + _WS + rb"/>]*+(?:[" + _WS + rb"/]++|(?>" + _attribute(b"(?:") + rb"))*+>"
    rb"|</(?![a-zA-Z])[^>]*+>"
    rb"|<!(?!--)[^>]*+>"
    rb"|<\?[^>]*+>"
    rb")*+"
)


def _either_case(words: list[bytes]) -> bytes:
    # "script|style" as "[sS](?:[cC][rR]...|[tT][yY]...)": `re` then tries one branch per
    # first letter, and character classes are cheaper for it than IGNORECASE.
    heads: dict[bytes, list[bytes]] = {}
    for word in words:
        heads.setdefault(word[:1], []).append(word[1:])
    branches = []
    for head, tails in sorted(heads.items()):
        first = re.escape(head) if not head.isalpha() else b"[" + head.lower() + head.upper() + b"]"
        rest = [t for t in tails if t]
        branch = first + (_either_case(rest) if rest else b"")
        branches.append(branch + (b"|" + first if rest and len(rest) < len(tails) else b""))
    return branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"


def _watched_branches(names: frozenset[bytes], after: bytes) -> bytes:
    # One branch per lower-case first letter, opening with that plain byte ("s(?:[cC]...)|t..."):
    # `re` turns such a branch away by comparing the byte, without the call a character class
    # costs, and each "<" of a page pays one comparison per branch before its own, so the
    # letters that begin most tags come first. Upper-case names, which few pages write, share
    # one last branch: a class, then a look-behind per letter ("[ST](?:(?<=S)...|(?<=T)...)").
    heads: dict[bytes, list[bytes]] = {}
    for name in sorted(names):
        heads.setdefault(name[:1], []).append(name[1:])
    order = sorted(heads, key=lambda head: _COMMON.find(head) % 64)
    lower = [re.escape(head) + _either_case(heads[head]) + after for head in order]
    upper = b"|".join(
        b"(?<=" + head.upper() + b")" + _either_case(heads[head]) + after for head in order
    )
    return b"|".join([*lower, b"[" + b"".join(order).upper() + b"](?:" + upper + b")"])


# The letters most tags of a page begin with, most common first.
_COMMON = b"apstlibdhmnovcefgjkqruwxyz"
_AFTER_NAME = rb"(?=[" + _WS + rb"/>])(?:[^>]*+>)?"

# Where the tokenizer state can change or a tag may need rewriting: comments, the start tags
# of raw-text elements (scripts and iframes among them), of the context elements and of the
# other elements the gate reads, and the end tags of containers, found case-insensitively. A
# match may still be inside another tag: the gate checks. A comment is matched by
# its "<!--" alone (or whole, "<!-->" and "<!--->"): the gate looks for its end only where
# it is one, since searching on from every "<!--" in an attribute value would read the rest
# of the page once for each; a tag up to its first ">", if any (the gate reads the rest: see
# `HTMLGate._run_fast`).
_NEXT = re.compile(
    b"<(?:/(?:"
    + _watched_branches(_CONTAINER_NAMES, _AFTER_NAME)
    + b")|"
    + _watched_branches(_WATCHED, _AFTER_NAME)
    + b"|!--(?:-?>)?)",
    re.DOTALL,
)
# What can begin a tag, an end tag, a comment or "<!...>" / "<?...>" (or might, once more
# data arrives): any other "<" is text.
_OPENER = re.compile(rb"<(?:[a-zA-Z!/?]|\Z)")
_BLANKS = re.compile(rb"[\t\n\f\r ]*+")
_BEFORE_VALUE = b"=\t\n\f\r "


def _plain_until(data: bytes, pos: int, stop: int) -> int:
    """How far from `pos` (the tokenizer in the data state there, and no `_NEXT` match in
    between) the bytes provably pass the gate unchanged and end in the data state: `stop`;
    or the "<" of a tag or "<!...>" still open at `stop`; or `pos` when it cannot tell.

    In that stretch the tokenizer only reads text, tags and "<!...>" / "<?...>", and each of
    these ends at the first ">" that is not inside a quoted attribute value. So if the last
    ">" before `stop` is not in a quoted value, the data state resumes right after it, and
    what follows is text up to the first "<" that opens something. A quoted value is opened
    only by a quote after "=" (and blanks), and contains no quote of its kind: a ">" inside
    one therefore has, as the last quote of that kind before it, a quote after "=".
    """
    close = data.rfind(b">", pos, stop)
    if close < 0:
        after = pos
    else:
        # Usually the last quote of each kind closes a value ('"' after the value): one look
        # at the byte before it settles that.
        double = data.rfind(b'"', pos, close)
        if double > pos and data[double - 1] in _BEFORE_VALUE and _opens_value(data, pos, double):
            return pos
        single = data.rfind(b"'", pos, close)
        if single > pos and data[single - 1] in _BEFORE_VALUE and _opens_value(data, pos, single):
            return pos
        after = close + 1
    if data.find(b"<", after, stop) < 0:
        return stop
    opener = _OPENER.search(data, after, stop)
    return stop if opener is None else opener.start()


def _opens_value(data: bytes, pos: int, quote: int) -> bool:
    """Whether the quote at `quote` (after `pos`, the data state there) may open an attribute
    value: whether "=" and nothing but blanks come before it."""
    start = data.rfind(b"=", pos, quote)
    return start >= 0 and _BLANKS.fullmatch(data, start + 1, quote) is not None


Allows = Callable[[str], bool]
"""Whether a category or service id is allowed (unknown ids: False)."""
HostLookup = Callable[[str], str | None]
"""The service id that owns a URL's host, or None."""


_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
_AUTHORITY_END = re.compile(r"[/\\?#]")
# What UTS 46 maps to nothing in a host (soft hyphen, joiners, fillers, variation selectors,
# ...); a few of these make the URL invalid instead, where dropping them only gates more.
_IGNORED = re.compile(
    "[\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200d\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]"
)
_DOTS = re.compile("[\u3002\uff0e\uff61]")
_uts46_remap: Callable[..., str] | None
try:
    # UTS 46's own table, newer than the Unicode data of older Pythons. The `idna` package
    # comes with Starlette (through anyio); without it, NFKC case folding stands in.
    _uts46_remap = importlib.import_module("idna").uts46_remap
except ImportError:
    _uts46_remap = None


def browser_host(url: str) -> str | None:
    """The host a browser loads `url` from, lower case (None: this site, or no host).

    As the URL standard reads an http(s) URL on an http(s) page: leading and trailing
    controls and spaces dropped, tabs and newlines removed anywhere, `\\` read as `/`, any
    number of slashes before the authority, the userinfo up to its last `@` and the port
    dropped, the host percent-decoded (UTF-8) and mapped as UTS 46 maps it (full-width
    letters, the ideographic full stops, case, ignored characters), a final dot ignored.
    """
    url = url.strip(_C0_AND_SPACE)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    scheme = _SCHEME.match(url)
    if scheme is not None:
        if scheme.group(1).lower() not in ("http", "https"):
            return None
        # ("https:host", relative on an https page, is read as a host too: it only gates more.)
        rest = url[scheme.end() :]
    elif url[:2] in ("//", "\\\\", "/\\", "\\/"):
        rest = url  # scheme-relative
    else:
        return None  # a path on this site
    rest = rest.lstrip("/\\")
    end = _AUTHORITY_END.search(rest)
    authority = rest if end is None else rest[: end.start()]
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        close = host.find("]")
        return host[: close + 1].lower() if close > 0 else None
    host = host.partition(":")[0]
    if "%" in host:
        host = unquote(host, errors="replace")
    if not host.isascii():
        host = _uts46(host)
    host = host.lower().rstrip(".")
    if _NUMERIC.search(host):
        return _ipv4(host)
    return host or None


# A host whose last label is a number is an IPv4 address ("0x7f.1" is 127.0.0.1).
_NUMERIC = re.compile(r"(?:^|\.)(?:\d+|0[xX][0-9a-fA-F]*)$")
_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9]\d*")


def _ipv4(host: str) -> str | None:
    """The IPv4 address a host that ends in a number names (the URL standard's IPv4 parser),
    dotted; None when it is not valid (the browser loads nothing)."""
    parts = host.split(".")
    if len(parts) > 4 or any(not _IPV4_PART.fullmatch(p) for p in parts):
        return None
    numbers = [
        int(p[2:] or "0", 16) if p[:2] in ("0x", "0X") else int(p, 8 if p[:1] == "0" else 10)
        for p in parts
    ]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = numbers[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(numbers[:-1]))
    return ".".join(str(value >> shift & 255) for shift in (24, 16, 8, 0))


def _uts46(host: str) -> str:
    """A host as UTS 46 maps it to ASCII, near enough to fail closed: each character as
    NFKC case folding maps it (what UTS 46's table is built from), ignored ones dropped,
    each label that is not ASCII then written in Punycode."""
    mapped = None
    if _uts46_remap is not None:
        try:
            mapped = _uts46_remap(host, std3_rules=False)
        except ValueError:  # a character UTS 46 disallows: the browser loads nothing
            mapped = None
    if mapped is None:
        host = _IGNORED.sub("", host)
        host = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", host).casefold())
    else:
        host = mapped
    host = _DOTS.sub(".", host)
    labels = []
    for label in host.split("."):
        if label.isascii():
            labels.append(label)
        elif len(label) <= 63:
            labels.append("xn--" + label.encode("punycode").decode("ascii"))
        else:
            # Too long for DNS: no one serves it, and its Punycode costs time quadratic in
            # its length. A stand-in keeps the rest of the host ("*.domain" rules).
            labels.append("xn--")
    return ".".join(labels)


def host_matcher(hosts: dict[str, str]) -> HostLookup:
    """A lookup from URL to service id; `hosts` maps a host (or `*.domain`) to a service."""
    exact = {h.lower(): s for h, s in hosts.items() if not h.startswith("*.")}
    suffixes = [(h[1:].lower(), s) for h, s in hosts.items() if h.startswith("*.")]

    # Pages load the same URLs again and again: each is read once (at most 4,096 URLs of
    # up to 2 KiB remembered, forgotten when full).
    seen: dict[str, tuple[str | None]] = {}

    def service_of(url: str) -> str | None:
        host = browser_host(url)
        if not host:
            return None
        if host in exact:
            return exact[host]
        for suffix, service in suffixes:
            if host.endswith(suffix) or host == suffix[1:]:
                return service
        return None

    def lookup(url: str) -> str | None:
        known = seen.get(url)  # one look-up: another thread may clear it meanwhile
        if known is not None:
            return known[0]
        service = service_of(url)
        if len(url) <= 2048:
            remember(seen, url, (service,))
        return service

    return lookup


# --- where the tree builder changes how tags are read ---------------------------------------
#
# Reading <script>, <style>, <title>, ... content as raw text is right only where a browser
# does: in HTML content. Inside <svg> and <math> they are ordinary elements whose content is
# markup (and "/>" closes them), until an integration point (<foreignObject>, <desc>, <title>
# in SVG; <mi>, <mo>, <mn>, <ms>, <mtext> in MathML) brings HTML back. An open <select> makes
# older parsers ignore <style>, <iframe>, ... where newer ones keep them, and <noscript> is raw
# text with scripting and markup without. `_Context` follows the part of the tree builder that
# decides this, exactly as far as it can without building the tree, and gives up (`doubt`)
# beyond that: the gate then trusts no reading any more (see `HTMLGate._run_paranoid`).

_SVG, _MATH, _HTML = 1, 2, 0
_SVG_POINTS = frozenset({b"foreignobject", b"desc", b"title"})
_MATH_TEXT_POINTS = frozenset({b"mi", b"mo", b"mn", b"ms", b"mtext"})
# Start tags that end foreign content ("in foreign content" in the HTML standard).
_BREAKOUT = frozenset(
    b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i "
    b"img li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt "
    b"u ul var".split()
)
_VOID = frozenset(
    b"area base basefont bgsound br col embed frame hr image img input keygen link meta "
    b"param source track wbr".split()
)
# HTML start tags that end an open element of another name when one is open (tag -> those).
_HEADINGS = frozenset(b"h1 h2 h3 h4 h5 h6".split())
_CLOSES: dict[bytes, frozenset[bytes]] = {
    **dict.fromkeys(
        b"address article aside blockquote center details dialog dir div dl fieldset "
        b"figcaption figure footer header hgroup main menu nav ol p search section summary ul "
        b"pre listing plaintext hr xmp".split(),
        frozenset({b"p"}),
    ),
    **dict.fromkeys(_HEADINGS, frozenset({b"p"}) | _HEADINGS),
    b"li": frozenset({b"p", b"li"}),
    b"dd": frozenset({b"p", b"dd", b"dt"}),
    b"dt": frozenset({b"p", b"dd", b"dt"}),
    b"a": frozenset({b"a"}),
    b"button": frozenset({b"button"}),
    b"nobr": frozenset({b"nobr"}),
    b"option": frozenset({b"option"}),
    b"optgroup": frozenset({b"option", b"optgroup"}),
    **dict.fromkeys(b"rb rp rt rtc".split(), frozenset({b"ruby", b"rb", b"rp", b"rt", b"rtc"})),
}
# The names those close, one bit each, and for each tag the bits of the names it closes.
_CLOSER_BITS = {
    name: 1 << bit for bit, name in enumerate(sorted(frozenset().union(*_CLOSES.values())))
}
_CLOSES_BITS = {tag: sum(_CLOSER_BITS[name] for name in names) for tag, names in _CLOSES.items()}
# HTML tags whose effect on the tree the gate does not follow (tables, forms, templates, ...):
# inside an integration point they end its certainty.
_UNFOLLOWED = frozenset(
    b"table caption colgroup col tbody thead tfoot tr td th form select template frameset "
    b"frame html head body noscript".split()
)
# Foreign content inside <noscript>: raw text with scripting, and not followed without.
_NESTED = frozenset({b"svg", b"math"})
# Start tags an open <select> ignores in older parsers and keeps in newer ones.
_SELECT_UNSURE = frozenset(b"style title xmp iframe noembed noframes noscript svg math".split())


class _Context:
    """What the tree builder has open that changes how the tokenizer reads what follows:
    the elements of an <svg> or <math> subtree, an open <select>, an open <noscript>."""

    __slots__ = ("active", "closers", "doubt", "html_open", "noscript", "select", "stack")

    def __init__(self) -> None:
        self.stack: list[tuple[bytes, int]] = []  # (name, namespace) from the <svg>/<math> on
        # Kept with the stack, so that no tag costs a walk over it: for each entry, the
        # `_CLOSER_BITS` of the HTML elements from the nearest foreign one below it up to
        # it; and how many HTML elements of each name are open.
        self.closers: list[int] = []
        self.html_open: dict[bytes, int] = {}
        self.select = False
        self.noscript = False
        self.doubt = False
        self.active = False
        """Whether every tag counts (not only the ones the fast path stops at)."""

    def _settle(self) -> None:
        self.active = bool(self.stack) or self.select or self.noscript

    @property
    def cdata(self) -> bool:
        """Whether "<![CDATA[" opens a CDATA section: the current node is not HTML."""
        return bool(self.stack) and self.stack[-1][1] != _HTML

    def start(self, name: bytes, attributes: bytes, self_closing: bool) -> bool:
        """Note a start tag (`name` in lower case); whether its content is raw text."""
        raw = self._start(name, attributes, self_closing)
        self._settle()
        return raw

    def end(self, name: bytes) -> None:
        """Note an end tag (`name` in lower case)."""
        self._end(name)
        self._settle()

    def _push(self, name: bytes, namespace: int) -> None:
        """Open element `name` in `namespace` on the stack."""
        closers = 0
        if namespace == _HTML:
            self.html_open[name] = self.html_open.get(name, 0) + 1
            closers = _CLOSER_BITS.get(name, 0)
            if self.stack and self.stack[-1][1] == _HTML:
                closers |= self.closers[-1]
        self.stack.append((name, namespace))
        self.closers.append(closers)

    def _truncate(self, index: int) -> None:
        """Close the elements of the stack from `index` up."""
        for name, namespace in self.stack[index:]:
            if namespace == _HTML:
                self.html_open[name] -= 1
        del self.stack[index:]
        del self.closers[index:]

    def _start(self, name: bytes, attributes: bytes, self_closing: bool) -> bool:
        if self.doubt:
            return False
        if self.stack and self._foreign_rules(name):
            if name in _BREAKOUT or (name == b"font" and _names(attributes) & _FONT_BREAKOUT):
                # The tag ends foreign content: back to HTML or an integration point, where
                # the HTML rules read it again.
                self._pop_foreign()
                return self._start(name, attributes, self_closing)
            if not self_closing:
                self._push(name, self.stack[-1][1])
            return False
        return self._html_start(name, self_closing)

    def _foreign_rules(self, name: bytes) -> bool:
        """Whether the start tag `name` is read as foreign content (the stack is not empty)."""
        node, namespace = self.stack[-1]
        if namespace == _HTML:
            return False
        if namespace == _SVG:
            return node not in _SVG_POINTS
        if node in _MATH_TEXT_POINTS:
            return name in (b"mglyph", b"malignmark")
        if node == b"annotation-xml":
            # An integration point only with an HTML encoding, which the gate does not read.
            self.doubt = name != b"svg"
            return name != b"svg"
        return True

    def _pop_foreign(self) -> None:
        """Pop foreign elements down to HTML or an integration point."""
        while self.stack:
            node, namespace = self.stack[-1]
            if namespace == _HTML or node in (
                _SVG_POINTS if namespace == _SVG else _MATH_TEXT_POINTS
            ):
                return
            if node == b"annotation-xml":
                self.doubt = True
                return
            self._truncate(len(self.stack) - 1)

    def _html_start(self, name: bytes, self_closing: bool) -> bool:
        if (self.select and name in _SELECT_UNSURE) or (self.noscript and name in _NESTED):
            self.doubt = True  # read differently by older and newer parsers, or scripting
            return False
        if name == b"svg" or name == b"math":
            if not self_closing:
                self._push(name, _SVG if name == b"svg" else _MATH)
            return False
        if not self.stack:
            if name == b"select":
                self.select = True
            elif name == b"noscript":
                self.noscript = True
            return name in _RAW_TEXT
        # HTML inside an integration point: follow its elements, to know when it ends.
        html = self.closers[-1] if self.stack[-1][1] == _HTML else 0
        if name in _UNFOLLOWED or _CLOSES_BITS.get(name, 0) & html:
            self.doubt = True
            return False
        if name not in _VOID:
            self._push(name, _HTML)
        return name in _RAW_TEXT

    def _end(self, name: bytes) -> None:
        if self.doubt:
            return
        if not self.stack:
            if name == b"select":
                self.select = False
            elif name == b"noscript":
                self.noscript = False
            return
        node, namespace = self.stack[-1]
        if namespace == _HTML:
            if node == name:
                self._truncate(len(self.stack) - 1)
            elif name in _UNFOLLOWED or self.html_open.get(name, 0) > 0:
                self.doubt = True  # it would close more than its own element: not followed
            # Any other end tag stops at the integration point, which is special: ignored.
            return
        if name == b"p" or name == b"br":
            # Parsers since 2021 end foreign content here, as for a <p> start tag; older
            # ones (html5lib among them) insert an empty <p> and stay in it. Either may
            # be reading the page.
            self.doubt = True
            return
        # In foreign content an end tag closes the nearest open element of its name, unless
        # an HTML element comes first: the HTML rules then take over, and they may close
        # elements of the page around the <svg>, which the gate does not know.
        for index in range(len(self.stack) - 1, -1, -1):
            node, namespace = self.stack[index]
            if namespace == _HTML:
                break
            if node == name:
                self._truncate(index)
                return
        self.doubt = True


_FONT_BREAKOUT = frozenset({b"color", b"face", b"size"})


def _names(attributes: bytes) -> set[bytes]:
    """The attribute names of a start tag, in lower case."""
    return {match.group(2).lower() for match in _ATTRS.finditer(attributes)}


def _self_closing(attributes: bytes) -> bool:
    """Whether a start tag with these attributes ends in "/>" (a "/" that ends an unquoted
    value, as in `<a href=x/>`, does not count)."""
    if not attributes.endswith(b"/"):
        return False
    ends = [match.end() for match in _ATTRS.finditer(attributes)]
    return not ends or ends[-1] < len(attributes)


def _defuse_inside(tag: bytes) -> bytes:
    """`tag` with every candidate start tag inside it written "&lt;...": the same
    text where it is an attribute value, and no tag wherever else a browser may read it."""
    return tag[:1] + _CANDIDATE_LT.sub(b"&lt;", tag[1:])


# The start of a start tag the gate reads for a plan, anywhere (paranoid mode).
# (With a namespace prefix too, `<h:script`, which an XML parser reads as a script.)
_CANDIDATE = re.compile(
    rb"<(?:[A-Za-z_][A-Za-z0-9_.\-]*+:)?"
    + _either_case(sorted(_GATED_NAMES))
    + rb"(?=["
    + _WS
    + rb"/>]|\Z)"
)
# The "<" of each `_CANDIDATE` alone (none of them holds another "<"), to defuse them all
# in one substitution.
_CANDIDATE_LT = re.compile(rb"<(?=" + _CANDIDATE.pattern[1:] + rb")")
# What may begin a candidate at the end of the buffer, a name with its prefix so far: how
# long a one the gate keeps for the next chunk (longer prefixes than that are not followed).
_HEAD = 64
_CANDIDATE_HEAD = re.compile(rb"<[A-Za-z0-9_.\-:]*+\Z")
# Where a browser with scripting ends a <noscript> (its raw text).
_NOSCRIPT_END = re.compile(rb"</(?i:noscript)[" + _WS + rb"/>]")
# Inside <noscript>, how long a comment or raw-text element the gate holds to read it whole.
_NOSCRIPT_HOLD = 64 * 1024
_SHORT_COMMENT = re.compile(rb"<!---?>")
# End tags (group 1: the name) and the other "<...>" constructs that are not start tags.
_OTHER = re.compile(
    rb"</([a-zA-Z][^" + _WS + rb"/>]*+)(?:[" + _WS + rb"/]++|(?>" + _attribute(b"(?:") + rb"))*+>"
    rb"|</(?![a-zA-Z])[^>]*+>"
    rb"|<!(?!--)[^>]*+>"
    rb"|<\?[^>]*+>"
)


# A run of at least three of the same start tag without attributes (group 1: one of them),
# which the gate reads in bulk while every tag counts (`HTMLGate._repeated`).
_REPEATED = re.compile(rb"(<[a-zA-Z][a-zA-Z0-9]*+>)\1\1++")
_BARE_TAG = re.compile(rb"<[a-zA-Z][a-zA-Z0-9]*+>")
_BARE_LONGEST = 64  # a longer tag is read on its own


def _repeated(data: bytes, pos: int) -> re.Match[bytes] | None:
    """The run of the same bare start tag at `pos` (`_REPEATED`), if there is one; only
    the tag itself is looked at otherwise, not what follows it."""
    close = data.find(b">", pos, pos + _BARE_LONGEST)
    if close < 0:
        return None
    tag = data[pos : close + 1]
    if not data.startswith(tag * 2, close + 1) or _BARE_TAG.fullmatch(tag) is None:
        return None
    return _REPEATED.match(data, pos)


# What the gate does after its fast path (`HTMLGate._run_fast`).
_GO_ON, _TOKEN, _WAIT = 0, 1, 2


# --- work bounded by the input: resuming where a scan stopped --------------------------------
#
# Every byte of the body is read a bounded number of times, however it is cut into chunks and
# whatever it holds. Two things could make the gate read bytes again and again: a construct
# left unfinished at the end of a chunk (a tag, an end tag, "<!...>", or inside <noscript> a
# comment or raw-text element held whole), which the gate read from its start on every chunk;
# and, in paranoid mode, many candidate tags inside one another, each read to its own far end.
# The first is met by `_Hold`, which follows the unfinished construct over each new chunk only
# and wakes the gate once it can have ended; the second by `_Ends`, which reads the tags of
# all candidates in one shared pass.

# The tokenizer's states inside a start or end tag (those of the HTML standard, with the
# ones that behave alike merged: after a quoted value and "/" as before an attribute name).
_IN_NAME, _IN_BEFORE_ATTR, _IN_ATTR_NAME, _IN_AFTER_ATTR, _IN_BEFORE_VALUE = range(5)
_IN_QUOTED, _IN_APOSTROPHED, _IN_UNQUOTED, _TAG_DONE = 5, 6, 7, 8
_RUNS = {
    _IN_NAME: re.compile(rb"[^" + _WS + rb"/>]*+"),
    _IN_BEFORE_ATTR: re.compile(rb"[" + _WS + rb"/]*+"),
    _IN_ATTR_NAME: re.compile(rb"[^" + _WS + rb"/=>]*+"),
    _IN_AFTER_ATTR: _BLANKS,
    _IN_BEFORE_VALUE: _BLANKS,
    _IN_UNQUOTED: re.compile(rb"[^" + _WS + rb">]*+"),
}
# Whole attributes and separators from before an attribute name, as `_START_TAG` reads them,
# group 1 the last one (which the end of the buffer may have cut short). An attribute without
# a value takes the blanks after it, so that every earlier one is followed by a byte that
# settles it.
_TAG_UNITS = re.compile(
    rb"(?:([" + _WS + rb"/]++|[^" + _WS + rb"/>][^" + _WS + rb"/=>]*+"
    rb"(?:[" + _WS + rb"]*+=[" + _WS + rb"]*+(?:\"[^\"]*+\"|'[^']*+'|(?![\"'])[^" + _WS + rb">]*+)"
    rb"|[" + _WS + rb"]*+(?!=))))*+"
)


def _tag_step(data: bytes | bytearray, pos: int, state: int) -> tuple[int, int]:
    """One step of the tokenizer through a tag from `pos` in `state` (not at the end of
    `data`): where it is then and its state there, `_TAG_DONE` past the ">" that ends it."""
    if state == _IN_QUOTED or state == _IN_APOSTROPHED:
        close = data.find(b'"' if state == _IN_QUOTED else b"'", pos)
        return (len(data), state) if close < 0 else (close + 1, _IN_BEFORE_ATTR)
    run = _RUNS[state].match(data, pos)  # it matches the empty string too
    pos = run.end() if run is not None else pos
    if pos == len(data):
        return pos, state
    char = data[pos]
    pos += 1
    if char == 0x3E:  # ">"
        return pos, _TAG_DONE
    if state == _IN_NAME or state == _IN_UNQUOTED:
        return pos, _IN_BEFORE_ATTR  # a blank, or "/" after the name
    if state == _IN_BEFORE_ATTR:
        return pos, _IN_ATTR_NAME  # any other byte starts a name, even "="
    if state == _IN_BEFORE_VALUE:
        if char == 0x22:
            return pos, _IN_QUOTED
        return pos, _IN_APOSTROPHED if char == 0x27 else _IN_UNQUOTED
    if char == 0x3D:  # "=" after an attribute name
        return pos, _IN_BEFORE_VALUE
    if char == 0x2F:  # "/"
        return pos, _IN_BEFORE_ATTR
    if state == _IN_ATTR_NAME:
        return pos, _IN_AFTER_ATTR
    # After an attribute name and blanks, another byte starts the next name, as it does
    # before one: that state (whose attributes `_tag_scan` reads in one match).
    return pos - 1, _IN_BEFORE_ATTR


def _tag_scan(data: bytes | bytearray, pos: int, state: int) -> tuple[int, int]:
    """The tokenizer through a tag from `pos` in `state` to the end of `data` or the tag's
    end (state `_TAG_DONE`, past its ">"); the attributes in between are read in one match."""
    end = len(data)
    whole = True
    while pos < end and state != _TAG_DONE:
        if state == _IN_BEFORE_ATTR and whole:
            units = _TAG_UNITS.match(data, pos)
            assert units is not None  # it matches the empty string too
            stop = units.end()
            if stop < end and data[stop] == 0x3E:
                return stop + 1, _TAG_DONE
            # The last unit may be cut short, and what follows it is an attribute whose
            # quoted value has not ended: step through both.
            if units.lastindex:
                pos = units.start(1)
            whole = False
        pos, state = _tag_step(data, pos, state)
    return pos, state


# Where a quote may open an attribute value: after "=" and blanks, never anywhere else.
_VALUE_QUOTE = re.compile(rb"=[" + _WS + rb"]*+[\"']")


class _Ends:
    """Where the start tags of many candidates in `data` end (paranoid mode), each byte read
    a bounded number of times however the tags overlap.

    Two readings of a tag from different places that are in the same state at the same byte
    go on alike: where a reading is before an attribute name (which every reading is again
    within a few steps) is remembered, and a later reading that gets there takes its end from
    there. A tag with no quote that may open a value before the next ">" ends there, which
    two byte searches, shared by the candidates, tell.
    """

    __slots__ = ("data", "known", "next_close", "next_quote")

    def __init__(self, data: bytes) -> None:
        self.data = data
        # By position: the end of a reading before an attribute name there (-1: not in
        # `data`; -2: no reading was), four bytes a byte, made on the first reading.
        self.known: array[int] | None = None
        self.next_close = -2  # the first ">" at or after the last candidate (-1: none)
        self.next_quote = -2  # the first `_VALUE_QUOTE` at or after it (-1: none)

    def end(self, start: int) -> int:
        """Where the start tag at `start` ends (past its ">"); -1: not in `data` yet."""
        data = self.data
        if self.next_close != -1 and self.next_close < start:
            self.next_close = data.find(b">", start)
        if self.next_quote != -1 and self.next_quote < start:
            opens = _VALUE_QUOTE.search(data, start)
            self.next_quote = -1 if opens is None else opens.start()
        close, quote = self.next_close, self.next_quote
        if close < 0:
            return -1  # no ">" anywhere after it
        if quote < 0 or close < quote:
            return close + 1
        known = self.known
        if known is None:
            known = self.known = array("i", [-2]) * (len(data) + 1)
        path = []
        end = len(data)
        pos, state = start + 1, _IN_NAME
        while True:
            if pos == end:
                found = -1
                break
            pos, state = _tag_step(data, pos, state)
            if state == _TAG_DONE:
                found = pos
                break
            if state == _IN_BEFORE_ATTR:
                found = known[pos]
                if found != -2:
                    break
                path.append(pos)
        for place in path:
            known[place] = found
        return found

    def scan(self, start: int) -> int:
        """`end(start)` read in one match of the tag's attributes, at C speed, but without
        what other readings found (each such reading may read the rest of `data`)."""
        pos, state = _tag_scan(self.data, start + 1, _IN_NAME)
        return pos if state == _TAG_DONE else -1


# In a gated tag in paranoid mode, how many of the candidates inside it have their tags
# read by `_Ends.scan` (the first ones), the others by `_Ends.end`: each such reading may
# read the rest of the buffer, so there must be a bounded number of them.
_SCANS = 2

# What a gate waits for at the start of its buffer (`_Hold`).
_HOLD_TAG, _HOLD_CLOSE, _HOLD_COMMENT, _HOLD_RAW = 0, 1, 2, 3
_HOLD_MIN = 16  # a shorter buffer is read again whole: it costs no more than following it


class _Hold:
    """An unfinished construct at the start of the gate's buffer, followed over each chunk
    that arrives (the chunks kept in one growing buffer): `feed` says when the gate can get
    further, until then it would only read the construct from its start again.

    `kind` is what it waits for: the end of a tag read from `pos` in tokenizer `state`
    (`_HOLD_TAG`), a ">" (`_HOLD_CLOSE`: "<!...>", "<?...>", "</...>"), or inside <noscript>
    the end of a comment (`_HOLD_COMMENT`) or of the text of raw-text element `name`
    (`_HOLD_RAW`, `state` its script state), or more than `_NOSCRIPT_HOLD` bytes.
    """

    __slots__ = ("data", "kind", "name", "pos", "seen", "state")

    def __init__(self, data: bytes, kind: int, pos: int, state: int, name: bytes) -> None:
        self.data = bytearray(data)
        self.kind = kind
        self.pos = pos
        self.state = state
        self.name = name
        self.seen = pos  # a tag: no ">" from `pos` up to here

    def feed(self, chunk: bytes) -> bool:
        """Add `chunk`; whether the gate may now get further."""
        data = self.data
        data += chunk
        end = len(data)
        kind = self.kind
        if kind == _HOLD_TAG:
            # A tag ends only at a ">": the bytes before one are read when it comes, once.
            close = data.find(b">", self.seen)
            if close < 0:
                self.seen = end
                return False
            pos, state = self.pos, self.state
            if state != _IN_QUOTED and state != _IN_APOSTROPHED and state != _IN_BEFORE_VALUE:
                if _VALUE_QUOTE.search(data, pos, close) is None:
                    return True  # no value can open before it: it ends the tag
            self.pos, self.state = _tag_scan(data, pos, state)
            self.seen = end
            return self.state == _TAG_DONE
        if kind == _HOLD_CLOSE:
            if data.find(b">", self.pos) >= 0:
                return True
            self.pos = end
            return False
        if end > _NOSCRIPT_HOLD:
            return True  # too long to hold: the gate goes paranoid
        if kind == _HOLD_COMMENT:
            if _COMMENT_END.search(data, self.pos) is not None:
                return True
            self.pos = max(self.pos, end - 2)
            return False
        if self.name == b"script":
            self.pos, self.state, found = _script_text(data, self.pos, self.state, False)
            return found
        if _RAW_ENDS[self.name].search(data, self.pos) is not None:
            return True
        self.pos = max(self.pos, end - 12)
        return False


class _Await(NamedTuple):
    """What a step of the gate stopped at, waiting for more data (see `_Hold`), read from
    `pos` in the buffer on in `state` (`name`: the raw-text element)."""

    kind: int
    pos: int
    state: int = _IN_NAME
    name: bytes = b""


def _await_construct(data: bytes, start: int) -> _Await:
    """What the unfinished construct at `start` (a "<" that opens something) waits for."""
    second = data[start + 1 : start + 2]
    if second.isalpha():
        return _Await(_HOLD_TAG, start + 1)
    if second == b"/" and data[start + 2 : start + 3].isalpha():
        return _Await(_HOLD_TAG, start + 2)
    return _Await(_HOLD_CLOSE, start + 1)


class HTMLGate:
    """Rewrites one HTML body, fed in chunks; `feed` and `close` return bytes to send."""

    _fast = True  # the reference gate in the tests turns the fast path off

    def __init__(
        self,
        allows: Allows,
        hosts: HostLookup | None = None,
        *,
        encoding: str | None = "utf-8",
        xml: bool = False,
    ) -> None:
        """Args:
        allows: whether a category or service id is allowed.
        hosts: the service a URL's host belongs to (auto-blocking), or None.
        encoding: the Python codec the browser decodes the page with, which must be
            ASCII-compatible (UTF-16 is decoded before the gate); None when the page does
            not declare one: UTF-8 where the bytes are valid UTF-8, else windows-1252.
        xml: the page is XHTML (`application/xhtml+xml`), which an XML parser reads:
            no element's text is raw there, so every script and iframe start tag is gated
            wherever it stands.
        """
        self._allows = allows
        self._encoding = encoding
        self._verdicts: dict[str, bool] = {}  # what `allows` said of each id, this page
        self._hosts = hosts
        self._buffer = b""
        self._raw: bytes | None = None  # inside <script>...</script> etc.: its name
        self._script = _DATA  # inside a script: the tokenizer's script data state
        self._skip_to: re.Pattern[bytes] | None = None  # inside a comment or CDATA section
        self._context = _Context()
        self._paranoid = xml
        self._nested = 0  # paranoid mode: bytes of the buffer inside an earlier candidate tag
        self._read = 0  # paranoid mode: bytes of the buffer inside the last nested tag read
        self._hold: _Hold | None = None  # the buffer while it starts with what `_await` says
        self._await: _Await | None = None  # what the last step stopped at, if it waits
        self._waited = False  # whether the last run stopped so too
        self._base: str | None = None  # the service whose host the <base href> is on
        self._base_fixed = False  # whether the first <base href> has been read for sure
        # The <video>, <audio> and <picture> elements open (see `_container_start`).
        self._open: list[_Plan] = []
        self._latest: _Plan | None = None
        self._frozen = False
        self._held = False  # whether one of them has a data-consent
        self._first_refused: str | None = None  # the id of the first tag it gated
        self._depth = 0  # how deep in iframe srcdoc documents it reads
        self._template = False  # whether a <template> start tag came
        self.changed = False

    def feed(self, chunk: bytes) -> bytes:
        """Process `chunk`; returns what can be sent now (possibly b"")."""
        hold = self._hold
        if hold is None:
            self._buffer += chunk
        elif hold.feed(chunk):
            self._buffer = bytes(hold.data)
            self._hold = None
        else:
            return b""  # the gate would read the same unfinished construct again
        return self._run(final=False)

    def close(self) -> bytes:
        """Flush what is left at the end of the body (an unfinished tag passes unchanged)."""
        if self._hold is not None:
            self._buffer = bytes(self._hold.data)
            self._hold = None
        return self._run(final=True)

    def _run(self, final: bool) -> bytes:
        data = self._buffer
        out: list[bytes] = []
        self._await = None
        pos = 0
        end = len(data)
        context = self._context
        while pos < end:
            if self._paranoid:
                pos = self._run_paranoid(data, pos, out, final)
                break
            if self._skip_to is not None:
                close = self._skip_to.search(data, pos)
                if close is None:
                    keep = end if final else max(pos, end - 3)
                    out.append(data[pos:keep])
                    pos = keep
                    break
                out.append(data[pos : close.end()])
                pos = close.end()
                self._skip_to = None
                continue
            if self._raw is not None:
                stop = self._raw_text(data, pos, final)
                out.append(data[pos:stop])
                pos = stop
                if self._raw is not None:
                    break  # the rest is still its text, or may start its end tag
                continue
            if context.active:
                # Every tag counts here: text up to the next "<", then that token.
                lt = data.find(b"<", pos)
                if lt != pos:
                    keep = end if lt < 0 else lt
                    out.append(data[pos:keep])
                    pos = keep
                    continue
                # (The reference gate, without the fast path, reads such runs tag by tag.)
                repeated = _repeated(data, pos) if self._fast else None
                if repeated is not None and not context.noscript:
                    pos = self._repeated(data, repeated, out, final)
                    continue
            elif not self._fast:
                skip = _SKIP.match(data, pos)
                if skip is not None and skip.end() > pos:
                    out.append(data[pos : skip.end()])
                    pos = skip.end()
                    continue
            else:
                pos, then = self._run_fast(data, pos, out, final)
                if then == _WAIT:
                    break
                if then == _GO_ON:
                    continue
            after = self._token(data, pos, out, final)
            if after is None:
                if final and context.noscript and _NOSCRIPT_END.search(data, pos + 1):
                    # A tag left open at the end of the body, for a browser with scripting
                    # an end of the <noscript> and markup after it.
                    self._paranoid = True
                    continue
                break  # unfinished: wait for more data
            pos = after
        rest = data[pos:]
        if final:
            out.append(rest)
            rest = b""
        elif self._await is not None and len(rest) >= _HOLD_MIN:
            # Stopped at an unfinished construct twice (most are cut by one chunk's end
            # only, and cost less read again once than followed): follow it over the
            # chunks to come, from where this reading of it got to.
            if self._waited and pos == 0:
                wait = self._await
                hold = _Hold(rest, wait.kind, wait.pos, wait.state, wait.name)
                if not hold.feed(b""):
                    self._hold = hold
                    rest = b""
            self._waited = True
        else:
            self._waited = False
        self._buffer = rest
        return b"".join(out)

    def _run_fast(self, data: bytes, pos: int, out: list[bytes], final: bool) -> tuple[int, int]:
        """The fast path, in the data state of HTML content: from `pos`, jump from candidate
        to candidate while nothing but them can matter. Where the gate goes on, and how:
        `_GO_ON` (the state may have changed), `_TOKEN` (read the token there) or `_WAIT`.
        Bytes pass on in one slice from `sent` until a tag is rewritten."""
        end = len(data)
        search = _NEXT.search
        sent = pos
        while True:
            # Nothing up to the next candidate can change, and at the end of the body
            # nothing after the last one can either (an unfinished tag passes as is).
            found = search(data, pos)
            if found is None:
                if final:
                    out.append(data[sent:])
                    return end, _GO_ON
                stop = close = end
            else:
                stop, close = found.span()
            if stop > pos:
                plain = _plain_until(data, pos, stop)
                if plain > pos:
                    pos = plain
                    if found is None:
                        out.append(data[sent:pos])
                        if pos < end:  # a tag without its ">" yet
                            self._await = _await_construct(data, pos)
                        return pos, _WAIT
            if pos != stop or found is None:
                # The candidate may be hidden in a tag, or the quick proof failed: read the
                # bytes tag by tag up to the next place that matters.
                skip = _SKIP.match(data, pos)
                if skip is None or skip.end() == pos:
                    out.append(data[sent:pos])
                    return pos, _TOKEN
                pos = skip.end()
                if pos == end:
                    out.append(data[sent:pos])
                    return pos, _GO_ON
                continue
            # The commonest stops first, with the least work: a tag read before that changes
            # nothing here, or a container's end tag as pages write it.
            raw = data[pos:close]
            known = _TAGS.get(raw)
            if known is not None and known[0] in _GATED_ONLY:
                plan = known[1]
                if plan is _AS_IS or (plan.quiet and self._base is None and not self._held):
                    pos = close
                    if pos == end:
                        out.append(data[sent:pos])
                        return pos, _GO_ON
                    continue
            if data[pos + 1] == 0x2F:  # "/": the end tag of a container
                container = _PLAIN_ENDS.get(raw)
                if container is not None:
                    if self._open:
                        self._container_end(container)
                    pos = close
                    if pos == end:
                        out.append(data[sent:pos])
                        return pos, _GO_ON
                    continue
                other = _OTHER.match(data, pos)
                if other is None:
                    out.append(data[sent:pos])
                    return pos, _TOKEN  # no ">" yet
                self._container_end(other.group(1).lower())
                pos = other.end()
                if pos == end:
                    out.append(data[sent:pos])
                    return pos, _GO_ON
                continue
            if data[pos + 1] == 0x21:  # "!": a comment
                if close - pos == 4:
                    comment = _COMMENT_END.search(data, close)
                    if comment is None:  # "<!--" without its end yet
                        out.append(data[sent:pos])
                        return pos, _TOKEN
                    close = comment.end()
                pos = close  # a whole comment
                if pos == end:
                    out.append(data[sent:pos])
                    return pos, _GO_ON
                continue
            # A tag seen before is known by its bytes up to its first ">": a tag that ends
            # there is read the same wherever it stands, and one that does not (a ">" in a
            # quoted value, or none yet) cannot equal such bytes.
            tag: re.Match[bytes] | None = None
            if known is None:
                tag = _START_TAG.match(data, pos)
                if tag is None:
                    out.append(data[sent:pos])
                    return pos, _TOKEN  # no ">" yet
                raw = tag.group(0)
                close = tag.end()
                known = _read_tag(raw, tag.group(1), tag.group(2), self._encoding)
            name, plan = known
            if name in _GATED_ONLY:
                # An image, a link, ...: it changes no state of the tokenizer or tree context.
                # Most load only the site's own URLs, which only a <base> or a container
                # would change.
                if plan is not _AS_IS and not (
                    plan.quiet and self._base is None and not self._held
                ):
                    written = self._gated(raw, plan)
                    if written is not raw:
                        out.append(data[sent:pos])
                        out.append(written)
                        sent = close
                pos = close
                if pos == end:
                    out.append(data[sent:pos])
                    return pos, _GO_ON
                continue
            if name not in _RAW_TEXT:
                out.append(data[sent:pos])
                if tag is None:  # known by its bytes: a complete tag
                    tag = _START_TAG.match(data, pos)
                assert tag is not None
                after = self._opened(tag, data, out, final)
                return (pos, _WAIT) if after is None else (after, _GO_ON)
            # The common case, inline: raw text.
            if plan is not _AS_IS:
                written = self._gated(raw, plan)
                if written is not raw:
                    out.append(data[sent:pos])
                    out.append(written)
                    sent = close
            ends = _plain_raw_end(name, data, close)
            if ends is None:
                out.append(data[sent:close])
                self._raw = name
                self._script = _DATA
                return close, _GO_ON
            pos = ends

    def _token(self, data: bytes, pos: int, out: list[bytes], final: bool) -> int | None:
        """Read the token at the "<" at `pos`: where it ends (None: wait for more data)."""
        end = len(data)
        kind = data[pos + 1 : pos + 4]
        if not kind:
            return None  # a "<" at the end of the buffer: wait for what follows it
        if kind == b"!--":
            # "<!-->" and "<!--->" are complete (empty) comments in HTML.
            if end - pos < 6 and not final:
                return None
            short = _SHORT_COMMENT.match(data, pos, pos + 6)
            if self._context.noscript:
                close = short or _COMMENT_END.search(data, pos + 4)
                stop = self._agrees(data, pos, None if close is None else close.end(), final)
                if stop is None:
                    if self._paranoid:
                        return pos
                    self._await = _Await(_HOLD_COMMENT, pos + 4)
                    return None
                out.append(data[pos:stop])
                return stop
            if short is not None:
                out.append(short.group(0))
                return short.end()
            out.append(b"<!--")
            self._skip_to = _COMMENT_END
            return pos + 4
        if kind[:1] == b"!" and self._context.cdata:
            if data.startswith(b"<![CDATA[", pos):
                out.append(b"<![CDATA[")
                self._skip_to = _CDATA_END
                return pos + 9
            if end - pos < 9 and not final and b"<![CDATA["[: end - pos] == data[pos:]:
                return None
        if kind[:1] in (b"!", b"?", b"/"):
            other = _OTHER.match(data, pos)
            if other is None:
                self._await = _await_construct(data, pos)
                return None  # unfinished ("<!...", "</..." without its ">")
            if self._context.noscript and self._agrees(data, pos, other.end(), final) is None:
                return pos  # paranoid from here
            out.append(other.group(0))
            if other.group(1) is not None and other.group(1).lower() in _CONTAINER_NAMES:
                self._container_end(other.group(1).lower())
            if other.group(1) is not None and self._context.active:
                self._context.end(other.group(1).lower())
                self._paranoid = self._context.doubt
            return other.end()
        if not kind[:1].isalpha():
            out.append(b"<")  # a "<" that opens nothing is text
            return pos + 1
        tag = _START_TAG.match(data, pos)
        if tag is None:
            self._await = _Await(_HOLD_TAG, pos + 1)
            return None  # an unfinished start tag: wait for more data
        return self._opened(tag, data, out, final)

    def _repeated(
        self, data: bytes, repeated: re.Match[bytes], out: list[bytes], final: bool
    ) -> int:
        """Read a run of the same bare start tag (`_REPEATED`) while every tag counts: the
        first two tag by tag, and the others at once when the second left the model where
        the first did, one element deeper (the third then reads as the second did, and so
        on): where the gate goes on."""
        pos = repeated.start()
        tag = repeated.group(1)
        context = self._context
        depth = len(context.stack)
        for _ in range(2):
            # Outside <noscript> a whole start tag is read at once.
            after = self._token(data, pos, out, final)
            assert after == pos + len(tag)
            pos = after
            if self._paranoid or self._raw is not None:
                return pos  # what follows is read otherwise
        name = tag[1:-1].lower()
        if (
            name in _WATCHED
            or name in _GATED_NAMES
            or tag in _TAGS
            or len(context.stack) != depth + 2
            or context.stack[-1][0] != name
            or context.stack[-1] != context.stack[-2]
            or context.closers[-1] != context.closers[-2]
        ):
            return pos  # the rest tag by tag: what the tag does may differ
        more = (repeated.end() - pos) // len(tag)
        if context.stack[-1][1] == _HTML:
            context.html_open[name] += more
        context.stack.extend([context.stack[-1]] * more)
        context.closers.extend([context.closers[-1]] * more)
        out.append(data[pos : repeated.end()])  # written as they are, as the two were
        return repeated.end()

    def _opened(
        self, tag: re.Match[bytes], data: bytes, out: list[bytes], final: bool
    ) -> int | None:
        """Write the start tag `tag` (rewritten if it must wait) and note what it opens (a
        raw-text element: `_raw`): where the gate goes on (None: wait)."""
        context = self._context
        name = tag.group(1).lower()
        if name in _RAW_TEXT and not context.active:
            raw = True  # the common case: HTML content, where these are raw text
        else:
            if context.noscript:
                # Without scripting the <noscript> content is markup; with it, raw text up
                # to "</noscript": the two readings must agree on every construct around it.
                stop: int | None = tag.end()
                if name in _RAW_TEXT:
                    # In <select> too: a script there is raw text for every parser (the
                    # elements that only some read so send the gate to paranoid mode).
                    stop = _raw_stop(name, data, tag.end(), final)
                if self._agrees(data, tag.start(), stop, final) is None:
                    if self._paranoid:
                        return tag.start()
                    self._await = _Await(_HOLD_RAW, tag.end(), _DATA, name)
                    return None
            raw = context.start(name, tag.group(2), _self_closing(tag.group(2)))
            self._paranoid = context.doubt
        out.append(self._start_tag(tag))
        if raw and not self._paranoid:
            self._raw = name
            self._script = _DATA
        return tag.end()

    def _raw_text(self, data: bytes, pos: int, final: bool) -> int:
        """Inside a raw-text element: how far from `pos` its text surely goes (up to the
        "<" of its end tag, which ends the element: `_raw` is then None)."""
        name = self._raw
        assert name is not None
        if name != b"script" or self._script == _DATA:
            stop = _plain_raw_end(name, data, pos)
            if stop is not None:
                self._raw = None
                return stop
        if name == b"script":
            stop, self._script, found = _script_text(data, pos, self._script, final)
            if found:
                self._raw = None
            return stop
        # Keep a tail that could be the start of the end tag.
        return len(data) if final else max(pos, len(data) - 12)

    def _agrees(self, data: bytes, start: int, stop: int | None, final: bool) -> int | None:
        """Inside <noscript>: where the construct from `start` to `stop` (None: not all in
        the buffer yet) ends, if a browser with scripting, which reads the element as raw
        text up to "</noscript", agrees that it is one construct. None with `_paranoid` set
        when "</noscript" falls inside it or it is too long to hold; None alone: wait."""
        if stop is None:
            if not final and len(data) - start <= _NOSCRIPT_HOLD:
                return None
            stop = len(data)
        if stop - start > _NOSCRIPT_HOLD or _NOSCRIPT_END.search(data, start + 1, stop):
            self._paranoid = True
            return None
        return stop

    def _run_paranoid(self, data: bytes, pos: int, out: list[bytes], final: bool) -> int:
        """The fallback once the gate cannot tell how a browser reads what follows: every
        script or iframe start tag is gated wherever it stands (in a comment, raw text or an
        attribute value too).

        Each reading may see a different tag at a "<", so rewriting one must not change
        another. A candidate that starts inside an earlier one (its attribute text in one
        reading, a tag in another) is never rewritten, which could move the earlier tag's
        quotes: it is defused when it would be gated, written "&lt;...", the same attribute
        text in the first reading and no tag in the other.

        Every byte is read a bounded number of times, however many candidates overlap:
        where each candidate's tag ends comes from one shared reading (`_Ends`), and a
        candidate inside an earlier one is read whole only if it starts past the last one
        so read; any other is defused unread (written "&lt;...", which gates more: it is no
        tag in any reading, and the same attribute text).
        """
        end = len(data)
        nested = pos + self._nested  # bytes up to here are inside an earlier candidate
        read = pos + self._read  # and up to here inside the last such candidate read whole
        ends: _Ends | None = None
        gt = -2  # the next ">" from a candidate seen (-1: none after it; -2: not looked for)
        sent = pos  # bytes from here on are not in `out` yet: they pass as they are
        # What is written, in one buffer: a defused candidate every few bytes would
        # otherwise be two small objects each in `out`.
        written = bytearray()
        view = memoryview(data)
        while True:
            found = _CANDIDATE.search(data, pos)
            if found is None:
                # Keep what may be the start of a candidate cut by the chunk's end: every
                # byte after its "<" may be part of a name ("<template", "<svg:script").
                head = None if final else _CANDIDATE_HEAD.search(data, max(pos, end - _HEAD))
                pos = end if head is None else head.start()
                break
            pos = found.start()
            if pos < nested:
                if ends is None:
                    ends = _Ends(data)
                close = ends.end(pos)
                tag = _START_TAG.match(data, pos) if close >= 0 and pos >= read else None
            else:
                # (No ">" after it: no tag, which the pattern would take the rest to tell.)
                if gt != -1 and gt < pos:
                    gt = data.find(b">", pos)  # each byte searched once
                tag = _START_TAG.match(data, pos) if gt >= 0 else None
                close = -1 if tag is None else tag.end()
            if close < 0:
                if not final:
                    self._await = _Await(_HOLD_TAG, pos + 1)
                    break  # an unfinished start tag: wait for more data
                # Unfinished at the end: a browser reading it as a tag drops it and all
                # that follows; one reading it otherwise may see tags in what follows.
                if gt != -1 and gt < pos:
                    gt = data.find(b">", pos)
                if gt < 0:
                    # No ">" after it: every candidate from here is as unfinished, and
                    # stays as it is (what the loop would do for each, in one step).
                    pos = end
                    break
                nested = end
                pos += 1
                continue
            if pos < nested:
                as_is = False  # unread: defused
                if tag is not None:
                    read = close
                    as_is = self._start_tag(tag) == tag.group(0)
                if not as_is:
                    written += view[sent:pos]
                    written += b"&lt;"
                    sent = pos + 1
                nested = max(nested, close)
                pos += 1  # what it may hide is read on its own
                continue
            assert tag is not None
            rewritten = self._start_tag(tag)
            if rewritten == tag.group(0):
                nested = max(nested, close)
                pos += 1  # what it may hide is read on its own
                continue
            # A gated tag in its own right: every candidate inside it is defused, and the
            # tags those start may reach past its end.
            reach = close
            scans = _SCANS
            for inner in _CANDIDATE.finditer(data, pos + 1, close):
                if ends is None:
                    ends = _Ends(data)
                if scans:
                    scans -= 1
                    inner_close = ends.scan(inner.start())
                else:
                    inner_close = ends.end(inner.start())
                if inner_close < 0 and not final:
                    self._await = _Await(_HOLD_TAG, inner.start() + 1)
                    written += view[sent:pos]
                    out.append(bytes(written))
                    self._nested = max(0, nested - pos)
                    self._read = max(0, read - pos)
                    return pos  # wait until it ends
                reach = max(reach, end if inner_close < 0 else inner_close)
                if final and reach == end:
                    break  # no other reading can reach further
            written += view[sent:pos]
            written += _defuse_inside(rewritten)
            pos = sent = close
            nested = max(nested, reach)
        written += view[sent:pos]
        out.append(bytes(written))
        self._nested = max(0, nested - pos)
        self._read = max(0, read - pos)
        return pos

    def _start_tag(self, tag: re.Match[bytes]) -> bytes:
        """The start tag `tag` as it must be written: rewritten when it must wait."""
        raw = tag.group(0)
        known = _TAGS.get(raw)
        if known is None:
            name = tag.group(1).lower()
            if name not in _GATED_NAMES and name.rpartition(b":")[2] not in _GATED_NAMES:
                return raw
            known = _read_tag(raw, tag.group(1), tag.group(2), self._encoding)
        plan = known[1]
        return raw if plan is _AS_IS else self._gated(raw, plan)

    def _gated(self, raw: bytes, plan: _Plan) -> bytes:
        """Start tag `raw` as this visitor's consent has it written (`raw` itself if as is),
        noting on the way what it changes for the tags after it (a <base>, a container)."""
        role = plan.role
        holder: _Plan | None = None  # the container whose data-consent it waits with
        if role:
            if role == _BASE:
                self._note_base(plan.urls[0])
                return raw
            if role == _MEDIA or role == _PICTURE:
                self._container_start(plan)  # its <source>, <track> or <img> come next
            elif role == _TEMPLATE:
                self._template = True  # a <base> after it may be in its content
            elif role == _CHILD or role == _IMG:
                holder = self._container_of(role)
                latest = self._latest
                if role == _IMG and latest is not None and latest.role == _PICTURE:
                    # A picture has one <img>. (In paranoid mode the gate may read a tag
                    # twice, and the picture's id stays for the <img> tags after it.)
                    if not self._paranoid:
                        self._latest = None
                        self._settle_containers()
        if not plan.inserted and plan.renamed is None:
            return raw  # nothing it loads: a container
        consent_id = plan.consent_id
        added = b""
        if consent_id is None:
            if holder is not None:
                consent_id = holder.consent_id
                added = b" data-consent=" + holder.written_id
            if consent_id is None:
                consent_id = self._owner(plan.urls)
                if consent_id is None and plan.srcdoc is not None:
                    consent_id = self._inside(plan.srcdoc)
                if consent_id is None:
                    return raw
                escaped = html.escape(consent_id).encode("ascii", "xmlcharrefreplace")
                added = b' data-consent="' + escaped + b'"'
        elif not self._refused(consent_id):
            return raw
        self.changed = True
        if self._first_refused is None:
            self._first_refused = consent_id
        # The new attributes go first: the first of duplicate attributes wins, and nothing
        # the page wrote after them (`defer=`, `a/=b`) can swallow or split them.
        rest = raw[plan.cut :] if plan.renamed is None else plan.renamed
        return raw[: plan.cut] + added + plan.inserted + rest

    def _inside(self, srcdoc: str) -> str | None:
        """The first refused id of what the document in an iframe's `srcdoc` loads or runs
        (its relative URLs resolve against this page's base URL). The gate does not rewrite
        that document: the whole iframe waits for that id. Nested more than 8 deep, an
        iframe's srcdoc is not read."""
        if self._depth >= 8:
            return None
        inner = HTMLGate(self._allows, self._hosts)
        inner._verdicts = self._verdicts
        inner._base = self._base  # until a <base> of its own
        inner._depth = self._depth + 1
        # (the document as text: the inner gate reads it as UTF-8, its default)
        inner.feed(srcdoc.encode("utf-8", "xmlcharrefreplace"))
        inner.close()
        found = inner._first_refused
        return None if found is None else found.strip(_ID_BLANKS)

    def _refused(self, consent_id: str) -> bool:
        """Whether this visitor's consent refuses `consent_id` (ASCII blanks around it
        dropped); asked once per id and page."""
        consent_id = consent_id.strip(_ID_BLANKS)
        allowed = self._verdicts.get(consent_id)
        if allowed is None:
            allowed = self._allows(consent_id)
            if len(self._verdicts) < 256:  # a page names a few ids, many times over
                self._verdicts[consent_id] = allowed
        return not allowed

    def _owner(self, urls: tuple[str, ...]) -> str | None:
        """The refused service a tag without a data-consent waits for: one whose host one of
        its `urls` loads from (None: it loads)."""
        hosts = self._hosts
        if hosts is None:
            return None
        for url in urls:
            service = hosts(url)
            if service is None and self._base is not None and _relative(url):
                service = self._base  # resolved against a declared host's <base href>
            if service is not None and self._refused(service):
                return service
        return None

    def _container_start(self, plan: _Plan) -> None:
        """A <video>, <audio> or <picture> start tag. Its children wait with it while either
        of two readings has it open: the tree's, up to its end tag (`_open`, which a browser
        may ignore, as in `<video><div></video></div><source>`), and up to the next such
        start tag or, for a picture, its <img> (`_latest`, which is wrong for one nested in
        another: `<video><video></video><source>`)."""
        self._latest = plan if plan.consent_id is not None else None
        if len(self._open) < 64:
            self._open.append(plan)
        else:
            self._frozen = True  # too deep to follow: none ends any more
        self._settle_containers()

    def _container_end(self, name: bytes) -> None:
        """The end tag of a container `name`: it closes the nearest open one, and any
        opened inside it."""
        if self._frozen:
            return
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].container == name:
                del self._open[index:]
                self._settle_containers()
                return

    def _settle_containers(self) -> None:
        held = self._latest is not None
        if not held:
            for plan in self._open:  # (a loop costs less than any() and a generator)
                if plan.consent_id is not None:
                    held = True
                    break
        self._held = held

    def _container_of(self, role: int) -> _Plan | None:
        """The open container, with a refused data-consent, that a <source> or <track>
        (`role` `_CHILD`) or an <img> (`_IMG`: only a picture) may be loading for."""
        for plan in (self._latest, *reversed(self._open)):
            if plan is None or plan.consent_id is None:
                continue
            if (role == _CHILD or plan.role == _PICTURE) and self._refused(plan.consent_id):
                return plan
        return None

    def _note_base(self, href: str) -> None:
        """A <base href>: the first one sets the URL that relative URLs after it resolve
        against. Where the gate cannot tell whether a browser sees it as the document's
        (in paranoid mode, inside SVG, MathML, <noscript> or <select>, or after a <template>
        start tag, in whose content a <base> counts for nothing), it may be that first one
        or not: a refused declared host's wins, and a later <base> may still count."""
        if self._base_fixed or self._hosts is None:
            return
        service = self._hosts(href)
        if not (self._paranoid or self._context.active or self._template):
            self._base_fixed = True
            self._base = service
        elif service is not None and (self._base is None or not self._refused(self._base)):
            self._base = service


# What may surround a data-consent id: ASCII whitespace only. str.strip() would also take
# U+00A0 and U+0085 away, and ask about "ok" for an id that a browser reads as "\ufffdok".
_ID_BLANKS = "\t\n\f\r "
# What a start tag is to the tags after it (`_Plan.role`): nothing; the <base> whose href
# relative URLs resolve against; a <video> or <audio>, whose <source> and <track> children
# wait with it; a <picture>, whose <source> children and <img> wait with it; such a child;
# an <img>; a <template>.
_PLAIN, _BASE, _MEDIA, _PICTURE, _CHILD, _IMG, _TEMPLATE = range(7)


class _Plan(NamedTuple):
    """How a start tag the gate reads is gated, whoever the visitor."""

    consent_id: str | None
    """Its data-consent id, or None."""
    urls: tuple[str, ...]
    """What it loads, when it has no data-consent (a srcset gives each candidate's URL),
    for the hosts of declared services; for a <base>, its href."""
    cut: int
    """Where the attributes the gate adds go: after the tag name."""
    inserted: bytes
    """The attribute the gate adds to any gated tag: `type="text/plain"` to a script."""
    renamed: bytes | None
    """The rest of the tag after them, what it loads moved aside; None: as it is."""
    role: int = _PLAIN
    """What it is to the tags after it (`_BASE`, `_MEDIA`, ...)."""
    written_id: bytes = b""
    """A container's data-consent value as the page wrote it, for its children."""
    container: bytes = b""
    """A container's name (video, audio, picture), to match its end tag."""
    quiet: bool = False
    """Whether it is gated only through a <base> or a container: no data-consent, and only
    URLs without a host (the site's own, unless a <base> says otherwise)."""
    srcdoc: str | None = None
    """An iframe's srcdoc when it has no data-consent: the document that it loads."""


_AS_IS = _Plan(None, (), 0, b"", None)
"""The plan of a tag that no consent changes: no data-consent or URL, or inert already."""
# What the gate learnt of the start tags it read, by their bytes: (the name in lower case,
# the plan). Only the tags the fast path stops at and the ones it gates are kept, at most
# 4,096 of up to 2 KiB (forgotten all at once when full), each with a plan of about its
# size: a few hundred KiB for a site's own tags, about 25 MiB at worst. A plain dict: reads and
# writes are atomic, and no thread ever iterates over it.
_TAGS: dict[bytes, tuple[bytes, _Plan]] = {}

# The attributes whose values each element loads, in the order their URLs are matched with
# hosts; the gate moves each to "data-consent-<name>" (a script's `type` is changed instead).
_LOADS: dict[bytes, tuple[bytes, ...]] = {
    b"iframe": (b"src", b"srcdoc"),
    b"img": (b"src", b"srcset"),
    # <image> is an <img> in HTML (the tree builder renames it) and an image in SVG.
    b"image": (b"src", b"srcset", b"href", b"xlink:href"),
    b"source": (b"src", b"srcset"),
    b"track": (b"src",),
    b"video": (b"src", b"poster"),
    b"audio": (b"src",),
    b"embed": (b"src",),
    b"object": (b"data",),
    # Only <input type=image> loads its src; moving it aside from any other type is harmless,
    # and a script may change the type.
    b"input": (b"src",),
    b"link": (b"href", b"imagesrcset"),
    # A declarative shadow root is attached, its content live, as the parser reads it.
    b"template": (b"shadowrootmode",),
}
# The attribute values that are not one URL: srcset lists, HTML and a shadow root mode.
_SRCSETS = frozenset({b"srcset", b"imagesrcset"})
_NOT_URLS = frozenset({b"srcdoc", b"shadowrootmode"})
_ROLES = {
    b"base": _BASE,
    b"video": _MEDIA,
    b"audio": _MEDIA,
    b"picture": _PICTURE,
    b"source": _CHILD,
    b"track": _CHILD,
    b"img": _IMG,
    b"image": _IMG,
    b"template": _TEMPLATE,
}
# A container with no data-consent: its children are read on their own.
_CONTAINERS = {
    name: _Plan(None, (), 0, b"", None, role, b"", name if role != _TEMPLATE else b"")
    for name, role in _ROLES.items()
    if role in (_MEDIA, _PICTURE, _TEMPLATE)
}
# The link types for which a browser fetches or connects to the link's href (or imagesrcset).
_ASCII_BLANKS = re.compile(r"[\t\n\f\r ]+")
_SCRIPT_URLS = (b"src", b"href")  # a script loads src, or in SVG href or xlink:href


def _read_tag(
    raw: bytes, name: bytes, attributes: bytes, encoding: str | None = "utf-8"
) -> tuple[bytes, _Plan]:
    """Read the start tag `raw` (its `name` as written, its `attributes`) of a page in
    `encoding` (see `HTMLGate`), and remember it."""
    lowered = name.lower()
    # In an XML document (XHTML, SVG) a prefix names the namespace: `<h:script>` is a script
    # where `h` is bound to XHTML's, so a prefixed name is read by its local part (in HTML,
    # where it is no script, gating it only gates more).
    local = lowered.rpartition(b":")[2] if b":" in lowered else lowered
    gated = local in _GATED_NAMES
    plan = _plan(local, name, attributes, encoding) if gated else _AS_IS
    known = (lowered, plan)
    # A plan holds the attribute values as decoded in this page's encoding: only a tag in
    # ASCII, which every encoding the gate reads decodes alike, is remembered for all pages.
    if len(raw) <= 2048 and (not gated or raw.isascii()):
        remember(_TAGS, raw, known)
    return known


def _plan(name: bytes, written: bytes, attributes: bytes, encoding: str | None = "utf-8") -> _Plan:
    """The plan of the start tag of candidate element `name` (`written` as the page has it)."""
    role = _ROLES.get(name, _PLAIN)
    loads = _LOADS.get(name, ())
    lowered = attributes.lower()
    if b"data-consent" not in lowered and not any(a in lowered for a in (*loads, *_SCRIPT_URLS)):
        return _CONTAINERS.get(name, _AS_IS)  # no attribute that can gate it
    attrs = _ATTRS.findall(attributes)
    names = [attr.lower() for _, attr, _ in attrs]
    consent_id = _first(attrs, names, b"data-consent", encoding)
    if name == b"base":
        href = _first(attrs, names, b"href", encoding)  # only a <base> with an href counts
        return _AS_IS if href is None else _Plan(None, (href.strip(),), 0, b"", None, _BASE)
    cut = 1 + len(written)
    if name == b"script":
        src = _first(attrs, names, b"src", encoding)
        if src is None:  # an SVG script loads its href
            src = _first(attrs, names, b"href", encoding) or _first(
                attrs, names, b"xlink:href", encoding
            )
        src = "" if src is None else src.strip()
        if consent_id is None and not src:
            return _AS_IS
        kind = _first(attrs, names, b"type", encoding)
        if kind is not None and kind.strip().lower() == "text/plain":
            return _AS_IS  # written inert already
        urls: tuple[str, ...] = () if consent_id is not None else (src,)
        return _moved(attributes, names, consent_id, urls, cut, (b"type",), b' type="text/plain"')
    if name == b"link":
        rel = _first(attrs, names, b"rel", encoding)
        if rel is None or LOADING_RELS.isdisjoint(_rel_tokens(rel)):
            return _AS_IS
    found: list[str] = []
    active = False  # whether it loads anything at all
    srcdoc: str | None = None
    for attr in loads:
        value = _first(attrs, names, attr, encoding)
        if value is None:
            continue
        if attr in _NOT_URLS:
            active = True  # present, even empty: srcdoc then wins over src
            if attr == b"srcdoc" and consent_id is None:
                srcdoc = value
        elif attr in _SRCSETS:
            candidates = _srcset_urls(value)
            found += candidates
            active = active or bool(candidates)
        elif value.strip():
            found.append(value.strip())
            active = True
    written_id = b""
    if consent_id is not None and (role == _MEDIA or role == _PICTURE):
        # Its children get its data-consent as the page wrote it (quotes, references and
        # charset kept), so that they name the same id.
        written_id = attrs[names.index(b"data-consent")][2] or b'""'
    if not active or (consent_id is None and not found and srcdoc is None):
        if consent_id is None or not written_id:
            return _CONTAINERS.get(name, _AS_IS)
        return _Plan(consent_id, (), 0, b"", None, role, written_id, name)
    urls = () if consent_id is not None else tuple(found)
    plan = _moved(attributes, names, consent_id, urls, cut, loads, b"", role, written_id)
    if name in _CONTAINER_NAMES:
        return plan._replace(container=name)
    if srcdoc is not None:
        return plan._replace(srcdoc=srcdoc)
    if consent_id is None and all(browser_host(url) is None for url in urls):
        return plan._replace(quiet=True)
    return plan


def _moved(
    attributes: bytes,
    names: list[bytes],
    consent_id: str | None,
    urls: tuple[str, ...],
    cut: int,
    moved: tuple[bytes, ...],
    inserted: bytes,
    role: int = _PLAIN,
    written_id: bytes = b"",
) -> _Plan:
    """The plan that renames each attribute in `moved` to "data-consent-<name>" in place;
    the page's own attributes keep their bytes and separators, and any "data-consent-<name>"
    the tag already had is left out."""
    dropped = {b"data-consent-" + attr: attr for attr in moved}
    if dropped.keys().isdisjoint(names) and not any(attr in names for attr in moved):
        return _Plan(consent_id, urls, cut, inserted, None, role, written_id)
    pieces: list[bytes] = []
    last = 0
    for match in _ATTRS.finditer(attributes):
        attr_name = match.group(2).lower()
        if attr_name in dropped:
            pieces.append(attributes[last : match.start()])
            last = match.end()
        elif attr_name in moved:
            pieces.append(attributes[last : match.start()] + b"data-consent-" + attr_name)
            last = match.start() + len(attr_name)
    pieces.append(attributes[last:])
    return _Plan(consent_id, urls, cut, inserted, b"".join(pieces) + b">", role, written_id)


# One image candidate of a srcset, as the HTML standard splits the list: commas and blanks,
# then its URL (all up to a blank; trailing commas end the candidate), then its descriptors up
# to a comma outside parentheses. Group 1: the URL, empty only at the end of the list (so
# that no attempt fails after reading far: each byte is read once).
_SRCSET_CANDIDATE = re.compile(
    r"[\t\n\f\r ,]*+([^\t\n\f\r ]*+)(?:(?<=,)|(?:[^,(]++|\([^)]*+\)?)*+,?)"
)


def _srcset_urls(value: str) -> list[str]:
    """The URL of each image candidate in the srcset `value`: a browser may fetch any one
    (a candidate whose descriptors it rejects counts too, which only gates more)."""
    found = (match.group(1) for match in _SRCSET_CANDIDATE.finditer(value))
    return [url.rstrip(",") for url in found if url]


def _rel_tokens(rel: str) -> set[str]:
    """The link types in `rel`: split at ASCII whitespace, ASCII letters in lower case
    (another letter makes a token no link type equals)."""
    return {token.lower() for token in _ASCII_BLANKS.split(rel) if token.isascii()}


# A URL with a scheme of its own: it does not resolve against the document's base URL.
# ("https:x" does, on a page whose base is https: it is read as relative, which gates more.)
_OWN_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*+:")
_TABS_AND_NEWLINES = re.compile(r"[\t\n\r]")


def _relative(url: str) -> bool:
    """Whether `url` resolves against the base URL to the base's host: no authority of its
    own ("//host"), and no scheme but http(s), which a base of that scheme takes as its own
    ("https:p.gif")."""
    url = _TABS_AND_NEWLINES.sub("", url.strip(_C0_AND_SPACE))
    scheme = _OWN_SCHEME.match(url)
    rest = url if scheme is None else url[scheme.end() :]
    if rest[:1] in ("/", "\\") and rest[1:2] in ("/", "\\"):
        return False
    return scheme is None or scheme.group().lower() in ("http:", "https:")


def _first(
    attrs: list[tuple[bytes, bytes, bytes]],
    names: list[bytes],
    name: bytes,
    encoding: str | None = "utf-8",
) -> str | None:
    """The value of the first attribute called `name` (browsers ignore the others), decoded
    as the browser decodes the page (see `HTMLGate`)."""
    if name not in names:
        return None
    value = attrs[names.index(name)][2]
    if value[:1] == b'"' or value[:1] == b"'":
        value = value[1:-1]
    if value.isascii():
        text = value.decode("ascii")
    elif encoding is not None:
        text = value.decode(encoding, "replace")
    else:
        # Not declared: a browser that guesses takes valid UTF-8 for UTF-8, and anything else
        # for windows-1252 (where the lead byte of any UTF-8 sequence is a letter that stays
        # in a host, so the other reading of valid UTF-8 names no host a service declares).
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = value.decode("cp1252", "replace")
    return html.unescape(text) if "&" in text else text
