"""Known cookies: facts about what common platforms store, loaded on first use.

The data (`cookies.csv` beside this file) is derived from the Open Cookie Database
(Apache-2.0; see NOTICE): names, whether the name is a prefix, platform, category, domain and
retention. Its descriptions are not included. Note that its "Functional" category is not the
legal "strictly necessary" exemption: use the catalog negatively, to catch a cookie known as
analytics or marketing that a policy declares essential, or that the app sets undeclared
(`known_trackers`).
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, NamedTuple

__all__ = [
    "TRACKING",
    "Catalog",
    "KnownCookie",
    "Tracker",
    "Trackers",
    "known_cookies",
    "known_trackers",
    "presets",
]

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

    def all(self) -> Iterable[KnownCookie]:
        """Every entry: the exact ones, then the prefixes from the longest."""
        for entries in self._exact.values():
            yield from entries
        yield from self._prefixes

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


class Tracker(NamedTuple):
    """A cookie on the site's own domain that needs consent, as the catalog knows it.

    `category` is in the policy's words (`analytics`, `marketing`, `functional`): the id of
    the policy category a visitor must allow before the cookie may be set.
    """

    category: str
    platform: str


class Trackers:
    """Cookie name -> Tracker: exact names first, then the longest matching prefix.

    An entry of None says "known, and needs no consent" (an essential preset's cookie), so
    that a catalog entry of the same name, which belongs to another platform, does not
    count. A look-up costs one dict access per distinct prefix length (a few dozen).
    """

    def __init__(self, entries: Iterable[tuple[str, Tracker | None]]) -> None:
        self._exact: dict[str, Tracker | None] = {}
        by_length: dict[int, dict[str, Tracker | None]] = {}
        for name, tracker in entries:
            if name.endswith("*"):
                by_length.setdefault(len(name) - 1, {})[name[:-1]] = tracker
            else:
                self._exact[name] = tracker
        # The longest prefix wins; an empty prefix would claim every name, so none is kept.
        self._prefixes = sorted(((n, d) for n, d in by_length.items() if n), reverse=True)

    def lookup(self, name: str) -> Tracker | None:
        """The tracker called `name`, or None (unknown, or known to need no consent)."""
        if name in self._exact:
            return self._exact[name]
        for length, prefixes in self._prefixes:
            if length <= len(name):
                key = name[:length]
                if key in prefixes:
                    return prefixes[key]
        return None


class TrackerEntry(NamedTuple):
    """A cookie name (a prefix when it ends in `*`) and its Tracker, None for "known, and
    needs no consent"."""

    name: str
    tracker: Tracker | None


def _tracker_entries() -> Iterable[TrackerEntry]:
    # The Open Cookie Database's analytics and marketing cookies that live on the visited
    # site's own domain (no domain given). Those it lists on a vendor's domain (`.bing.com`,
    # `facebook.com (3rd party)`) never reach this site's server: a cookie of the same name
    # here is the site's own (`s`, `locale`, `SID` are such names), left to the policy.
    # Names of one or two characters (`i`, `sp`, `A1`) say too little to be sure whose
    # they are: a site's own cookie is left to `undeclared_cookies` rather than dropped.
    for cookie in known_cookies().all():
        if cookie.tracking and not cookie.domain.strip() and len(cookie.name) > 2:
            name = cookie.name + "*" if cookie.wildcard else cookie.name
            yield TrackerEntry(name, Tracker(cookie.category.lower(), cookie.platform))
    # Then the presets, our own checked facts, which win: their category, and None for an
    # essential preset's cookies (Django's `sessionid` is also an Instagram cookie) and for
    # those on the vendor's domain (YouTube's `YSC`), for the same reason as above.
    for preset in presets().values():
        category = preset["category"]
        for rule in preset.get("cookies", ()):
            needs_consent = category != "essential" and "domain" not in rule
            tracker = Tracker(category, preset["title"]) if needs_consent else None
            yield TrackerEntry(rule["name"], tracker)


@cache
def known_trackers() -> Trackers:
    """Cookies that need consent whatever the policy says, built once, on first use: the
    presets' optional cookies and the catalog's first-party analytics and marketing ones."""
    return Trackers(_tracker_entries())
