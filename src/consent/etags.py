"""Conditional requests on gated pages: entity tags that name the consent a page was gated for.

The app's ETag names the page it wrote, but a gated page differs from one visitor's consent
to another's: a browser revalidating its copy after a change of consent would get a 304 and
keep a page gated for the old choice, trackers active after a withdrawal among them. So a
gated page's ETag carries the consent it was gated for, and its Last-Modified (which cannot)
is dropped. An If-None-Match naming this visitor's consent is handed to the app as the app
wrote it, so a 304 stays possible while the consent is the same; one made for another
consent reaches the app as is, and matches nothing there.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from consent.bounded_memo import remember
from consent.state import ConsentState

if TYPE_CHECKING:
    from starlette.types import Scope

__all__ = ["TAGGED", "ConsentTags"]

TAGGED = b"-consent-"
"""What every entity tag made for a consent carries, before the consent's name."""


class ConsentTags:
    """Names consents for entity tags; one per site, remembering the names it worked out."""

    __slots__ = ("_names",)

    def __init__(self) -> None:
        self._names: dict[tuple[frozenset[str], frozenset[str]], bytes] = {}

    def of(self, state: ConsentState) -> bytes:
        """A short name for what the HTML gate allows in `state` (ten hex digits)."""
        key = (state.granted, state.services)
        found = self._names.get(key)
        if found is None:
            text = ",".join(sorted(state.granted)) + "|" + ",".join(sorted(state.services))
            found = hashlib.blake2s(text.encode(), digest_size=5).hexdigest().encode()
            remember(self._names, key, found)
        return found

    def validators(
        self, headers: list[tuple[bytes, bytes]], state: ConsentState
    ) -> list[tuple[bytes, bytes]]:
        """`headers` with the ETag made for `state`'s consent and no Last-Modified."""
        suffix = TAGGED + self.of(state) + b'"'
        out = []
        for key, value in headers:
            if key == b"etag":
                value = value.strip()
                if len(value) < 2 or value[-1:] != b'"' or value[:1] not in b'W"':
                    continue  # not an entity tag: dropped rather than guessed at
                value = value[:-1] + suffix
            elif key == b"last-modified":
                continue
            out.append((key, value))
        return out

    def revalidating(self, scope: Scope, state: ConsentState) -> bool:
        """Hand the app the entity tags of If-None-Match that were made for `state`'s
        consent, as the app wrote them; whether there was one."""
        suffix = TAGGED + self.of(state) + b'"'
        found = False
        headers = []
        for key, value in scope["headers"]:
            if key == b"if-none-match" and value.find(suffix) >= 0:
                value = value.replace(suffix, b'"')
                found = True
            headers.append((key, value))
        if found:
            scope["headers"] = headers
        return found
