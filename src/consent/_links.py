"""`Link` response headers (RFC 8288) that make a browser fetch: `Link:
<https://www.googletagmanager.com/gtag/js>; rel=preload; as=script` loads the tracker's
script (or opens a connection to its host) before any markup is read, so a link to a
refused service's host is dropped like the markup that would load it."""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["LOADING_RELS", "gate_links"]

LOADING_RELS = frozenset(
    "stylesheet preload prefetch preconnect dns-prefetch modulepreload prerender icon "
    "apple-touch-icon manifest compression-dictionary".split()
)
"""Link types that make a browser fetch the target, or connect to its host."""

# One link-value: "<" URI ">" then parameters, up to a comma outside quotes. Possessive, so
# that each byte is read once.
_LINK_VALUE = re.compile(rb'[\t ,]*+<([^>]*+)>((?:[^,"]++|"(?:[^"\\]++|\\.)*+"?)*+)', re.DOTALL)
_REL = re.compile(rb'(?i:;[\t ]*+rel[\t ]*+=[\t ]*+)(?:"([^"]*+)"|([^;,\t ]*+))')


def gate_links(value: bytes, refused: Callable[[str], bool]) -> bytes | None:
    """`value` (one Link header) without the link-values that fetch from a URL `refused`
    says no to; the value itself when nothing is dropped, None when nothing is left."""
    kept: list[bytes] = []
    dropped = False
    pos = 0
    while True:
        found = _LINK_VALUE.match(value, pos)
        if found is None or found.end() == pos:
            break
        pos = found.end()
        rel = _REL.search(found.group(2))
        tokens = b"" if rel is None else (rel.group(1) or rel.group(2) or b"")
        fetches = not LOADING_RELS.isdisjoint(tokens.decode("latin-1").lower().split())
        if fetches and refused(found.group(1).decode("latin-1").strip()):
            dropped = True
            continue
        kept.append(found.group(0).lstrip(b"\t ,"))
    if pos < len(value) and value[pos:].strip(b"\t ,"):
        # Not a list of link-values the way the standard writes them: a browser that reads
        # more into it than this could fetch from anywhere in it, so nothing of it is sent
        # when any refused URL could be named there.
        return value if not dropped and not refused_anywhere(value, refused) else None
    if not dropped:
        return value
    return b", ".join(kept) or None


def refused_anywhere(value: bytes, refused: Callable[[str], bool]) -> bool:
    """Whether any "<...>" in `value` names a URL `refused` says no to."""
    return any(refused(url.decode("latin-1").strip()) for url in re.findall(rb"<([^>]*+)>", value))
