"""Known cookies: facts about what common platforms store, loaded on first use.

The data (`cookies.csv` beside this file) is derived from the Open Cookie Database
(Apache-2.0; see NOTICE): names, whether the name is a prefix, platform, category, domain and
retention. Its descriptions are not included. Note that its "Functional" category is not the
legal "strictly necessary" exemption: use the catalog negatively, to catch a cookie known as
analytics or marketing that a policy declares essential.
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["TRACKING", "Catalog", "KnownCookie", "known_cookies", "presets"]

TRACKING = frozenset({"Analytics", "Marketing"})
"""Catalog categories that can never be essential."""


@dataclass(frozen=True, slots=True)
class KnownCookie:
    """One catalog entry. With `wildcard`, `name` is a prefix (`_ga_` covers `_ga_XYZ`)."""

    name: str
    wildcard: bool
    platform: str
    category: str
    domain: str
    retention: str

    def matches(self, cookie_name: str) -> bool:
        """Whether a cookie called `cookie_name` is this entry."""
        if self.wildcard:
            return cookie_name.startswith(self.name)
        return cookie_name == self.name

    @property
    def tracking(self) -> bool:
        """Known as analytics or marketing: never strictly necessary."""
        return self.category in TRACKING


class Catalog:
    """Look-ups by cookie name: exact entries first, then the longest matching prefix."""

    def __init__(self, cookies: Iterable[KnownCookie]) -> None:
        self._exact: dict[str, list[KnownCookie]] = {}
        prefixes: list[KnownCookie] = []
        for cookie in cookies:
            if cookie.wildcard:
                prefixes.append(cookie)
            else:
                self._exact.setdefault(cookie.name, []).append(cookie)
        self._prefixes = sorted(prefixes, key=lambda c: -len(c.name))
        self.size = sum(map(len, self._exact.values())) + len(prefixes)

    def lookup_all(self, name: str) -> tuple[KnownCookie, ...]:
        """Every entry that describes cookie `name`, the most specific first.

        A policy rule ending in `*` (`wordpress_logged_in_*`) is looked up by its prefix.
        """
        if name.endswith("*"):
            name = name[:-1]
            wildcard = [c for c in self._prefixes if c.name == name]
            return (*wildcard, *self._exact.get(name, ()))
        return (*self._exact.get(name, ()), *(c for c in self._prefixes if c.matches(name)))

    def lookup(self, name: str) -> KnownCookie | None:
        """The most specific entry for cookie `name`, or None."""
        found = self.lookup_all(name)
        return found[0] if found else None

    def tracking(self, name: str) -> tuple[KnownCookie, ...]:
        """Entries that know cookie `name` as analytics or marketing."""
        return tuple(c for c in self.lookup_all(name) if c.tracking)


def _load(text: str) -> Catalog:
    rows = csv.DictReader(io.StringIO(text))
    return Catalog(
        KnownCookie(
            name=row["name"],
            wildcard=row["wildcard"] == "1",
            platform=row["platform"],
            category=row["category"],
            domain=row["domain"],
            retention=row["retention"],
        )
        for row in rows
    )


@cache
def known_cookies() -> Catalog:
    """The catalog shipped with the package, read once, on first use."""
    return _load(files("consent.catalog").joinpath("cookies.csv").read_text(encoding="utf-8"))


@cache
def presets() -> dict[str, dict[str, Any]]:
    """Service presets by name (`presets.toml` beside this file), read once, on first use.

    Each has `title`, `category` (a suggestion), `description`, and optionally `cookies`
    and `hosts`, in the policy file's own format.
    """
    text = files("consent.catalog").joinpath("presets.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)
