"""Fault injection: the proof-of-consent log slow, locked, unreachable or out of disk space.

What must hold whatever the store does (checklist D1, D2):

- page views never wait for the log (they do not touch it, and writes never block the
  event loop);
- a new grant is confirmed only once its receipt is stored; otherwise `503`, and the
  visitor's previous choice stays;
- a refusal or a withdrawal always takes effect;
- when the fault is gone the log works again, without a restart, and nothing it had
  stored is lost or damaged.

The process killed in the middle of writes is `tests/test_receipts_crash.py`; key rotation
and revision changes under traffic are `tests/test_faults_rollout.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import socket
import sqlite3
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from consent import ConsentMiddleware
from consent.receipts import (
    PostgresConsentLog,
    Receipt,
    ReceiptWriter,
    Snapshot,
    SQLiteConsentLog,
    bounds_itself,
)
from consent.signing import ConsentCodec
from tests.conftest import SECRET, make_app, run_async, unavailable
from tests.test_receipts_middleware import POLICY, all_receipts

CODEC = ConsentCodec(POLICY, SECRET)
ACCEPT = {"action": "accept_all"}
REJECT = {"action": "reject_all"}


@contextlib.asynccontextmanager
async def visitor(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A visitor with a cookie jar, talking to the app in this event loop."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://site.test") as client:
        yield client


def granted(client: httpx.AsyncClient) -> set[str]:
    """What the visitor's consent cookie grants, decoded with the site's key."""
    return set(CODEC.decode(client.cookies.get("consent") or "").granted)


async def page_view(client: httpx.AsyncClient) -> None:
    """One page view; the page must answer 200."""
    response = await client.get("/")
    assert response.status_code == 200


class HungLog(SQLiteConsentLog):
    """A custom store that never answers while `hang` is set (a lost network peer); it
    counts the writes it was asked for, and `entered` is set once one is waiting."""

    hang = False
    writes = 0

    async def write(self, receipt: Receipt, snapshot: Snapshot) -> None:
        self.writes += 1
        while self.hang:
            self.entered.set()
            await asyncio.sleep(3600)
        await super().write(receipt, snapshot)

    @functools.cached_property
    def entered(self) -> asyncio.Event:
        return asyncio.Event()  # made in the test's event loop, on first use


def test_a_store_that_never_answers_is_cut_off_by_log_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A hung custom store: after `log_timeout` the grant gets 503, a refusal still goes
    through, and page views are served meanwhile."""
    log = HungLog(tmp_path / "log.db")
    app = make_app(log=log, log_timeout=0.3)

    async def scenario() -> None:
        async with visitor(app) as client, visitor(app) as other:
            assert (await client.post("/consent", json=REJECT)).status_code == 200
            log.hang = True
            loop = asyncio.get_running_loop()
            start = loop.time()
            decision = asyncio.create_task(client.post("/consent", json=ACCEPT))
            await log.entered.wait()  # the store has the grant and does not answer
            for _ in range(5):
                await page_view(other)  # served meanwhile...
            assert log.writes == 2  # ...without asking the store anything
            response = await decision
            assert response.status_code == 503
            assert loop.time() - start >= 0.3  # it was given log_timeout, then cut off
            assert granted(client) == {"essential"}
            # A refusal waits as long, then takes effect without a receipt.
            assert (await other.post("/consent", json=REJECT)).status_code == 200
            assert granted(other) == {"essential"}
            log.hang = False
            assert (await client.post("/consent", json=ACCEPT)).status_code == 200
            assert "analytics" in granted(client)

    with caplog.at_level(logging.ERROR, logger="consent"):
        run_async(scenario())
    assert "no answer within log_timeout=0.3 s" in caplog.text
    assert len(all_receipts(log)) == 2  # the first refusal and the last grant


@contextlib.contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Hold SQLite's write lock on the database from another connection, as a backup tool
    or a second process doing a long write would."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_a_locked_database_refuses_grants_then_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite locked by another process for longer than the store's timeout."""
    path = tmp_path / "log.db"
    log = SQLiteConsentLog(path, timeout=1)
    app = make_app(log=log)

    async def scenario() -> None:
        async with visitor(app) as client, visitor(app) as other:
            assert (await client.post("/consent", json=REJECT)).status_code == 200
            with write_lock(path):
                decision = asyncio.create_task(client.post("/consent", json=ACCEPT))
                # The writer waits for the lock in its own thread: pages are served while
                # the decision waits. (A write on the event loop would hold every page
                # until the decision had its answer.)
                served_meanwhile = 0
                for _ in range(5):
                    await page_view(other)
                    served_meanwhile += not decision.done()
                assert served_meanwhile >= 1
                assert (await decision).status_code == 503
                assert granted(client) == {"essential"}
                assert (await other.post("/consent", json=REJECT)).status_code == 200
            # The lock is gone: the same visitor can now grant, without a restart.
            assert (await client.post("/consent", json=ACCEPT)).status_code == 200

    with caplog.at_level(logging.ERROR, logger="consent"):
        run_async(scenario())
    # SQLite's busy timeout and the store's own timeout are the same 1 s; either speaks.
    assert "database is locked" in caplog.text or "did not answer within 1 s" in caplog.text
    assert "refusal took effect without a receipt" in caplog.text
    receipts = all_receipts(log)
    [grant] = [r for r in receipts if r.method == "accept_all"]  # the refused one left none
    assert grant.previous_id in {r.id for r in receipts if r.method == "reject_all"}
    # The other visitor's refusal may still have been stored once the lock was gone: its
    # id is the one in that visitor's cookie, so it is a receipt of what took effect.
    assert {r.method for r in receipts} == {"accept_all", "reject_all"} and len(receipts) <= 3


def test_a_short_lock_only_delays_the_decision(tmp_path: Path) -> None:
    """A lock released within the store's timeout: the decision waits, then succeeds."""
    path = tmp_path / "log.db"
    log = SQLiteConsentLog(path, timeout=5)
    app = make_app(log=log)

    async def scenario() -> None:
        async with visitor(app) as client:
            assert (await client.post("/consent", json=REJECT)).status_code == 200
            lock = write_lock(path)
            lock.__enter__()
            decision = asyncio.create_task(client.post("/consent", json=ACCEPT))
            await asyncio.sleep(0.3)
            assert not decision.done()
            lock.__exit__(None, None, None)
            assert (await decision).status_code == 200
            assert "analytics" in granted(client)

    run_async(scenario())
    refusal, grant = sorted(all_receipts(log), key=lambda r: r.method != "reject_all")
    assert (refusal.method, grant.method) == ("reject_all", "accept_all")
    assert grant.previous_id == refusal.id


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB file system (tmpfs), so that the disk really fills up (ENOSPC)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        reason = f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}"
        unavailable(reason)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk: Path) -> Path:
    """Fill the file system with one file, to the last byte; return that file."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        block = b"\0" * 4096
        while True:
            try:
                out.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return filler


def test_a_full_disk_refuses_grants_keeps_refusals_and_loses_nothing(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = SQLiteConsentLog(small_disk / "log.db", timeout=1)
    app = make_app(log=log)
    confirmed: list[str] = []  # receipt ids of grants the visitor was told are in force

    async def decide(client: httpx.AsyncClient, body: dict[str, str]) -> int:
        response = await client.post("/consent", json=body)
        if response.status_code == 200 and body is ACCEPT:
            receipt_id = CODEC.decode(client.cookies["consent"]).receipt_id
            assert receipt_id is not None
            confirmed.append(receipt_id)
        return response.status_code

    async def scenario() -> None:
        async with visitor(app) as client:
            for _ in range(5):
                assert await decide(client, REJECT) == 200
                assert await decide(client, ACCEPT) == 200
            assert await decide(client, REJECT) == 200
            filler = fill(small_disk)
            # The log's files may still have free pages; keep deciding until it is full.
            statuses = [await decide(client, ACCEPT) for _ in range(300)]
            assert 503 in statuses, "the disk never filled up"
            first_failure = statuses.index(503)
            assert all(s == 503 for s in statuses[first_failure:])  # no flapping
            before = client.cookies["consent"]
            assert await decide(client, REJECT) == 200  # a refusal still takes effect
            assert granted(client) == {"essential"}
            assert client.cookies["consent"] != before
            assert (await client.get("/")).status_code == 200
            filler.unlink()
            assert await decide(client, ACCEPT) == 200  # space again: grants work again
            assert "analytics" in granted(client)

    with caplog.at_level(logging.ERROR, logger="consent"):
        run_async(scenario())
    assert "disk is full" in caplog.text
    stored = {r.id for r in all_receipts(log)}
    assert set(confirmed) <= stored  # every grant confirmed to a visitor is proven
    conn = sqlite3.connect(small_disk / "log.db")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


class CuttableProxy:
    """A TCP forwarder on loopback that can drop every connection and refuse new ones, as
    a database server that goes away (a restart, a network partition) would."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.up = True
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            source.close()  # each socket is the source of exactly one pump

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self.sockets.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def test_an_unreachable_postgres_server_refuses_grants_then_recovers(
    postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL goes away (every connection dropped, new ones refused) and comes back."""
    parts = urlsplit(postgres_dsn)
    proxy = CuttableProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"
    log = PostgresConsentLog(urlunsplit(parts._replace(netloc=netloc)), timeout=1)
    app = make_app(log=log)

    async def scenario() -> None:
        async with visitor(app) as client, visitor(app) as other:
            assert (await client.post("/consent", json=REJECT)).status_code == 200
            proxy.cut()
            # The store's timeout bounds the wait (the test has no clock: a hang would
            # be one).
            assert (await client.post("/consent", json=ACCEPT)).status_code == 503
            assert granted(client) == {"essential"}
            for _ in range(5):
                await page_view(other)  # pages do not need the database
            assert (await other.post("/consent", json=REJECT)).status_code == 200
            proxy.restore()
            # The pool replaces its dead connections: grants work again, no restart.
            statuses = []
            for _ in range(20):
                statuses.append((await client.post("/consent", json=ACCEPT)).status_code)
                if statuses[-1] == 200:
                    break
                await asyncio.sleep(0.25)
            assert statuses[-1] == 200, statuses
            assert "analytics" in granted(client)
            await log.aclose()

    try:
        with caplog.at_level(logging.ERROR, logger="consent"):
            run_async(scenario())
    finally:
        proxy.close()
    assert "grant was refused" in caplog.text
    assert "consent:consent@" not in caplog.text  # no password in the log
    methods = [r.method for r in all_receipts(PostgresConsentLog(postgres_dsn))]
    assert methods.count("accept_all") == 1 and methods[0] == "reject_all"


def test_log_timeout_is_checked() -> None:
    bad: Any
    for bad in (0, -1, 3600, "5"):
        with pytest.raises(ValueError, match="log_timeout must be a number of seconds"):
            ConsentMiddleware(make_app(), policy=POLICY, secret_key=SECRET, log_timeout=bad)


def stored_ids(path: Path) -> set[str]:
    """Receipt ids in the file at `path`, read with a connection of our own (as an
    auditor would), not through the store."""
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM consent_receipts")}
    finally:
        conn.close()


def receipt_in_cookie(client: httpx.AsyncClient) -> str:
    found = CODEC.decode(client.cookies.get("consent") or "").receipt_id
    assert found is not None
    return found


def remove_database(path: Path) -> None:
    """Delete the database with its `-wal` and `-shm`, as a clean-up script would."""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink(missing_ok=True)


def test_a_deleted_database_file_is_written_again_at_its_path(tmp_path: Path) -> None:
    """D1 proof: the database (and its -wal and -shm) deleted after start-up. The open
    connection would still take receipts, into a file nobody can read; each confirmed
    grant must have its receipt in the file at the path."""
    path = tmp_path / "log.db"
    log = SQLiteConsentLog(path)
    app = make_app(log=log)

    async def scenario() -> tuple[str, str]:
        async with visitor(app) as client:
            assert (await client.post("/consent", json=REJECT)).status_code == 200
            first = receipt_in_cookie(client)
            remove_database(path)
            assert (await client.post("/consent", json=ACCEPT)).status_code == 200
            assert "analytics" in granted(client)
            second = receipt_in_cookie(client)
            assert second in stored_ids(path)  # before the store is closed: committed
            assert (await log.get(second)) is not None  # reads see the new file too
            return first, second

    first, second = run_async(scenario())
    assert stored_ids(path) == {second}  # the first receipt went with the deleted file
    [receipt] = all_receipts(log)
    assert (receipt.id, receipt.previous_id) == (second, first)
    assert receipt.snapshot in {  # the new file has the snapshot the receipt names
        row[0] for row in sqlite3.connect(path).execute("SELECT digest FROM consent_snapshots")
    }


def test_a_replaced_database_file_gets_the_receipts(tmp_path: Path) -> None:
    """D1 proof: the database replaced by another file (a restore, `mv other.db log.db`):
    receipts go to the file now at the path, which gets the tables it lacks."""
    path = tmp_path / "log.db"
    log = SQLiteConsentLog(path)
    app = make_app(log=log)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE unrelated (x)").connection.commit()

    async def scenario() -> str:
        async with visitor(app) as client:
            assert (await client.post("/consent", json=REJECT)).status_code == 200
            remove_database(path)
            other.rename(path)
            assert (await client.post("/consent", json=ACCEPT)).status_code == 200
            return receipt_in_cookie(client)

    grant = run_async(scenario())
    assert [r.id for r in all_receipts(log)] == [grant]
    assert stored_ids(path) == {grant}
    tables = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert {"unrelated", "consent_receipts"} <= tables


def test_a_removed_database_directory_refuses_grants(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """D1 proof: the directory of the database removed: nowhere to keep a receipt, so a
    new grant is refused with 503 and the previous choice stays; a refusal goes through."""
    folder = tmp_path / "receipts"
    folder.mkdir()
    path = folder / "log.db"
    log = SQLiteConsentLog(path)
    app = make_app(log=log)

    async def scenario() -> None:
        async with visitor(app) as client:
            assert (await client.post("/consent", json=REJECT)).status_code == 200
            remove_database(path)
            folder.rmdir()
            response = await client.post("/consent", json=ACCEPT)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "30"
            assert granted(client) == {"essential"}
            assert (await client.post("/consent", json=REJECT)).status_code == 200
            folder.mkdir()  # back: grants work again, without a restart
            assert (await client.post("/consent", json=ACCEPT)).status_code == 200
            assert stored_ids(path) == {receipt_in_cookie(client)}
        await log.aclose()

    with caplog.at_level(logging.ERROR, logger="consent"):
        run_async(scenario())
    assert "a new grant was refused" in caplog.text


class SlowButBounded(SQLiteConsentLog):
    """A subclass that overrides `write` and declares again that it bounds itself."""

    bounds_itself = True

    async def write(self, receipt: Receipt, snapshot: Snapshot) -> None:
        await asyncio.sleep(0.5)
        await super().write(receipt, snapshot)


class OwnStore:
    """A store of its own (no base class), declaring that it bounds itself."""

    bounds_itself = True

    async def write(self, receipt: Receipt, snapshot: Snapshot) -> None: ...


class Reporting(SQLiteConsentLog):
    """A subclass that adds a method and leaves `write` alone: the claim still holds."""

    def describe(self) -> str:
        return repr(self)


class Overriding(SQLiteConsentLog):
    async def write(self, receipt: Receipt, snapshot: Snapshot) -> None:
        await super().write(receipt, snapshot)


class SaidBelow(Overriding):
    bounds_itself = True


class Truthy(OwnStore):
    bounds_itself = 1  # type: ignore[assignment]


def test_which_stores_bound_themselves_is_a_property_of_the_store(tmp_path: Path) -> None:
    """D1: the outer timeout is decided by the store's declaration (`bounds_itself`), and
    the declaration belongs to the `write` it was made next to."""
    assert bounds_itself(SQLiteConsentLog(tmp_path / "a.db"))
    assert bounds_itself(PostgresConsentLog("postgresql://localhost/none"))
    assert bounds_itself(OwnStore())
    assert bounds_itself(Reporting(tmp_path / "b.db"))
    assert bounds_itself(SaidBelow(tmp_path / "c.db"))  # said again, below the override
    assert not bounds_itself(Overriding(tmp_path / "d.db"))  # not inherited over `write`
    assert not bounds_itself(HungLog(tmp_path / "e.db"))
    assert not bounds_itself(Truthy())  # only True itself is a declaration
    assert not bounds_itself(object())
    instance = Overriding(tmp_path / "f.db")
    instance.bounds_itself = True
    assert not bounds_itself(instance)  # an instance attribute declares nothing
    writer = ReceiptWriter(Overriding(tmp_path / "g.db"), Snapshot.of(POLICY), 0.2)
    assert not writer.bounded and "0.2 s" in repr(writer)


def test_a_store_that_bounds_itself_is_not_cut_off_by_log_timeout(tmp_path: Path) -> None:
    """D1: a custom store declaring `bounds_itself` answers in its own time (here more
    than log_timeout): the grant is confirmed, with its receipt."""
    log = SlowButBounded(tmp_path / "log.db")
    app = make_app(log=log, log_timeout=0.2)

    async def scenario() -> str:
        async with visitor(app) as client:
            assert (await client.post("/consent", json=ACCEPT)).status_code == 200
            return receipt_in_cookie(client)

    grant = run_async(scenario())
    assert [r.id for r in all_receipts(log)] == [grant]
