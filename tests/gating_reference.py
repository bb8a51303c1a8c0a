"""The HTML gate as it was before its fast path (commit 84cbd20), kept as the reference.

`tests/test_gating.py` feeds random HTML, cut at random places, through both this gate and
`consent.gating.HTMLGate` and requires byte-identical output: the fast path may only make
the gate faster, never change what it writes. This tokenizer reads every tag with the
start-tag grammar (the slow, obviously faithful way). Do not optimise this file.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from consent.gating import browser_host

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


_ATTR_PARTS = re.compile(_attribute(b"("))
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

Allows = Callable[[str], bool]
"""Whether a category or service id is allowed (unknown ids: False)."""
HostLookup = Callable[[str], str | None]
"""The service id that owns a URL's host, or None."""


def host_matcher(hosts: dict[str, str]) -> HostLookup:
    """A lookup from URL to service id; `hosts` maps a host (or `*.domain`) to a service."""
    exact = {h.lower(): s for h, s in hosts.items() if not h.startswith("*.")}
    suffixes = [(h[1:].lower(), s) for h, s in hosts.items() if h.startswith("*.")]

    def lookup(url: str) -> str | None:
        host = browser_host(url)  # how a browser reads the host: not what is compared here
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
        name = tag.group(1).lower()
        if name not in (b"script", b"iframe"):
            return tag.group(0)
        attrs = [(m.group(1).lower(), m) for m in _ATTR_PARTS.finditer(tag.group(2))]
        values: dict[bytes, str] = {}
        for attr, match in attrs:
            values.setdefault(attr, _value(match))  # the first of duplicates wins, as in browsers
        consent_id = values.get(b"data-consent")
        src = values.get(b"src", "").strip()
        added = b""
        if consent_id is None and src and self._hosts is not None:
            consent_id = self._hosts(src)
            if consent_id is not None:
                added = b' data-consent="' + consent_id.encode() + b'"'
        if consent_id is None or self._allows(consent_id.strip()):
            return tag.group(0)
        if name == b"script":
            kind = values.get(b"type")
            if kind is not None and kind.strip().lower() == "text/plain":
                return tag.group(0)  # written inert already
            moved, dropped = b"type", b"data-consent-type"
            added += b' type="text/plain"'
        else:
            if not src:
                return tag.group(0)
            moved, dropped = b"src", b"data-consent-src"
        # The new attributes first; the page's own keep their bytes and separators, with
        # `moved` renamed to `dropped` and any `dropped` it already had left out.
        text = tag.group(2)
        parts = []
        last = 0
        for attr, match in attrs:
            if attr == moved:
                parts.append(text[last : match.start()] + dropped)
                last = match.start() + len(attr)
            elif attr == dropped:
                parts.append(text[last : match.start()])
                last = match.end()
        parts.append(text[last:])
        self.changed = True
        return b"<" + tag.group(1) + added + b"".join(parts) + b">"


def _value(match: re.Match[bytes]) -> str:
    for group in (2, 3, 4):
        value = match.group(group)
        if value is not None:
            return html.unescape(value.decode("latin-1"))
    return ""
