"""The SQLite file of a consent log: its tables and settings, the writer's one connection,
the check that the path still names the file that connection opened, inserts and purges.

Only the writer thread (`consent.receipts.sqlite_thread`) uses a SQLiteFile.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any, Literal, NamedTuple

from consent.receipts.rows import COLUMNS
from consent.receipts.snapshot import Snapshot
from consent.receipts.times import format_time

__all__ = ["DAY", "ROWS", "FileId", "SQLiteFile", "Write", "checkpoint", "close_quietly", "file_id"]

logger = logging.getLogger("consent")

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
DAY = 86400.0
# Receipts per INSERT: 13 columns each stay under the 999 variables older SQLite allows.
ROWS = 64


class Write(NamedTuple):
    """A receipt to insert (already a row) and the snapshot it names."""

    row: tuple[Any, ...]
    snapshot: Snapshot


class FileId(NamedTuple):
    """Which file a path names: equal ids, the same file."""

    device: int
    inode: int


class SQLiteFile:
    """The database file at `path`, as the writer thread sees it.

    Args:
        path: the database file (created with its tables on first use).
        timeout: seconds SQLite waits for a lock.
        synchronous: SQLite's `synchronous` setting, `"normal"` or `"full"`.
    """

    def __init__(self, path: Path, timeout: float, synchronous: Literal["normal", "full"]) -> None:
        self.path = path
        self.timeout = timeout
        self.synchronous = synchronous
        # When the daily purge is due next (time.monotonic()); any purge moves it on.
        self.next_purge = 0.0
        self._conn: sqlite3.Connection | None = None
        # (st_dev, st_ino) of the file `_conn` opened: the path may later name another file.
        self._file: FileId | None = None
        # Digests of snapshots known to be stored.
        self._stored: set[str] = set()

    def connection(self) -> sqlite3.Connection:
        """The connection to the file at the path, opened again when the file it had open
        was deleted or replaced (one `stat` per batch of work)."""
        if self._conn is not None and not self._same_file():
            self.forget()
        if self._conn is None:
            self._conn = self._connect()
            self._file = file_id(self.path)
        return self._conn

    def forget(self) -> None:
        """After a failure: a new connection (a failed statement can leave this one
        unusable), and no trust in what is known to be stored."""
        close_quietly(self._conn)
        self._conn = None
        self._file = None
        self._stored.clear()  # a new file has none of them

    def abandon(self) -> None:
        """Drop the connection without closing it: after a fork it is the parent's, and a
        connection must not cross a fork."""
        self._conn = None

    def close(self) -> None:
        """Close the connection (the writer is stopping)."""
        close_quietly(self._conn)
        self._conn = None

    def insert(self, writes: list[Write]) -> None:
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
            self.forget()
        raise OSError(f"the database file at {str(self.path)!r} keeps changing")

    def purge(self, age: timedelta) -> int:
        """Delete receipts older than `age`, and the snapshots no receipt names any more
        once they are that old too; returns how many receipts went."""
        conn = self.connection()
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
        self.next_purge = time.monotonic() + DAY
        self._stored.clear()  # unreferenced snapshots may be gone
        if deleted:
            logger.info("consent log: purged %d receipts older than %s", deleted, cutoff)
        return int(deleted)

    def _insert_once(self, writes: list[Write]) -> None:
        conn = self.connection()
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

    def _same_file(self) -> bool:
        """Whether the path still names the file the connection opened."""
        return self._file is not None and file_id(self.path) == self._file

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.timeout,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=ROWS + 64,  # one INSERT per number of rows, and the rest
        )
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # see checkpoint()
            conn.executescript(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        return conn


def checkpoint(path: Path, timeout: float, *, final: bool) -> None:
    """Copy the WAL into the database file (and empty it when `final`).

    Each checkpoint has a connection of its own: one kept open would outlive a file
    deleted or replaced meanwhile, and closing it then would make SQLite remove the
    `-wal` and `-shm` at the path by name, the new file's."""
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(path, timeout=timeout)
        mode = "TRUNCATE" if final else "PASSIVE"
        conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
    except sqlite3.Error as exc:
        logger.warning("consent log %r: checkpoint failed: %s", str(path), exc)
    finally:
        close_quietly(conn)


def file_id(path: Path) -> FileId | None:
    """The id of the file at `path`, None when there is none (or it cannot be read)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return FileId(found.st_dev, found.st_ino)


def close_quietly(conn: sqlite3.Connection | None) -> None:
    """Close `conn` if there is one; an error closing it is of no interest any more."""
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass


@functools.cache
def _insert_sql(rows: int) -> str:
    """One INSERT of `rows` receipts."""
    values = f"({', '.join('?' * len(COLUMNS))})"
    return (
        f"INSERT INTO consent_receipts ({', '.join(COLUMNS)}) VALUES {', '.join([values] * rows)}"
    )
