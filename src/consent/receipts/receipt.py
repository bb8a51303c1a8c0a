"""What a receipt holds: one decision, how it was made, and under which snapshot."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, get_args

from consent.bounded_memo import remember
from consent.receipts.snapshot import Snapshot
from consent.receipts.times import format_time, parse_time
from consent.state import ConsentState

__all__ = ["METHODS", "SOURCES", "Method", "Receipt", "Source", "method_of"]

Method = Literal["accept_all", "reject_all", "save", "withdrawal"]
METHODS: tuple[str, ...] = get_args(Method)
Source = Literal["visitor", "gpc"]
SOURCES: tuple[str, ...] = get_args(Source)


def method_of(action: str, previous: ConsentState, new: ConsentState) -> Method:
    """How a decision was made: its action, or `withdrawal` when it takes back anything
    the previous choice granted."""
    if previous.decided and (previous.granted - new.granted or previous.services - new.services):
        return "withdrawal"
    if action not in METHODS:
        raise ValueError(f"unknown action {action!r}")
    return action  # type: ignore[return-value]


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
        memo: ChoicesMemo | None = None,
    ) -> Receipt:
        """The receipt of a decided `state`, made when the state was issued unless
        `recorded_at` says otherwise. `memo` remembers the mappings of the sets of choices
        seen before (a receipt writer keeps one)."""
        if not state.decided or state.receipt_id is None or state.issued_at is None:
            raise ValueError("only a decided state with a receipt id has a receipt")
        policy = state.policy
        fingerprint = policy.fingerprint
        # Decisions repeat a few sets of choices: each set's mappings are made once, and
        # every receipt gets its own copies. The fingerprint covers the ids and their order.
        key = (fingerprint, state.granted, state.services)
        choices = memo.get(key) if memo is not None else None
        if choices is None:
            choices = _Choices(
                categories={c.id: c.id in state.granted for c in policy.categories},
                services={s.id: s.id in state.services for s in policy.services},
            )
            if memo is not None:
                remember(memo, key, choices, 1024)
        return cls(
            id=state.receipt_id,
            recorded_at=recorded_at or state.issued_at,
            revision=state.revision,
            fingerprint=fingerprint,
            snapshot=snapshot.digest,
            method=method,
            categories=choices.categories.copy(),
            services=choices.services.copy(),
            previous_id=previous_id,
            browser=browser,
            language=language,
            gpc=gpc,
            source=source,
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


class _Choices(NamedTuple):
    """Every category and every service of a policy, each with its True or False."""

    categories: dict[str, bool]
    services: dict[str, bool]


ChoicesMemo = dict[tuple[str, frozenset[str], frozenset[str]], _Choices]
"""Decisions repeat a few sets of choices: (fingerprint, granted, services) -> their mappings."""


def _flags(value: Any) -> dict[str, bool]:
    data = json.loads(value) if isinstance(value, str) else value
    return {str(k): bool(v) for k, v in data.items()}
