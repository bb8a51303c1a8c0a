"""SQLiteConsentLog: receipts in one SQLite file, written by one thread with group commit."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeAlias

import anyio

from consent.receipts._model import (
    DEFAULT_RETENTION,
    LogUnavailable,
    Receipt,
    Snapshot,
    format_time,
)
from consent.receipts._sql import COLUMNS, PAGE, ReceiptRows, check_retention, check_timeout

__all__ = ["SQLiteConsentLog"]

logger = logging.getLogger("consent")
Waiter: TypeAlias = "asyncio.Future[Any] | concurrent.futures.Future[Any]"
# What the writer thread does: insert a receipt, or run a job (a read, a purge).
Work: TypeAlias = "_Write | Callable[[sqlite3.Connection], Any]"

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
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM consent_receipts"
_DAY = 86400.0
# The writer does not checkpoint (copy the WAL into the database file) itself: a second
# thread does, after this many receipts, while the writer goes on committing.
_CHECKPOINT_EVERY = 1000
# Receipts per INSERT: 13 columns each stay under the 999 variables older SQLite allows.
_ROWS = 64


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
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._next_purge = 0.0
        # Digests of snapshots known to be stored; only the writer thread touches it.
        self._stored: set[str] = set()
        self._pending: dict[asyncio.AbstractEventLoop, _Batch] = {}
        self._conn: sqlite3.Connection | None = None  # the writer thread's
        # (st_dev, st_ino) of the file `_conn` opened: the path may later name another file.
        self._file: _FileId | None = None
        self._choices = ReceiptRows()

    def __repr__(self) -> str:
        return f"<SQLiteConsentLog {str(self.path)!r}>"

    # -- the public API ------------------------------------------------------------------

    async def write(self, receipt: Receipt, snapshot: Snapshot) -> None:
        await self._run(_Write(self._row(receipt), snapshot))

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

    def _row(self, receipt: Receipt) -> tuple[Any, ...]:
        """The receipt as a row of `consent_receipts`, in COLUMNS order."""
        return self._choices.row(receipt, format_time(receipt.recorded_at), int(receipt.gpc))

    # -- the writer thread ---------------------------------------------------------------

    async def _run(self, work: Work) -> Any:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another event loop (trio): wait in a worker thread
            return await self._run_elsewhere(work)
        # Work of one turn of the event loop goes to the writer together: one thread
        # wake-up, one commit, one timer and one wake-up of the loop for all of it.
        batch = self._pending.get(loop)
        if batch is None:
            batch = self._pending[loop] = _Batch(loop)
            loop.call_soon(self._flush, loop)
        waiter = loop.create_future()
        batch.works.append(work)
        batch.waiters.append(waiter)
        try:
            return await waiter
        except (sqlite3.Error, OSError) as exc:
            raise LogUnavailable(f"consent log {str(self.path)!r}: {exc}") from exc

    async def _run_elsewhere(self, work: Work) -> Any:
        batch = _Batch(None)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        batch.works.append(work)
        batch.waiters.append(future)
        self._submit(batch)
        try:
            with anyio.fail_after(self.timeout):
                return await anyio.to_thread.run_sync(future.result, abandon_on_cancel=True)
        except TimeoutError:
            raise self._too_slow() from None
        except (sqlite3.Error, OSError) as exc:
            raise LogUnavailable(f"consent log {str(self.path)!r}: {exc}") from exc
        finally:
            future.cancel()  # a no-op once done; else the work is dropped

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending.pop(loop)
        batch.timer = loop.call_later(self.timeout, self._expire, batch)
        self._submit(batch)

    def _expire(self, batch: _Batch) -> None:
        """The batch's time is up: whoever still waits gets LogUnavailable (work that has
        not started is then dropped by the writer)."""
        for waiter in batch.waiters:
            if not waiter.done():
                waiter.set_exception(self._too_slow())

    def _too_slow(self) -> LogUnavailable:
        return LogUnavailable(
            f"consent log {str(self.path)!r} did not answer within {self.timeout:g} s"
        )

    def _submit(self, batch: _Batch) -> None:
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                # First use, or a forked worker process: threads do not survive a fork.
                self._jobs = queue.SimpleQueue()
                self._pid = os.getpid()
                self._conn = None  # a connection must not cross a fork either
                self._thread = threading.Thread(
                    target=self._work, args=(self._jobs,), name="consent-log", daemon=True
                )
                self._thread.start()
            self._jobs.put(batch)

    def _work(self, jobs: queue.SimpleQueue[_Batch | None]) -> None:
        due = threading.Event()
        stop = threading.Event()
        checkpointer = threading.Thread(
            target=self._checkpoints, args=(due, stop), name="consent-log-checkpoint", daemon=True
        )
        checkpointer.start()
        written = 0
        running = True
        while running:
            first = jobs.get()
            if first is None:
                break
            # Batches queued while the writer was busy are committed together.
            batches = [first]
            while len(batches) < 64:
                try:
                    more = jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    running = False
                    break
                batches.append(more)
            # Work whose caller gave up (timeout, disconnect) before it started is dropped.
            entries = [
                (work, waiter)
                for batch in batches
                for work, waiter in zip(batch.works, batch.waiters, strict=True)
                if not waiter.done()
            ]
            outcomes = self._do(entries) if entries else {}
            _settle(batches, outcomes)
            written += len(entries)
            if written >= _CHECKPOINT_EVERY:
                written = 0
                due.set()
        self._conn = _close(self._conn)
        stop.set()
        due.set()
        checkpointer.join()

    def _do(self, entries: list[tuple[Work, Waiter]]) -> dict[Waiter, tuple[bool, Any]]:
        """Do the work in order: receipts that follow each other in one INSERT, a job (a
        read, a purge) on its own."""
        outcomes: dict[Waiter, tuple[bool, Any]] = {}
        rows: list[tuple[_Write, Waiter]] = []
        wrote = False
        for work, waiter in entries:
            if isinstance(work, _Write):
                wrote = True
                rows.append((work, waiter))
                if len(rows) == _ROWS:
                    self._store(rows, outcomes)
                    rows = []
            else:
                if rows:
                    self._store(rows, outcomes)
                    rows = []
                outcomes[waiter] = self._attempt(work)
        if rows:
            self._store(rows, outcomes)
        if wrote and time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + _DAY
            try:
                self._purge(self._connection(), self.retention)
            except Exception as exc:  # the receipts are stored; the purge runs again later
                self._forget()
                logger.warning("consent log %r: purge failed: %s", str(self.path), exc)
        return outcomes

    def _store(
        self, rows: list[tuple[_Write, Waiter]], outcomes: dict[Waiter, tuple[bool, Any]]
    ) -> None:
        """Insert receipts in one statement: a transaction of its own, committed within one
        call into SQLite, so the writer lets go of the GIL once, for the whole commit."""
        try:
            self._insert([work for work, _ in rows])
        except Exception as exc:
            self._forget()
            if len(rows) == 1:
                outcomes[rows[0][1]] = (False, exc)
                return
            # One bad receipt must not fail the others: each on its own.
            for work, waiter in rows:
                if not waiter.done():
                    outcomes[waiter] = self._attempt(work)
            return
        for _, waiter in rows:
            outcomes[waiter] = (True, None)

    def _attempt(self, work: Work) -> tuple[bool, Any]:
        try:
            if isinstance(work, _Write):
                self._insert([work])
                return True, None
            return True, work(self._connection())
        except Exception as exc:
            self._forget()
            return False, exc

    def _forget(self) -> None:
        """After a failure: a new connection (a failed statement can leave this one
        unusable), and no trust in what is known to be stored."""
        self._conn = _close(self._conn)
        self._file = None
        self._stored.clear()  # a new file has none of them

    def _insert(self, writes: list[_Write]) -> None:
        """Insert and commit `writes`, and make sure they landed in the file at the path.

        A file deleted or replaced after it was opened (log rotation, a clean-up script,
        a restore from backup) still takes writes through the open connection, and they go
        nowhere anybody will look. So once committed, the path is checked (one `stat`):
        if it names another file, or none, the receipts are written again into the file
        now at the path (created with its tables when missing). A second miss, or a path
        that cannot be opened (its directory removed), is a failure like any other.
        """
        for _ in range(2):
            self._insert_once(writes)
            if self._same_file():
                return
            logger.warning(
                "consent log %r: the database file was deleted or replaced while open;"
                " writing to the file now at the path",
                str(self.path),
            )
            self._forget()
        raise OSError(f"the database file at {str(self.path)!r} keeps changing")

    def _insert_once(self, writes: list[_Write]) -> None:
        conn = self._connection()
        for snapshot in {w.snapshot.digest: w.snapshot for w in writes}.values():
            if snapshot.digest not in self._stored:
                conn.execute(
                    "INSERT OR IGNORE INTO consent_snapshots VALUES (?, ?, ?, ?, ?)",
                    (
                        snapshot.digest,
                        format_time(datetime.now(UTC)),
                        snapshot.revision,
                        snapshot.fingerprint,
                        snapshot.to_json(),
                    ),
                )
                self._stored.add(snapshot.digest)
        conn.execute(_insert_sql(len(writes)), list(chain.from_iterable(w.row for w in writes)))

    def _connection(self) -> sqlite3.Connection:
        """The writer's connection to the file at the path, opened again when the file it
        had open was deleted or replaced (one `stat` per batch of work)."""
        if self._conn is not None and not self._same_file():
            self._forget()
        if self._conn is None:
            self._conn = self._connect()
            self._file = _file_id(self.path)
        return self._conn

    def _same_file(self) -> bool:
        """Whether the path still names the file the connection opened."""
        return self._file is not None and _file_id(self.path) == self._file

    def _checkpoints(self, due: threading.Event, stop: threading.Event) -> None:
        """Copy the WAL into the database file when asked; the writer is not held up, as
        SQLite lets one connection checkpoint while another commits.

        Each checkpoint has a connection of its own: one kept open would outlive a file
        deleted or replaced meanwhile, and closing it then would make SQLite remove the
        `-wal` and `-shm` at the path by name, the new file's."""
        while True:
            due.wait()
            due.clear()
            final = stop.is_set()
            conn: sqlite3.Connection | None = None
            try:
                conn = sqlite3.connect(self.path, timeout=self.timeout)
                mode = "TRUNCATE" if final else "PASSIVE"
                conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
            except sqlite3.Error as exc:
                logger.warning("consent log %r: checkpoint failed: %s", str(self.path), exc)
            finally:
                _close(conn)
            if final:
                break

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.timeout,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=_ROWS + 64,  # one INSERT per number of rows, and the rest
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
        conn.execute("BEGIN IMMEDIATE")
        try:
            deleted = conn.execute(
                "DELETE FROM consent_receipts WHERE recorded_at < ?", (cutoff,)
            ).rowcount
            conn.execute(
                "DELETE FROM consent_snapshots WHERE created_at < ? AND digest NOT IN "
                "(SELECT DISTINCT snapshot FROM consent_receipts)",
                (cutoff,),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._next_purge = time.monotonic() + _DAY
        self._stored.clear()  # unreferenced snapshots may be gone
        if deleted:
            logger.info("consent log: purged %d receipts older than %s", deleted, cutoff)
        return int(deleted)


class _FileId(NamedTuple):
    """Which file a path names: equal ids, the same file."""

    device: int
    inode: int


def _file_id(path: Path) -> _FileId | None:
    """The id of the file at `path`, None when there is none (or it cannot be read)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return _FileId(found.st_dev, found.st_ino)


class _Write(NamedTuple):
    """A receipt to insert (already a row) and the snapshot it names."""

    row: tuple[Any, ...]
    snapshot: Snapshot


class _Batch:
    """Work handed to the writer at once, and the waiters its results go to."""

    __slots__ = ("loop", "timer", "waiters", "works")

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.loop = loop
        self.works: list[Work] = []
        self.waiters: list[Waiter] = []
        self.timer: asyncio.TimerHandle | None = None


@functools.cache
def _insert_sql(rows: int) -> str:
    """One INSERT of `rows` receipts."""
    values = f"({', '.join('?' * len(COLUMNS))})"
    return (
        f"INSERT INTO consent_receipts ({', '.join(COLUMNS)}) VALUES {', '.join([values] * rows)}"
    )


def _settle(batches: list[_Batch], outcomes: dict[Waiter, tuple[bool, Any]]) -> None:
    """Hand results back: one wake-up per event loop for all its batches, not one per job."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Batch]] = {}
    for batch in batches:
        if batch.loop is None:
            _resolve([batch], outcomes)
        else:
            by_loop.setdefault(batch.loop, []).append(batch)
    for loop, mine in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, mine, outcomes)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass


def _resolve(batches: list[_Batch], outcomes: dict[Waiter, tuple[bool, Any]]) -> None:
    for batch in batches:
        if batch.timer is not None:
            batch.timer.cancel()
        for waiter in batch.waiters:
            if waiter.done() or waiter not in outcomes:  # the caller gave up meanwhile
                continue
            ok, value = outcomes[waiter]
            try:
                if ok:
                    waiter.set_result(value)
                else:
                    waiter.set_exception(value)
            except (asyncio.InvalidStateError, concurrent.futures.InvalidStateError):
                pass  # cancelled between the check and here, from another thread


def _close(conn: sqlite3.Connection | None) -> sqlite3.Connection | None:
    """Close `conn`; returns None, for `conn = _close(conn)`."""
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass
    return None


def _receipt(row: tuple[Any, ...]) -> Receipt:
    return Receipt.from_json(dict(zip(COLUMNS, row, strict=True)))
