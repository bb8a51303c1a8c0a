"""What the gate learnt of the start tags it read, by their bytes: `TagMemo`.

A site serves the same script, iframe and image tags on every page to every visitor: each
is read once (`plans.plan_of`), and what its reading found is kept for the next page, so
that only the visitor's consent is applied to it. A memo belongs to the site (see
`Gatekeeper`), never to the module: each middleware has its own, built once.
"""

from __future__ import annotations

from typing import NamedTuple

from consent.bounded_memo import remember
from consent.gating.plans import AS_IS, Plan, plan_of
from consent.gating.scanner import GATED_NAMES

__all__ = ["KnownTag", "TagMemo"]


class KnownTag(NamedTuple):
    """A start tag as the gate read it."""

    name: bytes
    """Its name in lower case (with its prefix, if any)."""
    plan: Plan
    """How it is gated (`AS_IS` for a tag the gate never changes)."""


class TagMemo:
    """Start tags read before, by their bytes: only the tags the fast path stops at and the
    ones it gates are kept, at most `SIZE` of up to `LONGEST` bytes (forgotten all at once
    when full), each with a plan of about its size: a few hundred KiB for a site's own tags,
    about 25 MiB at worst. A plain dict: reads and writes are atomic, and no thread ever
    iterates over it, so the gates of concurrent responses share it without a lock."""

    SIZE = 4096
    LONGEST = 2048

    __slots__ = ("_tags", "get")

    def __init__(self) -> None:
        self._tags: dict[bytes, KnownTag] = {}
        self.get = self._tags.get
        """The tag read before with exactly these bytes, or None."""

    def __len__(self) -> int:
        """How many tags it holds."""
        return len(self._tags)

    def __contains__(self, raw: object) -> bool:
        """Whether the start tag `raw` (its bytes) is remembered."""
        return raw in self._tags

    def clear(self) -> None:
        """Forget every tag."""
        self._tags.clear()

    def read(
        self, raw: bytes, name: bytes, attributes: bytes, encoding: str | None = "utf-8"
    ) -> KnownTag:
        """Read the start tag `raw` (its `name` as written, its `attributes`) of a page in
        `encoding` (see `HTMLGate`), and remember it."""
        lowered = name.lower()
        # In an XML document (XHTML, SVG) a prefix names the namespace: `<h:script>` is a
        # script where `h` is bound to XHTML's, so a prefixed name is read by its local part
        # (in HTML, where it is no script, gating it only gates more).
        # (`find`, not `in`: `bytes in bytes` first tries the operand as an integer, and
        # the exception that raises inside CPython costs more than the search.)
        local = lowered.rpartition(b":")[2] if lowered.find(b":") >= 0 else lowered
        gated = local in GATED_NAMES
        known = KnownTag(lowered, plan_of(local, name, attributes, encoding) if gated else AS_IS)
        # A plan holds the attribute values as decoded in this page's encoding: only a tag in
        # ASCII, which every encoding the gate reads decodes alike, is remembered for all.
        if len(raw) <= self.LONGEST and (not gated or raw.isascii()):
            remember(self._tags, raw, known, self.SIZE)
        return known
