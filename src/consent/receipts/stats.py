"""Counting receipts: decisions per day and method, acceptance per category and service."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from consent.receipts.receipt import Receipt

__all__ = ["DayStats", "LogStats", "summarize"]


@dataclass
class DayStats:
    """The decisions of one UTC day."""

    day: date
    decisions: int = 0
    methods: Counter[str] = field(default_factory=Counter)
    granted: Counter[str] = field(default_factory=Counter)

    def rate(self, category: str) -> float:
        """The share of this day's decisions that granted `category` (0 when none)."""
        return self.granted[category] / self.decisions if self.decisions else 0.0


@dataclass
class LogStats:
    """Everything `consent log stats` and the report show."""

    decisions: int = 0
    first: str | None = None
    last: str | None = None
    methods: Counter[str] = field(default_factory=Counter)
    browsers: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    granted: Counter[str] = field(default_factory=Counter)
    services: Counter[str] = field(default_factory=Counter)
    services_granted: Counter[str] = field(default_factory=Counter)
    revisions: Counter[int] = field(default_factory=Counter)
    gpc: int = 0
    days: dict[date, DayStats] = field(default_factory=dict)

    def add(self, receipt: Receipt) -> None:
        """Count one receipt."""
        self.decisions += 1
        stamp = receipt.recorded_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.first = stamp if self.first is None else min(self.first, stamp)
        self.last = stamp if self.last is None else max(self.last, stamp)
        self.methods[receipt.method] += 1
        self.browsers[receipt.browser] += 1
        self.revisions[receipt.revision] += 1
        self.gpc += receipt.gpc
        day = receipt.recorded_at.date()
        per_day = self.days.get(day)
        if per_day is None:
            per_day = self.days[day] = DayStats(day)
        per_day.decisions += 1
        per_day.methods[receipt.method] += 1
        for id, on in receipt.categories.items():
            self.categories[id] += 1
            if on:
                self.granted[id] += 1
                per_day.granted[id] += 1
        for id, on in receipt.services.items():
            self.services[id] += 1
            if on:
                self.services_granted[id] += 1

    def rate(self, category: str) -> float:
        """The share of decisions that granted `category` (among those that asked for it)."""
        asked = self.categories[category]
        return self.granted[category] / asked if asked else 0.0

    def service_rate(self, service: str) -> float:
        """The share of decisions that granted `service`."""
        asked = self.services[service]
        return self.services_granted[service] / asked if asked else 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data (`consent log stats --format json`)."""
        return {
            "decisions": self.decisions,
            "first": self.first,
            "last": self.last,
            "methods": dict(self.methods),
            "browsers": dict(self.browsers),
            "gpc": self.gpc,
            "revisions": {str(k): v for k, v in sorted(self.revisions.items())},
            "categories": {
                id: {"granted": self.granted[id], "decisions": n, "rate": round(self.rate(id), 4)}
                for id, n in self.categories.items()
            },
            "services": {
                id: {
                    "granted": self.services_granted[id],
                    "decisions": n,
                    "rate": round(self.service_rate(id), 4),
                }
                for id, n in self.services.items()
            },
            "days": [
                {
                    "day": day.isoformat(),
                    "decisions": stats.decisions,
                    "methods": dict(stats.methods),
                    "granted": dict(stats.granted),
                }
                for day, stats in sorted(self.days.items())
            ],
        }


async def summarize(receipts: AsyncIterable[Receipt]) -> LogStats:
    """Count `receipts` (streamed: memory grows with days and ids, not with receipts)."""
    stats = LogStats()
    async for receipt in receipts:
        stats.add(receipt)
    return stats
