"""SQLiteConsentLog: receipts in one SQLite file, written by one thread with group commit."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio

from consent.receipts._model import (
    DEFAULT_RETENTION,
    LogUnavailable,
    Receipt,
    Snapshot,
    format_time,
)
from consent.receipts._sql import COLUMNS, PAGE, check_retention, check_timeout

__all__ = ["SQLiteConsentLog"]

logger = logging.getLogger("consent")
T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
Waiter = asyncio.Future[Any] | concurrent.futures.Future[Any]
Item = tuple[Job, Waiter, asyncio.AbstractEventLoop | None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent_snapshots (
    digest TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    revision INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS consent_receipts (
    id TEXT PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    revision INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    method TEXT NOT NULL,
    categories TEXT NOT NULL,
    services TEXT NOT NULL,
    previous_id TEXT,
    browser TEXT NOT NULL,
    language TEXT,
    gpc INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS consent_receipts_time ON consent_receipts (recorded_at, id);
"""
_INSERT = (
    f"INSERT INTO consent_receipts ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM consent_receipts"
_DAY = 86400.0
# The writer does not checkpoint (copy the WAL into the database file) itself: a second
# thread does, after this many receipts, while the writer goes on committing.
_CHECKPOINT_EVERY = 1000


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
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[list[Item] | None]
        self._jobs = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._next_purge = 0.0
        # Digests of snapshots known to be stored; only the writer thread touches it.
        self._stored: set[str] = set()
        self._pending: dict[asyncio.AbstractEventLoop, list[Item]] = {}

    def __repr__(self) -> str:
        return f"<SQLiteConsentLog {str(self.path)!r}>"

    # -- the public API ------------------------------------------------------------------

    async def write(self, receipt: Receipt, snapshot: Snapshot) -> None:
        row = _row(receipt)
        created = format_time(datetime.now(UTC))
        document = snapshot.to_json()

        def job(conn: sqlite3.Connection) -> None:
            if snapshot.digest not in self._stored:
                conn.execute(
                    "INSERT OR IGNORE INTO consent_snapshots VALUES (?, ?, ?, ?, ?)",
                    (snapshot.digest, created, snapshot.revision, snapshot.fingerprint, document),
                )
            conn.execute(_INSERT, row)
            if time.monotonic() >= self._next_purge:
                self._purge(conn, self.retention)
            self._stored.add(snapshot.digest)  # forgotten again if the transaction fails

        await self._run(job)

    async def get(self, receipt_id: str) -> Receipt | None:
        def job(conn: sqlite3.Connection) -> Receipt | None:
            found = conn.execute(f"{_SELECT} WHERE id = ?", (receipt_id,)).fetchone()
            return None if found is None else _receipt(found)

        result: Receipt | None = await self._run(job)
        return result

    async def snapshot(self, digest: str) -> Snapshot | None:
        def job(conn: sqlite3.Connection) -> Snapshot | None:
            found = conn.execute(
                "SELECT document FROM consent_snapshots WHERE digest = ?", (digest,)
            ).fetchone()
            return None if found is None else Snapshot.from_document(json.loads(found[0]))

        result: Snapshot | None = await self._run(job)
        return result

    async def receipts(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> AsyncIterator[Receipt]:
        low = format_time(since) if since else ""
        high = format_time(until) if until else "9999"
        after = ("", "")
        while True:

            def job(conn: sqlite3.Connection, after: tuple[str, str] = after) -> list[Receipt]:
                rows = conn.execute(
                    f"{_SELECT} WHERE recorded_at >= ? AND recorded_at < ? "
                    "AND (recorded_at, id) > (?, ?) ORDER BY recorded_at, id LIMIT ?",
                    (low, high, *after, PAGE),
                ).fetchall()
                return [_receipt(row) for row in rows]

            page: list[Receipt] = await self._run(job)
            for receipt in page:
                yield receipt
            if len(page) < PAGE:
                return
            last = page[-1]
            after = (format_time(last.recorded_at), last.id)

    async def purge(self, older_than: timedelta | None = None) -> int:
        age = check_retention(self.retention if older_than is None else older_than)
        result: int = await self._run(lambda conn: self._purge(conn, age))
        return result

    async def aclose(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None or self._pid != os.getpid():
                return
            self._jobs.put(None)
        await anyio.to_thread.run_sync(thread.join)  # it stops the checkpointer too

    # -- the writer thread ---------------------------------------------------------------

    async def _run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # another event loop (trio): wait in a worker thread
            loop = None
        try:
            if loop is None:
                future: concurrent.futures.Future[T] = concurrent.futures.Future()
                self._submit([(job, future, None)])
                try:
                    with anyio.fail_after(self.timeout):
                        wait = future.result
                        return await anyio.to_thread.run_sync(wait, abandon_on_cancel=True)
                finally:
                    future.cancel()  # a no-op once done; else the job is dropped
            waiter: asyncio.Future[T] = loop.create_future()
            # Jobs of one turn of the event loop go to the writer together: fewer thread
            # wake-ups, and fewer fights over the GIL.
            pending = self._pending.get(loop)
            if pending is None:
                pending = self._pending[loop] = []
                loop.call_soon(self._flush, loop)
            pending.append((job, waiter, loop))
            async with asyncio.timeout(self.timeout):
                return await waiter
        except TimeoutError:
            raise LogUnavailable(
                f"consent log {str(self.path)!r} did not answer within {self.timeout:g} s"
            ) from None
        except (sqlite3.Error, OSError) as exc:
            raise LogUnavailable(f"consent log {str(self.path)!r}: {exc}") from exc

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._submit(self._pending.pop(loop))

    def _submit(self, items: list[Item]) -> None:
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                # First use, or a forked worker process: threads do not survive a fork.
                self._jobs = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._work, args=(self._jobs,), name="consent-log", daemon=True
                )
                self._thread.start()
            self._jobs.put(items)

    def _work(self, jobs: queue.SimpleQueue[list[Item] | None]) -> None:
        conn: sqlite3.Connection | None = None
        due = threading.Event()
        stop = threading.Event()
        checkpointer = threading.Thread(
            target=self._checkpoints, args=(due, stop), name="consent-log-checkpoint", daemon=True
        )
        checkpointer.start()
        written = 0
        running = True
        while running:
            item = jobs.get()
            if item is None:
                break
            batch = list(item)
            while len(batch) < 512:
                try:
                    item = jobs.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    running = False
                    break
                batch.extend(item)
            # Jobs whose caller gave up (timeout, disconnect) before they started are dropped.
            batch = [entry for entry in batch if not entry[1].cancelled()]
            if not batch:
                continue
            outcomes: list[tuple[Item, bool, Any]] = []
            try:
                conn = conn or self._connect()
                results = _in_transaction(conn, [job for job, _, _ in batch])
                outcomes = [(entry, True, r) for entry, r in zip(batch, results, strict=True)]
            except Exception:
                # One bad job must not fail the others: retry each in its own transaction,
                # on a fresh connection (a failed COMMIT can leave this one unusable).
                conn = _close(conn)
                for entry in batch:
                    self._stored.clear()
                    try:
                        conn = conn or self._connect()
                        outcomes.append((entry, True, _in_transaction(conn, [entry[0]])[0]))
                    except Exception as exc:
                        outcomes.append((entry, False, exc))
                        conn = _close(conn)
                self._stored.clear()
            _settle(outcomes)
            written += len(batch)
            if written >= _CHECKPOINT_EVERY:
                written = 0
                due.set()
        _close(conn)
        stop.set()
        due.set()
        checkpointer.join()

    def _checkpoints(self, due: threading.Event, stop: threading.Event) -> None:
        """Copy the WAL into the database file when asked; the writer is not held up, as
        SQLite lets one connection checkpoint while another commits."""
        conn: sqlite3.Connection | None = None
        while True:
            due.wait()
            due.clear()
            final = stop.is_set()
            try:
                conn = conn or sqlite3.connect(self.path, timeout=self.timeout)
                mode = "TRUNCATE" if final else "PASSIVE"
                conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
            except sqlite3.Error as exc:
                logger.warning("consent log %r: checkpoint failed: %s", str(self.path), exc)
                conn = _close(conn)
            if final:
                break
        _close(conn)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # see _checkpoints
            conn.executescript(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        return conn

    def _purge(self, conn: sqlite3.Connection, age: timedelta) -> int:
        cutoff = format_time(datetime.now(UTC) - age)
        deleted = conn.execute(
            "DELETE FROM consent_receipts WHERE recorded_at < ?", (cutoff,)
        ).rowcount
        conn.execute(
            "DELETE FROM consent_snapshots WHERE created_at < ? AND digest NOT IN "
            "(SELECT DISTINCT snapshot FROM consent_receipts)",
            (cutoff,),
        )
        self._next_purge = time.monotonic() + _DAY
        self._stored.clear()  # unreferenced snapshots may be gone
        if deleted:
            logger.info("consent log: purged %d receipts older than %s", deleted, cutoff)
        return int(deleted)


def _settle(outcomes: list[tuple[Item, bool, Any]]) -> None:
    """Hand results back: one wake-up per event loop for the whole batch, not one per job."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Waiter, bool, Any]]] = {}
    for (_, waiter, loop), ok, value in outcomes:
        if loop is None:
            _resolve([(waiter, ok, value)])
        else:
            by_loop.setdefault(loop, []).append((waiter, ok, value))
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, items)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass


def _resolve(items: list[tuple[Waiter, bool, Any]]) -> None:
    for waiter, ok, value in items:
        if waiter.done():  # the caller gave up meanwhile
            continue
        try:
            if ok:
                waiter.set_result(value)
            else:
                waiter.set_exception(value)
        except (asyncio.InvalidStateError, concurrent.futures.InvalidStateError):
            pass  # cancelled between the check and here, from another thread


def _in_transaction(conn: sqlite3.Connection, jobs: list[Job]) -> list[Any]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        results = [job(conn) for job in jobs]
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return results


def _close(conn: sqlite3.Connection | None) -> sqlite3.Connection | None:
    """Close `conn`; returns None, for `conn = _close(conn)`."""
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass
    return None


def _row(receipt: Receipt) -> tuple[Any, ...]:
    data = receipt.to_json()
    data["categories"] = json.dumps(data["categories"])
    data["services"] = json.dumps(data["services"])
    data["gpc"] = int(receipt.gpc)
    return tuple(data[column] for column in COLUMNS)


def _receipt(row: tuple[Any, ...]) -> Receipt:
    return Receipt.from_json(dict(zip(COLUMNS, row, strict=True)))
