"""Proof of consent: one receipt per decision, kept in a ConsentLog.

A receipt says what a visitor decided, when, how, and under which version of the
information they were shown. It never holds an IP address or a full user-agent: the
receipt id in the visitor's cookie is the link between the two (GDPR Art. 7(1),
EDPB Guidelines 05/2020 paras 104-108).

Two stores ship: `SQLiteConsentLog` (embedded, one file) and `PostgresConsentLog`
(psycopg 3, for sites with several app servers; the `postgres` extra). `open_log(url)`
picks one from a path or a `postgresql://` URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from consent.receipts._model import (
    DEFAULT_RETENTION,
    METHODS,
    SOURCES,
    LogUnavailable,
    Method,
    Receipt,
    Snapshot,
    browser_family,
    parse_age,
)
from consent.receipts._stats import DayStats, LogStats, summarize
from consent.receipts._writer import ReceiptWriter, bounds_itself
from consent.receipts.postgres import PostgresConsentLog
from consent.receipts.sqlite import SQLiteConsentLog

__all__ = [
    "DEFAULT_RETENTION",
    "METHODS",
    "SOURCES",
    "ConsentLog",
    "DayStats",
    "LogStats",
    "LogUnavailable",
    "Method",
    "PostgresConsentLog",
    "Receipt",
    "ReceiptWriter",
    "SQLiteConsentLog",
    "Snapshot",
    "bounds_itself",
    "browser_family",
    "open_log",
    "parse_age",
    "summarize",
]


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
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresConsentLog(url, retention=retention)
    return SQLiteConsentLog(url.removeprefix("sqlite:///"), retention=retention)
