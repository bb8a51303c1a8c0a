"""Streaming gate for text/html bodies: scripts and iframes wait for consent.

`HTMLGate` rewrites start tags as the body streams through:

* ``<script data-consent="x" ...>`` whose id is not allowed gets ``type="text/plain"`` (the
  original type kept in ``data-consent-type``): the browser neither fetches nor runs it;
* ``<iframe data-consent="x" src=...>`` not allowed has ``src`` moved to ``data-consent-src``;
* with auto-blocking, a ``<script src>`` or ``<iframe src>`` from a host a service declares
  is gated as that service even without ``data-consent``.

The tokenizer follows the HTML start-tag grammar (quoted, single-quoted and unquoted
attribute values, ``>`` inside quotes) and skips comments and raw-text elements such as
``<script>`` bodies, so ``"<iframe"`` inside a script is left alone. It keeps only the
unfinished construct between chunks: memory is bounded by the longest tag, not the page.
Bytes outside rewritten tags pass through unchanged, so any ASCII-compatible charset is
kept as it is.

Most of a page is text and ordinary tags, which never change. The gate jumps with one
C-level search to the next place that can matter (a comment, or the start tag of a script,
iframe or other raw-text element) and proves with a few byte searches that the bytes before
it are plain (see `_plain_until`); only when that proof fails does it read them tag by tag.
The output is byte for byte what reading every tag gives (tests/gating_reference.py).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

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
_RAW_ENDS = {n: re.compile(rb"</" + n + rb"[\t\n\f\r />]", re.IGNORECASE) for n in _RAW_TEXT}
_COMMENT_END = re.compile(rb"--!?>")
# Everything the gate passes on unchanged, consumed in one C-level match: text, tags other
# than the raw-text elements above (scripts and iframes among them), end tags, doctype and
# other "<!...>" / "<?...>" constructs. It stops at a comment, at a tag the gate must look
# at, and before anything unfinished at the end of the buffer.
_SKIP = re.compile(
    rb"(?:[^<]++"
    rb"|<(?![a-zA-Z!/?]|\Z)"
    rb"|<(?!(?i:" + b"|".join(sorted(_RAW_TEXT)) + rb")[" + _WS + rb"/>])"
    rb"[a-zA-Z][^" + _WS + rb"/>]*+(?:[" + _WS + rb"/]++|(?>" + _attribute(b"(?:") + rb"))*+>"
    rb"|</[a-zA-Z][^" + _WS + rb"/>]*+(?:[" + _WS + rb"/]++|(?>" + _attribute(b"(?:") + rb"))*+>"
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


# Where the tokenizer state can change or a tag may need rewriting: comments and the start
# tags of raw-text elements (scripts and iframes among them), found case-insensitively. A
# match may still be inside another tag, or a look-alike ("<scripts"): the gate checks. A
# complete comment is read at once, and so is a complete start tag: group 1 is its name,
# group 2 its attributes (None for a comment, a look-alike or a tag without its ">" yet).
_INTERESTING = sorted([*_RAW_TEXT, b"!--"])
_NEXT = re.compile(
    b"<(?=["
    + re.escape(bytes(sorted({c for w in _INTERESTING for c in w[:1].lower() + w[:1].upper()})))
    + rb"])(?:!--(?:-?>|.*?--!?>)?|("
    + _either_case(sorted(_RAW_TEXT))
    + rb")(?:(?=["
    + _WS
    + rb"/>])((?:["
    + _WS
    + rb"/]++|(?>"
    + _attribute(b"(?:")
    + rb"))*+)>)?)",
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
_SPECIAL_LEAD = re.compile(r"((?i:https?:))?(/*)")


def browser_host(url: str) -> str | None:
    """The host a browser loads `url` from, lower case (None: this site, or no host).

    As the URL standard reads an http(s) URL: leading and trailing controls and spaces
    dropped, tabs and newlines removed anywhere, `\\` read as `/`, the host
    percent-decoded and mapped by IDNA, a final dot ignored.
    """
    url = url.strip(_C0_AND_SPACE)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    url = url.replace("\\", "/")
    # Any number of slashes starts the authority: "https:///host" and "///host" go to host.
    # ("https:host", relative on an https page, is read as a host too: it only gates more.)
    lead = _SPECIAL_LEAD.match(url)
    if lead is not None and (lead.group(1) or lead.end() - lead.start(2) >= 2):
        url = (lead.group(1) or "") + "//" + url[lead.end() :]
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if not host or (parts.scheme and parts.scheme not in ("http", "https")):
        return None
    if "%" in host:
        host = unquote(host)
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host.lower().rstrip(".")


def host_matcher(hosts: dict[str, str]) -> HostLookup:
    """A lookup from URL to service id; `hosts` maps a host (or `*.domain`) to a service."""
    exact = {h.lower(): s for h, s in hosts.items() if not h.startswith("*.")}
    suffixes = [(h[1:].lower(), s) for h, s in hosts.items() if h.startswith("*.")]

    def lookup(url: str) -> str | None:
        host = browser_host(url)
        if not host:
            return None
        if host in exact:
            return exact[host]
        for suffix, service in suffixes:
            if host.endswith(suffix) or host == suffix[1:]:
                return service
        return None

    return lookup


class HTMLGate:
    """Rewrites one HTML body, fed in chunks; `feed` and `close` return bytes to send."""

    def __init__(self, allows: Allows, hosts: HostLookup | None = None) -> None:
        self._allows = allows
        self._hosts = hosts
        self._buffer = b""
        self._raw_end: re.Pattern[bytes] | None = None  # inside <script>...</script> etc.
        self._in_comment = False
        self.changed = False

    def feed(self, chunk: bytes) -> bytes:
        """Process `chunk`; returns what can be sent now (possibly b"")."""
        self._buffer += chunk
        return self._run(final=False)

    def close(self) -> bytes:
        """Flush what is left at the end of the body (an unfinished tag passes unchanged)."""
        return self._run(final=True)

    def _run(self, final: bool) -> bytes:
        data = self._buffer
        out: list[bytes] = []
        pos = 0
        end = len(data)
        while pos < end:
            if self._in_comment:
                close = _COMMENT_END.search(data, pos)
                if close is None:
                    keep = end if final else max(pos, end - 3)
                    out.append(data[pos:keep])
                    pos = keep
                    break
                out.append(data[pos : close.end()])
                pos = close.end()
                self._in_comment = False
                continue
            if self._raw_end is not None:
                match = self._raw_end.search(data, pos)
                if match is None:
                    # Keep a tail that could be the start of the end tag.
                    keep = end if final else max(pos, end - 12)
                    out.append(data[pos:keep])
                    pos = keep
                    break
                out.append(data[pos : match.start()])
                pos = match.start()
                self._raw_end = None
                continue
            # The data state. Nothing up to the next candidate can change, and at the end of
            # the body nothing after the last one can either (an unfinished tag passes as is).
            found = _NEXT.search(data, pos)
            if found is None:
                if final:
                    out.append(data[pos:])
                    pos = end
                    break
                stop = end
            else:
                stop = found.start()
            if stop > pos:
                plain = _plain_until(data, pos, stop)
                if plain > pos:
                    out.append(data[pos:plain])
                    pos = plain
                    if found is None:
                        break  # all sent, or a tag without its ">" yet: wait for it
            if pos == stop and found is not None:
                name = found.group(1)
                if name is None:
                    if found.end() - pos > 4:  # a whole comment
                        out.append(found.group(0))
                        pos = found.end()
                        continue
                elif found.group(2) is not None:
                    out.append(self._start_tag(found))
                    pos = found.end()
                    raw_end = _RAW_ENDS[name.lower()]
                    close = raw_end.search(data, pos)
                    if close is None:
                        self._raw_end = raw_end
                    else:  # the element's text, up to its end tag
                        out.append(data[pos : close.start()])
                        pos = close.start()
                    continue
            else:
                # The candidate may be hidden in a tag, or the quick proof failed: read the
                # bytes tag by tag up to the next place that matters.
                skip = _SKIP.match(data, pos)
                if skip is not None and skip.end() > pos:
                    out.append(data[pos : skip.end()])
                    pos = skip.end()
                    continue
            kind = data[pos + 1 : pos + 4]
            if kind == b"!--":
                # "<!-->" and "<!--->" are complete (empty) comments in HTML.
                if end - pos < 6 and not final:
                    break
                short = re.match(rb"<!---?>", data[pos : pos + 6])
                if short is not None:
                    out.append(short.group(0))
                    pos += short.end()
                    continue
                out.append(b"<!--")
                pos += 4
                self._in_comment = True
                continue
            if kind[:1] in (b"", b"!", b"?", b"/"):
                break  # unfinished ("<!...", "</..." without its ">"): wait for more data
            tag = _START_TAG.match(data, pos)
            if tag is None:
                break  # an unfinished start tag: wait for more data
            out.append(self._start_tag(tag))
            pos = tag.end()
            name = tag.group(1).lower()
            if name in _RAW_TEXT:  # a '/>' does not close these in HTML
                self._raw_end = _RAW_ENDS[name]
        rest = data[pos:]
        if final:
            out.append(rest)
            rest = b""
        self._buffer = rest
        return b"".join(out)

    def _start_tag(self, tag: re.Match[bytes]) -> bytes:
        raw = tag.group(0)
        name = tag.group(1).lower()
        if name != b"script" and name != b"iframe":
            return raw
        attributes = tag.group(2)
        lowered = attributes.lower()
        if b"data-consent" not in lowered and (self._hosts is None or b"src" not in lowered):
            return raw  # no attribute that can gate it
        attrs = _ATTRS.findall(attributes)
        names = [name.lower() for _, name, _ in attrs]
        consent_id = _first(attrs, names, b"data-consent")
        src = _first(attrs, names, b"src")
        src = "" if src is None else src.strip()
        added = b""
        if consent_id is None and src and self._hosts is not None:
            consent_id = self._hosts(src)
            if consent_id is not None:
                added = b' data-consent="' + consent_id.encode() + b'"'
        if consent_id is None or self._allows(consent_id.strip()):
            return raw
        if name == b"script":
            kind = _first(attrs, names, b"type")
            if kind is not None and kind.strip().lower() == "text/plain":
                return raw  # written inert already
            moved, dropped = b"type", b"data-consent-type"
            added += b' type="text/plain"'
        else:
            if not src:
                return raw
            moved, dropped = b"src", b"data-consent-src"
        self.changed = True
        # The new attributes go first: the first of duplicate attributes wins, and nothing
        # the page wrote after them (`defer=`, `a/=b`) can swallow or split them. The page's
        # own attributes keep their bytes and separators; only `moved` is renamed in place.
        if moved not in names and dropped not in names:
            return b"<" + tag.group(1) + added + attributes + b">"
        pieces: list[bytes] = []
        last = 0
        for match in _ATTRS.finditer(attributes):
            attr_name = match.group(2).lower()
            if attr_name == dropped:
                pieces.append(attributes[last : match.start()])
                last = match.end()
            elif attr_name == moved:
                pieces.append(attributes[last : match.start()] + dropped)
                last = match.start() + len(moved)
        pieces.append(attributes[last:])
        return b"<" + tag.group(1) + added + b"".join(pieces) + b">"


def _first(attrs: list[tuple[bytes, bytes, bytes]], names: list[bytes], name: bytes) -> str | None:
    """The value of the first attribute called `name` (browsers ignore the others)."""
    if name not in names:
        return None
    value = attrs[names.index(name)][2]
    if value[:1] == b'"' or value[:1] == b"'":
        value = value[1:-1]
    text = value.decode("latin-1")
    return html.unescape(text) if "&" in text else text
