"""PostgresConsentLog: receipts in PostgreSQL, for sites that run several app servers."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

import anyio

from consent.receipts.consent_log import (
    DEFAULT_RETENTION,
    LogUnavailable,
    check_retention,
    check_timeout,
)
from consent.receipts.receipt import Receipt
from consent.receipts.rows import COLUMNS, PAGE, ReceiptRows
from consent.receipts.snapshot import Snapshot

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

__all__ = ["PostgresConsentLog"]

logger = logging.getLogger("consent")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent_snapshots (
    digest text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    revision integer NOT NULL,
    fingerprint text NOT NULL,
    document jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS consent_receipts (
    id text PRIMARY KEY,
    recorded_at timestamptz NOT NULL,
    revision integer NOT NULL,
    fingerprint text NOT NULL,
    snapshot text NOT NULL,
    method text NOT NULL,
    categories json NOT NULL,
    services json NOT NULL,
    previous_id text,
    browser text NOT NULL,
    language text,
    gpc boolean NOT NULL,
    source text NOT NULL
);
CREATE INDEX IF NOT EXISTS consent_receipts_time ON consent_receipts (recorded_at, id);
"""
# json, not jsonb: it keeps the policy's order of categories and services.
# Several app servers may create the tables at once; they queue on this lock.
_SCHEMA_LOCK = 0x636F6E73656E74  # "consent"
# The JSON of categories and services is sent as text: the same text json.dumps made
# before (json keeps it as it is), without adapting a dict per receipt.
_VALUES = (
    "(" + ", ".join("%s::json" if c in ("categories", "services") else "%s" for c in COLUMNS) + ")"
)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM consent_receipts"
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)
_ROWS = 1000  # receipts per INSERT at most (13 parameters each, of 65535)
_DAY = 86400.0


class PostgresConsentLog:
    """The consent log in PostgreSQL (psycopg 3 with an async connection pool).

    Needs the `postgres` extra: `pip install 'asgi-consent[postgres]'`. Tables are created
    on first use. Runs on asyncio (psycopg's async API does not support other loops).

    Args:
        dsn: a libpq connection string or `postgresql://` URL.
        retention: receipts older than this are purged (once a day, and by `purge`).
        timeout: seconds to wait for a connection and a statement before giving up.
        max_connections: the size of the pool (per process).
    """

    # Every round trip is cut off after `timeout`, and receipts whose caller gave up are
    # dropped (see consent.receipts.bounds_itself; a subclass overriding `write` must say
    # it again).
    bounds_itself = True

    def __init__(
        self,
        dsn: str,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        timeout: float = 5.0,
        max_connections: int = 10,
    ) -> None:
        self._dsn = dsn
        self.retention = check_retention(retention)
        self.timeout = check_timeout(timeout)
        self.max_connections = max_connections
        self._pool: AsyncConnectionPool[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Lock | None = None
        self._next_purge = 0.0
        # Receipts waiting for the writer task (one per event loop at a time).
        self._writes: list[_Write] = []
        self._writer: asyncio.Task[None] | None = None
        self._writes_loop: asyncio.AbstractEventLoop | None = None
        self._choices = ReceiptRows()
        # Digests of snapshots known to be stored (forgotten on purge).
        self._stored: set[str] = set()

    def __repr__(self) -> str:
        # The DSN may hold a password: show where, never how.
        parts = urlsplit(self._dsn) if "://" in self._dsn else None
        where = f"{parts.hostname or 'localhost'}{parts.path}" if parts else "(conninfo)"
        return f"<PostgresConsentLog {where}>"

    async def write(self, receipt: Receipt, snapshot: Snapshot) -> None:
        row = self._choices.row(receipt, receipt.recorded_at, receipt.gpc)
        loop = asyncio.get_running_loop()
        if self._writes_loop is not loop:  # a new event loop: what the old one had is gone
            self._writes, self._writer, self._writes_loop = [], None, loop
        waiter = loop.create_future()
        self._writes.append(_Write(row, snapshot, waiter))
        if self._writer is None:
            self._writer = loop.create_task(self._write_all())
        await waiter

    async def _write_all(self) -> None:
        """Store the receipts waiting, a batch per round trip, until none is left: those
        that arrive while a batch is on its way go in the next one."""
        try:
            while self._writes:
                # Receipts whose caller gave up (timeout, disconnect) are dropped.
                waiting = [write for write in self._writes if not write.waiter.done()]
                batch, self._writes = waiting[:_ROWS], waiting[_ROWS:]
                if batch:
                    await self._write_batch(batch)
        finally:
            self._writer = None
            for write in self._writes:  # only when cancelled (the loop closing)
                if not write.waiter.done():
                    write.waiter.set_exception(LogUnavailable(f"consent log {self!r} was closed"))

    async def _write_batch(self, batch: list[_Write]) -> None:
        try:
            await self._run(lambda conn: self._insert(conn, batch))
        except LogUnavailable as exc:
            if len(batch) > 1 and isinstance(exc.__cause__, _psycopg().IntegrityError):
                for write in batch:  # one bad receipt must not fail the others
                    if not write.waiter.done():
                        await self._write_batch([write])
                return
            for write in batch:
                if not write.waiter.done():
                    write.waiter.set_exception(exc)
            return
        for write in batch:
            if not write.waiter.done():
                write.waiter.set_result(None)
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + _DAY
            try:
                await self.purge()
            except LogUnavailable as exc:  # the receipts are stored; it runs again later
                logger.warning("%s", exc)

    async def _insert(self, conn: AsyncConnection[Any], batch: list[_Write]) -> None:
        """One INSERT for the whole batch: one round trip, one transaction, committed
        (and on disk) before any of its receipts is confirmed."""
        from psycopg.types.json import Jsonb

        for snapshot in {w.snapshot.digest: w.snapshot for w in batch}.values():
            if snapshot.digest not in self._stored:
                await conn.execute(
                    "INSERT INTO consent_snapshots (digest, revision, fingerprint, document) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (digest) DO NOTHING",
                    (
                        snapshot.digest,
                        snapshot.revision,
                        snapshot.fingerprint,
                        Jsonb(snapshot.document),
                    ),
                )
                self._stored.add(snapshot.digest)
        await conn.execute(_insert_sql(len(batch)), list(chain.from_iterable(w.row for w in batch)))

    async def get(self, receipt_id: str) -> Receipt | None:
        async def job(conn: AsyncConnection[Any]) -> Receipt | None:
            cursor = await conn.execute(f"{_SELECT} WHERE id = %s", (receipt_id,))
            found = await cursor.fetchone()
            return None if found is None else _receipt(found)

        result: Receipt | None = await self._run(job)
        return result

    async def snapshot(self, digest: str) -> Snapshot | None:
        async def job(conn: AsyncConnection[Any]) -> Snapshot | None:
            cursor = await conn.execute(
                "SELECT document FROM consent_snapshots WHERE digest = %s", (digest,)
            )
            found = await cursor.fetchone()
            return None if found is None else Snapshot.from_document(found[0])

        result: Snapshot | None = await self._run(job)
        return result

    async def receipts(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> AsyncIterator[Receipt]:
        low = since or _NEVER
        high = until or datetime(9999, 1, 1, tzinfo=UTC)
        after: tuple[datetime, str] = (_NEVER, "")
        while True:

            async def job(
                conn: AsyncConnection[Any], after: tuple[datetime, str] = after
            ) -> list[Receipt]:
                cursor = await conn.execute(
                    f"{_SELECT} WHERE recorded_at >= %s AND recorded_at < %s "
                    "AND (recorded_at, id) > (%s, %s) ORDER BY recorded_at, id LIMIT %s",
                    (low, high, *after, PAGE),
                )
                return [_receipt(row) for row in await cursor.fetchall()]

            page: list[Receipt] = await self._run(job)
            for receipt in page:
                yield receipt
            if len(page) < PAGE:
                return
            after = (page[-1].recorded_at, page[-1].id)

    async def purge(self, older_than: timedelta | None = None) -> int:
        age = check_retention(self.retention if older_than is None else older_than)

        async def job(conn: AsyncConnection[Any]) -> int:
            return await self._purge(conn, age)

        result: int = await self._run(job)
        return result

    async def aclose(self) -> None:
        if self._writer is not None and self._writes_loop is asyncio.get_running_loop():
            await asyncio.wait([self._writer])  # bounded by the timeout
        pool, self._pool, self._loop = self._pool, None, None
        if pool is not None:
            await pool.close()

    # -- internals -------------------------------------------------------------------------

    async def _run(self, job: Any) -> Any:
        psycopg = _psycopg()
        import psycopg_pool

        try:
            with anyio.fail_after(self.timeout):
                pool = await self._open()
                async with pool.connection() as conn:
                    return await job(conn)
        except TimeoutError:
            raise LogUnavailable(
                f"consent log {self!r} did not answer within {self.timeout:g} s"
            ) from None
        except (psycopg.Error, psycopg_pool.PoolTimeout, OSError) as exc:
            raise LogUnavailable(f"consent log {self!r}: {exc}") from exc

    async def _open(self) -> AsyncConnectionPool[Any]:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._loop is loop:
            return self._pool
        if self._opening is None or self._loop is not loop:
            self._opening, self._loop = asyncio.Lock(), loop
        async with self._opening:
            if self._pool is not None and self._loop is loop:
                return self._pool
            try:
                import psycopg
                from psycopg_pool import AsyncConnectionPool
            except ImportError:
                raise ImportError(
                    "PostgresConsentLog needs psycopg: pip install 'asgi-consent[postgres]'"
                ) from None
            # One plain connection first: a wrong password or host fails at once with the
            # server's message (the pool would retry until its timeout), and it creates
            # the tables.
            async with (
                await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, connect_timeout=max(1, round(self.timeout))
                ) as conn,
                conn.transaction(),
            ):
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                await conn.execute(_SCHEMA)
            pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                self._dsn,
                min_size=1,
                max_size=self.max_connections,
                timeout=self.timeout,
                kwargs={"autocommit": True},
                open=False,
            )
            await pool.open(wait=True, timeout=self.timeout)
            self._pool = pool
            return pool

    async def _purge(self, conn: AsyncConnection[Any], age: timedelta) -> int:
        cutoff = datetime.now(UTC) - age
        async with conn.transaction():
            cursor = await conn.execute(
                "DELETE FROM consent_receipts WHERE recorded_at < %s", (cutoff,)
            )
            deleted = cursor.rowcount
            await conn.execute(
                "DELETE FROM consent_snapshots s WHERE created_at < %s AND NOT EXISTS "
                "(SELECT 1 FROM consent_receipts r WHERE r.snapshot = s.digest)",
                (cutoff,),
            )
        self._stored.clear()  # unreferenced snapshots may be gone
        if deleted:
            logger.info("consent log: purged %d receipts older than %s", deleted, cutoff)
        return int(deleted)


class _Write(NamedTuple):
    """A receipt waiting to be written: its row, its snapshot, its caller's future."""

    row: tuple[Any, ...]
    snapshot: Snapshot
    waiter: asyncio.Future[None]


@functools.cache
def _insert_sql(rows: int) -> str:
    """One INSERT of `rows` receipts."""
    return (
        f"INSERT INTO consent_receipts ({', '.join(COLUMNS)}) VALUES {', '.join([_VALUES] * rows)}"
    )


def _psycopg() -> Any:
    import psycopg

    return psycopg


def _receipt(row: tuple[Any, ...]) -> Receipt:
    return Receipt.from_json(dict(zip(COLUMNS, row, strict=True)))
