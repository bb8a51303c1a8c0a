"""The HTML gate without its fast path, kept as the reference.

`tests/test_gating.py` feeds random HTML, cut at random places, through both this gate and
`consent.gating.HTMLGate` and requires byte-identical output: the fast path (`_NEXT` and
`_plain_until`, which jump over the bytes that cannot matter) may only make the gate faster,
never change what it writes. This gate reads every tag with the start-tag grammar, the slow
and obviously faithful way, and rewrites tags with its own code. Do not optimise this file.
"""

from __future__ import annotations

import html
import re

from consent import gating
from consent.gating import host_matcher

__all__ = ["HTMLGate", "host_matcher"]

# One attribute: group 1 its name, group 2, 3 or 4 its value (double, single, no quotes).
_ATTR_PARTS = re.compile(gating._attribute(b"("))


class HTMLGate(gating.HTMLGate):
    """The gate reading tag by tag (`_SKIP`, then one token at a time), never jumping."""

    _fast = False

    def _start_tag(self, tag: re.Match[bytes]) -> bytes:
        name = tag.group(1).lower()
        if name not in (b"script", b"iframe"):
            return tag.group(0)
        attrs = [(m.group(1).lower(), m) for m in _ATTR_PARTS.finditer(tag.group(2))]
        values: dict[bytes, str] = {}
        for attr, match in attrs:
            values.setdefault(attr, _value(match))  # the first of duplicates wins, as in browsers
        consent_id = values.get(b"data-consent")
        src = values.get(b"src")
        if src is None and name == b"script":  # an SVG script loads its href
            src = values.get(b"href") or values.get(b"xlink:href")
        src = (src or "").strip()
        added = b""
        if consent_id is None and src and self._hosts is not None:
            consent_id = self._hosts(src)
            if consent_id is not None:
                added = b' data-consent="' + consent_id.encode() + b'"'
        if consent_id is None or self._allows(consent_id.strip("\t\n\f\r ")):
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
