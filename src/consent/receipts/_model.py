"""What a receipt holds, the snapshot of what the visitor was shown, and small helpers."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, Literal, get_args

from consent.bounded_memo import remember
from consent.policy import Policy
from consent.state import ConsentState

__all__ = [
    "DEFAULT_RETENTION",
    "METHODS",
    "SOURCES",
    "LogUnavailable",
    "Method",
    "Receipt",
    "Snapshot",
    "browser_family",
    "format_time",
    "method_of",
    "parse_age",
    "parse_time",
]

# A receipt must outlive the consent it proves (at most `max_age_days`, 180 by default)
# and stay available while a claim about it can be brought. Five years covers the common
# limitation periods; set your own from your legal advice. There is no "forever".
DEFAULT_RETENTION = timedelta(days=5 * 365)

Method = Literal["accept_all", "reject_all", "save", "withdrawal"]
METHODS: tuple[str, ...] = get_args(Method)
Source = Literal["visitor", "gpc"]
SOURCES: tuple[str, ...] = get_args(Source)


class LogUnavailable(Exception):
    """The consent log could not store or read a receipt (down, locked, full, too slow)."""


def format_time(moment: datetime) -> str:
    """`2026-11-28T21:52:24Z`: fixed width, so text order is time order."""
    # isoformat, not strftime: the same text, several times faster (one per receipt).
    return moment.astimezone(UTC).isoformat(timespec="seconds")[:19] + "Z"


def parse_time(text: str) -> datetime:
    """An ISO date or date-time; one without a zone is UTC. ValueError if it is neither."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_AGE = re.compile(r"\s*([1-9][0-9]{0,5})\s*(d|w|m|y|days?|weeks?|months?|years?)\s*")
_AGE_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


def parse_age(text: str) -> timedelta:
    """`400d`, `18 months`, `2y`... as a timedelta (a month is 30 days, a year 365).

    Raises:
        ValueError: not such an age; the message shows the accepted forms.
    """
    match = _AGE.fullmatch(text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not an age. Fix: write e.g. '400d', '18 months' or '2y'")
    return timedelta(days=int(match[1]) * _AGE_DAYS[match[2][0]])


_BOTS = re.compile(r"bot|crawl|spider|slurp|headless|lighthouse", re.IGNORECASE)
# The same search on a lowered ASCII string: the same answer, several times faster
# (a case-insensitive regex of alternatives is slow in `re`).
_BOTS_LOWER = re.compile(_BOTS.pattern)
# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_FAMILIES = (
    ("edge", ("Edg/", "Edge/", "EdgA/", "EdgiOS/")),
    ("opera", ("OPR/", "Opera")),
    ("samsung", ("SamsungBrowser/",)),
    ("firefox", ("Firefox/", "FxiOS/")),
    ("chrome", ("Chrome/", "CriOS/", "Chromium/")),
    ("safari", ("Safari/",)),
)


# Families of user-agents seen lately: a site sees the same few hundred again and again.
# Bounded in entries and in key length, whatever visitors send.
_SEEN: dict[str, str] = {}


def browser_family(user_agent: str | None) -> str:
    """A coarse browser family (`chrome`, `firefox`, `safari`, `edge`, `opera`, `samsung`,
    `bot`, `other` or `unknown`): enough to spot a broken banner in one browser, too little
    to single anybody out. The user-agent itself is never stored."""
    if not user_agent:
        return "unknown"
    family = _SEEN.get(user_agent)
    if family is None:
        family = _family(user_agent)
        if len(user_agent) <= 512:
            remember(_SEEN, user_agent, family, 1024)
    return family


def _family(user_agent: str) -> str:
    if user_agent.isascii():
        if _BOTS_LOWER.search(user_agent.lower()):
            return "bot"
    elif _BOTS.search(user_agent):  # Unicode case folding: U+017F (long s) is an "s"
        return "bot"
    for family, marks in _FAMILIES:
        for mark in marks:
            if mark in user_agent:
                return family
    return "other"


def method_of(action: str, previous: ConsentState, new: ConsentState) -> Method:
    """How a decision was made: its action, or `withdrawal` when it takes back anything
    the previous choice granted."""
    if previous.decided and (previous.granted - new.granted or previous.services - new.services):
        return "withdrawal"
    if action not in METHODS:
        raise ValueError(f"unknown action {action!r}")
    return action  # type: ignore[return-value]


# Templates that compliance staff see, never visitors: they are no part of a snapshot.
_STAFF_ONLY = frozenset({"report.html", "scan.html", "_report.css"})


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What visitors were shown and asked under one configuration: the policy with all its
    texts, the interface strings, and hashes of the banner's templates, script and styles.

    Stored once per digest; every receipt names the digest of the snapshot it was made
    under (EDPB 05/2020 para 108: "a copy of the information that was presented")."""

    digest: str
    revision: int
    fingerprint: str
    document: Mapping[str, Any] = field(repr=False, compare=False)
    canonical: str = field(default="", repr=False, compare=False)

    @classmethod
    def of(cls, policy: Policy) -> Snapshot:
        """The snapshot of `policy` with this installation's interface."""
        from consent import __version__
        from consent.i18n import UI_STRINGS

        package = resources.files("consent")
        assets = {}
        for folder in ("templates/consent", "static"):
            for item in sorted(package.joinpath(folder).iterdir(), key=lambda i: i.name):
                if item.is_file() and item.name not in _STAFF_ONLY:
                    digest = hashlib.sha256(item.read_bytes()).hexdigest()
                    assets[f"{folder}/{item.name}"] = digest
        document = {
            "library": f"asgi-consent {__version__}",
            "policy": policy.declaration(),
            "interface": {lang: dict(strings) for lang, strings in UI_STRINGS.items()},
            "assets": assets,
        }
        return cls.from_document(document)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Snapshot:
        """A snapshot of a stored document; the digest is computed, never trusted."""
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
        policy = document["policy"]
        return cls(
            hashlib.sha256(canonical.encode()).hexdigest(),
            int(policy.get("revision", 0)),
            str(policy["fingerprint"]),
            document,
            canonical,
        )

    def to_json(self) -> str:
        """The document as canonical JSON (what the digest covers)."""
        return self.canonical or json.dumps(self.document, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Receipt:
    """One decision, as kept in the consent log.

    Attributes:
        id: the receipt id, also carried in the visitor's consent cookie.
        recorded_at: when the decision was made (UTC, whole seconds; the cookie's issued-at).
        revision: the policy revision.
        fingerprint: the policy fingerprint (what was asked).
        snapshot: digest of the Snapshot of what was shown.
        method: `accept_all`, `reject_all`, `save` or `withdrawal`.
        categories: every category id with an explicit True or False.
        services: every service id with an explicit True or False.
        previous_id: the receipt this decision replaces, when the visitor had one.
        browser: a coarse browser family (see `browser_family`).
        language: the language the choice was offered in.
        gpc: whether the request carried a Global Privacy Control signal.
        source: `visitor` (a choice made in the banner or settings) or `gpc`.
    """

    id: str
    recorded_at: datetime
    revision: int
    fingerprint: str
    snapshot: str
    method: Method
    categories: Mapping[str, bool]
    services: Mapping[str, bool]
    previous_id: str | None = None
    browser: str = "unknown"
    language: str | None = None
    gpc: bool = False
    source: Source = "visitor"

    @classmethod
    def of(
        cls,
        state: ConsentState,
        *,
        method: Method,
        snapshot: Snapshot,
        previous_id: str | None = None,
        browser: str = "unknown",
        language: str | None = None,
        gpc: bool = False,
        source: Source = "visitor",
        recorded_at: datetime | None = None,
    ) -> Receipt:
        """The receipt of a decided `state`, made when the state was issued unless
        `recorded_at` says otherwise."""
        if not state.decided or state.receipt_id is None or state.issued_at is None:
            raise ValueError("only a decided state with a receipt id has a receipt")
        policy = state.policy
        fingerprint = policy.fingerprint
        # Decisions repeat a few sets of choices: each set's mappings are made once, and
        # every receipt gets its own copies. The fingerprint covers the ids and their order.
        key = (fingerprint, state.granted, state.services)
        choices = _CHOICES.get(key)
        if choices is None:
            choices = (
                {c.id: c.id in state.granted for c in policy.categories},
                {s.id: s.id in state.services for s in policy.services},
            )
            remember(_CHOICES, key, choices, 1024)
        return cls(
            state.receipt_id,
            recorded_at or state.issued_at,
            state.revision,
            fingerprint,
            snapshot.digest,
            method,
            choices[0].copy(),
            choices[1].copy(),
            previous_id,
            browser,
            language,
            gpc,
            source,
        )

    @property
    def granted(self) -> list[str]:
        """Granted category ids, in policy order."""
        return [id for id, on in self.categories.items() if on]

    @property
    def refused_services(self) -> list[str]:
        """Refused service ids, in policy order."""
        return [id for id, on in self.services.items() if not on]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data (exports, `consent log show`)."""
        return {
            "id": self.id,
            "recorded_at": format_time(self.recorded_at),
            "revision": self.revision,
            "fingerprint": self.fingerprint,
            "snapshot": self.snapshot,
            "method": self.method,
            "categories": dict(self.categories),
            "services": dict(self.services),
            "refused_services": self.refused_services,
            "previous_id": self.previous_id,
            "browser": self.browser,
            "language": self.language,
            "gpc": self.gpc,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Receipt:
        """The inverse of `to_json` (also reads a store's row as a mapping)."""
        moment = data["recorded_at"]
        return cls(
            id=str(data["id"]),
            recorded_at=(
                moment.astimezone(UTC) if isinstance(moment, datetime) else parse_time(moment)
            ),
            revision=int(data["revision"]),
            fingerprint=str(data["fingerprint"]),
            snapshot=str(data["snapshot"]),
            method=data["method"],
            categories=_flags(data["categories"]),
            services=_flags(data["services"]),
            previous_id=data.get("previous_id"),
            browser=str(data.get("browser") or "unknown"),
            language=data.get("language"),
            gpc=bool(data.get("gpc", False)),
            source=data.get("source") or "visitor",
        )


_CHOICES: dict[
    tuple[str, frozenset[str], frozenset[str]], tuple[dict[str, bool], dict[str, bool]]
] = {}


def _flags(value: Any) -> dict[str, bool]:
    data = json.loads(value) if isinstance(value, str) else value
    return {str(k): bool(v) for k, v in data.items()}
