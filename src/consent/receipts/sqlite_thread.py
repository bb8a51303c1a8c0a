"""The one thread that does all the work of a SQLite consent log, with group commit.

Work asked for in one turn of an event loop goes to the thread together (one wake-up,
one commit, one timer and one wake-up of the loop for all of it); batches queued while
the thread was busy are committed together. A second thread checkpoints the WAL beside
it, so the writer is never held up copying pages.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple, TypeAlias

import anyio

from consent.receipts.consent_log import LogUnavailable
from consent.receipts.sqlite_file import DAY, ROWS, SQLiteFile, Write, checkpoint

__all__ = ["CHECKPOINT_EVERY", "Job", "Work", "WriterThread"]

logger = logging.getLogger("consent")
Waiter: TypeAlias = "asyncio.Future[Any] | concurrent.futures.Future[Any]"
Job: TypeAlias = Callable[[SQLiteFile], Any]
"""A read or a purge, run on the writer thread with the database file."""
Work: TypeAlias = "Write | Job"
"""What the writer thread does: insert a receipt, or run a job."""

# The writer does not checkpoint (copy the WAL into the database file) itself: a second
# thread does, after this many receipts, while the writer goes on committing.
CHECKPOINT_EVERY = 1000
# Batches the writer takes from its queue at once.
_BATCHES = 64


class Outcome(NamedTuple):
    """The result of one piece of work, for its waiter: a value, or the failure to raise."""

    value: Any = None
    error: BaseException | None = None


# The outcome of every receipt stored: one record for all of them.
_STORED = Outcome()


class Entry(NamedTuple):
    """One piece of work and the waiter its outcome goes to."""

    work: Work
    waiter: Waiter


class _Batch:
    """Work handed to the writer at once, and the waiters its results go to."""

    __slots__ = ("entries", "loop", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.loop = loop
        self.entries: list[Entry] = []
        self.timer: asyncio.TimerHandle | None = None


class WriterThread:
    """Runs work on the database file, in the order it was asked, on one thread.

    Args:
        database: the file the work is done on.
        retention: the age the daily purge removes (after the first write of a day).
        timeout: seconds a caller waits before giving up; work not started by then is
            dropped.
    """

    def __init__(self, database: SQLiteFile, retention: timedelta, timeout: float) -> None:
        self.database = database
        self.retention = retention
        self.timeout = timeout
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._pending: dict[asyncio.AbstractEventLoop, _Batch] = {}

    async def run(self, work: Work) -> Any:
        """Do `work` on the thread; its result, once done.

        Raises:
            LogUnavailable: it failed, or was not done within `timeout`.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another event loop (trio): wait in a worker thread
            return await self._run_elsewhere(work)
        batch = self._pending.get(loop)
        if batch is None:
            batch = self._pending[loop] = _Batch(loop)
            loop.call_soon(self._flush, loop)
        waiter = loop.create_future()
        batch.entries.append(Entry(work, waiter))
        try:
            return await waiter
        except (sqlite3.Error, OSError) as exc:
            raise LogUnavailable(self._failed(exc)) from exc

    async def stop(self) -> None:
        """Let the thread finish what it was given, then end it (and the checkpointer)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None or self._pid != os.getpid():
                return
            self._jobs.put(None)
        await anyio.to_thread.run_sync(thread.join)

    # -- the event loop's side -----------------------------------------------------------

    async def _run_elsewhere(self, work: Work) -> Any:
        batch = _Batch(None)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        batch.entries.append(Entry(work, future))
        self._submit(batch)
        try:
            with anyio.fail_after(self.timeout):
                return await anyio.to_thread.run_sync(future.result, abandon_on_cancel=True)
        except TimeoutError:
            raise LogUnavailable(self._too_slow()) from None
        except (sqlite3.Error, OSError) as exc:
            raise LogUnavailable(self._failed(exc)) from exc
        finally:
            future.cancel()  # a no-op once done; else the work is dropped

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending.pop(loop)
        batch.timer = loop.call_later(self.timeout, self._expire, batch)
        self._submit(batch)

    def _expire(self, batch: _Batch) -> None:
        """The batch's time is up: whoever still waits gets LogUnavailable (work that has
        not started is then dropped by the writer)."""
        for entry in batch.entries:
            if not entry.waiter.done():
                entry.waiter.set_exception(LogUnavailable(self._too_slow()))

    def _too_slow(self) -> str:
        return f"consent log {str(self.database.path)!r} did not answer within {self.timeout:g} s"

    def _failed(self, exc: BaseException) -> str:
        return f"consent log {str(self.database.path)!r}: {exc}"

    def _submit(self, batch: _Batch) -> None:
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                # First use, or a forked worker process: threads do not survive a fork.
                self._jobs = queue.SimpleQueue()
                self._pid = os.getpid()
                self.database.abandon()
                self._thread = threading.Thread(
                    target=self._work, args=(self._jobs,), name="consent-log", daemon=True
                )
                self._thread.start()
            self._jobs.put(batch)

    # -- the writer thread's side --------------------------------------------------------

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
            while len(batches) < _BATCHES:
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
                entry for batch in batches for entry in batch.entries if not entry.waiter.done()
            ]
            outcomes = self._do(entries) if entries else {}
            _settle(batches, outcomes)
            written += len(entries)
            if written >= CHECKPOINT_EVERY:
                written = 0
                due.set()
        self.database.close()
        stop.set()
        due.set()
        checkpointer.join()

    def _do(self, entries: list[Entry]) -> dict[Waiter, Outcome]:
        """Do the work in order: receipts that follow each other in one INSERT, a job (a
        read, a purge) on its own."""
        outcomes: dict[Waiter, Outcome] = {}
        rows: list[Entry] = []
        wrote = False
        for entry in entries:
            if isinstance(entry.work, Write):
                wrote = True
                rows.append(entry)
                if len(rows) == ROWS:
                    self._store(rows, outcomes)
                    rows = []
            else:
                if rows:
                    self._store(rows, outcomes)
                    rows = []
                outcomes[entry.waiter] = self._attempt(entry.work)
        if rows:
            self._store(rows, outcomes)
        database = self.database
        if wrote and time.monotonic() >= database.next_purge:
            database.next_purge = time.monotonic() + DAY
            try:
                database.purge(self.retention)
            except Exception as exc:  # the receipts are stored; the purge runs again later
                database.forget()
                logger.warning("consent log %r: purge failed: %s", str(database.path), exc)
        return outcomes

    def _store(self, rows: list[Entry], outcomes: dict[Waiter, Outcome]) -> None:
        """Insert receipts in one statement: a transaction of its own, committed within one
        call into SQLite, so the writer lets go of the GIL once, for the whole commit."""
        writes = [entry.work for entry in rows if isinstance(entry.work, Write)]
        try:
            self.database.insert(writes)
        except Exception as exc:
            self.database.forget()
            if len(rows) == 1:
                outcomes[rows[0].waiter] = Outcome(error=exc)
                return
            # One bad receipt must not fail the others: each on its own.
            for entry in rows:
                if not entry.waiter.done():
                    outcomes[entry.waiter] = self._attempt(entry.work)
            return
        for entry in rows:
            outcomes[entry.waiter] = _STORED

    def _attempt(self, work: Work) -> Outcome:
        try:
            if isinstance(work, Write):
                self.database.insert([work])
                return _STORED
            return Outcome(work(self.database))
        except Exception as exc:
            self.database.forget()
            return Outcome(error=exc)

    def _checkpoints(self, due: threading.Event, stop: threading.Event) -> None:
        """Copy the WAL into the database file when asked; the writer is not held up, as
        SQLite lets one connection checkpoint while another commits."""
        while True:
            due.wait()
            due.clear()
            final = stop.is_set()
            checkpoint(self.database.path, self.timeout, final=final)
            if final:
                break


def _settle(batches: list[_Batch], outcomes: dict[Waiter, Outcome]) -> None:
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


def _resolve(batches: list[_Batch], outcomes: dict[Waiter, Outcome]) -> None:
    for batch in batches:
        if batch.timer is not None:
            batch.timer.cancel()
        for _, waiter in batch.entries:
            outcome = outcomes.get(waiter)
            if waiter.done() or outcome is None:  # the caller gave up meanwhile
                continue
            try:
                if outcome.error is None:
                    waiter.set_result(outcome.value)
                else:
                    waiter.set_exception(outcome.error)
            except (asyncio.InvalidStateError, concurrent.futures.InvalidStateError):
                pass  # cancelled between the check and here, from another thread
