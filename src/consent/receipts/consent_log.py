"""The ConsentLog protocol every store follows, its error, and the rules for its options
(retention, timeout); `open_log` picks a store for a URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from consent.receipts.receipt import Receipt
from consent.receipts.snapshot import Snapshot

__all__ = [
    "DEFAULT_RETENTION",
    "ConsentLog",
    "LogUnavailable",
    "check_retention",
    "check_timeout",
    "open_log",
]

# A receipt must outlive the consent it proves (at most `max_age_days`, 180 by default)
# and stay available while a claim about it can be brought. Five years covers the common
# limitation periods; set your own from your legal advice. There is no "forever".
DEFAULT_RETENTION = timedelta(days=5 * 365)


class LogUnavailable(Exception):
    """The consent log could not store or read a receipt (down, locked, full, too slow)."""


def check_retention(retention: timedelta) -> timedelta:
    """A positive, finite retention; ValueError naming the fix otherwise."""
    if not isinstance(retention, timedelta) or retention <= timedelta(0):
        raise ValueError(
            f"retention must be a positive timedelta, not {retention!r}. Fix: "
            "retention=timedelta(days=1825); receipts are never kept forever"
        )
    return retention


def check_timeout(timeout: float) -> float:
    """A positive number of seconds; ValueError otherwise."""
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)


@runtime_checkable
class ConsentLog(Protocol):
    """Where receipts are kept. Every method is a coroutine and none blocks the event loop.

    `write` must not return before the receipt is stored: the middleware answers the
    visitor only after it returns, and refuses a new grant when it raises.

    A store may also declare the class attribute `bounds_itself = True`: its `write`
    gives up on its own (raising LogUnavailable) within a bounded time, so the
    middleware's `log_timeout` is not applied to it. The claim belongs to the class that
    defines `write`: a subclass that overrides `write` must declare it again, or it is
    cut off after `log_timeout` (see `bounds_itself`). It is optional, and not checked by
    `isinstance`: a store without it gets `log_timeout`.
    """

    retention: timedelta

    async def write(self, receipt: Receipt, snapshot: Snapshot) -> None:
        """Store `receipt`, and `snapshot` unless one with its digest is stored already.

        Raises:
            LogUnavailable: the receipt could not be stored.
        """
        ...

    async def get(self, receipt_id: str) -> Receipt | None:
        """The receipt with this id, or None."""
        ...

    async def snapshot(self, digest: str) -> Snapshot | None:
        """The stored snapshot with this digest, or None."""
        ...

    def receipts(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> AsyncIterator[Receipt]:
        """Receipts in time order, from `since` (inclusive) to `until` (exclusive)."""
        ...

    async def purge(self, older_than: timedelta | None = None) -> int:
        """Delete receipts older than `older_than` (default: the retention); returns how many."""
        ...

    async def aclose(self) -> None:
        """Release connections and threads."""
        ...


def open_log(url: str, *, retention: timedelta = DEFAULT_RETENTION) -> ConsentLog:
    """A log for `url`: a `postgresql://` (or `postgres://`) URL, or a SQLite file path."""
    # The stores are imported here: each imports this module for LogUnavailable.
    from consent.receipts.postgres import PostgresConsentLog
    from consent.receipts.sqlite import SQLiteConsentLog

    if url.startswith(("postgresql://", "postgres://")):
        return PostgresConsentLog(url, retention=retention)
    return SQLiteConsentLog(url.removeprefix("sqlite:///"), retention=retention)
