"""SQLiteConsentLog: receipts in one SQLite file, written by one thread with group commit.

The store's API and its queries are here; the thread that does the work is in
`consent.receipts.sqlite_thread`, the file and its connection in `consent.receipts.sqlite_file`.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from consent.receipts.consent_log import DEFAULT_RETENTION, check_retention, check_timeout
from consent.receipts.receipt import Receipt
from consent.receipts.rows import COLUMNS, PAGE, ReceiptRows
from consent.receipts.snapshot import Snapshot
from consent.receipts.sqlite_file import SQLiteFile, Write
from consent.receipts.sqlite_thread import WriterThread
from consent.receipts.times import format_time

__all__ = ["SQLiteConsentLog"]

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM consent_receipts"


class SQLiteConsentLog:
    """The embedded consent log: one SQLite file (WAL mode), fine for one app server.

    All database work happens on one background thread, so the event loop never waits on
    the disk; decisions arriving together are committed in one transaction (group commit).
    `write` returns once the receipt is committed.

    Args:
        path: the database file (created with its tables on first use).
        retention: receipts older than this are purged (once a day, and by `purge`).
        timeout: seconds to wait for the database (locked, slow disk) before giving up.
        synchronous: SQLite's `synchronous` setting. `"normal"` (the default) loses nothing
            when the app server crashes or is killed; `"full"` also survives a power cut,
            at the cost of one disk flush per commit.
    """

    # `write` answers within `timeout`, and drops work not started by then (see
    # consent.receipts.bounds_itself; a subclass overriding `write` must say it again).
    bounds_itself = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention: timedelta = DEFAULT_RETENTION,
        timeout: float = 5.0,
        synchronous: Literal["normal", "full"] = "normal",
    ) -> None:
        if synchronous not in ("normal", "full"):
            raise ValueError(f"synchronous must be 'normal' or 'full', not {synchronous!r}")
        self.path = Path(path)
        self.retention = check_retention(retention)
        self.timeout = check_timeout(timeout)
        self.synchronous = synchronous
        self._writer = WriterThread(
            SQLiteFile(self.path, self.timeout, synchronous), self.retention, self.timeout
        )
        self._choices = ReceiptRows()

    def __repr__(self) -> str:
        return f"<SQLiteConsentLog {str(self.path)!r}>"

    async def write(self, receipt: Receipt, snapshot: Snapshot) -> None:
        row = self._choices.row(receipt, format_time(receipt.recorded_at), int(receipt.gpc))
        await self._writer.run(Write(row, snapshot))

    async def get(self, receipt_id: str) -> Receipt | None:
        def job(database: SQLiteFile) -> Receipt | None:
            conn = database.connection()
            found = conn.execute(f"{_SELECT} WHERE id = ?", (receipt_id,)).fetchone()
            return None if found is None else _receipt(found)

        result: Receipt | None = await self._writer.run(job)
        return result

    async def snapshot(self, digest: str) -> Snapshot | None:
        def job(database: SQLiteFile) -> Snapshot | None:
            found = (
                database.connection()
                .execute("SELECT document FROM consent_snapshots WHERE digest = ?", (digest,))
                .fetchone()
            )
            return None if found is None else Snapshot.from_document(json.loads(found[0]))

        result: Snapshot | None = await self._writer.run(job)
        return result

    async def receipts(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> AsyncIterator[Receipt]:
        low = format_time(since) if since else ""
        high = format_time(until) if until else "9999"
        after = ("", "")
        while True:

            def job(database: SQLiteFile, after: tuple[str, str] = after) -> list[Receipt]:
                rows = (
                    database.connection()
                    .execute(
                        f"{_SELECT} WHERE recorded_at >= ? AND recorded_at < ? "
                        "AND (recorded_at, id) > (?, ?) ORDER BY recorded_at, id LIMIT ?",
                        (low, high, *after, PAGE),
                    )
                    .fetchall()
                )
                return [_receipt(row) for row in rows]

            page: list[Receipt] = await self._writer.run(job)
            for receipt in page:
                yield receipt
            if len(page) < PAGE:
                return
            last = page[-1]
            after = (format_time(last.recorded_at), last.id)

    async def purge(self, older_than: timedelta | None = None) -> int:
        age = check_retention(self.retention if older_than is None else older_than)
        result: int = await self._writer.run(lambda database: database.purge(age))
        return result

    async def aclose(self) -> None:
        await self._writer.stop()  # it stops the checkpointer too


def _receipt(row: tuple[Any, ...]) -> Receipt:
    return Receipt.from_json(dict(zip(COLUMNS, row, strict=True)))
