"""The proof-of-consent log: receipts, snapshots and both stores (checklist D1, D2, D3).

Every store test runs against SQLite (a real file) and PostgreSQL (a real server; see
`postgres_server` in conftest.py)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent import Policy
from consent.receipts import (
    DEFAULT_RETENTION,
    ConsentLog,
    LogUnavailable,
    PostgresConsentLog,
    Receipt,
    Snapshot,
    SQLiteConsentLog,
    browser_family,
    browsers,
    open_log,
    parse_age,
    summarize,
)
from consent.receipts import sqlite as sqlite_store
from consent.receipts.receipt import method_of
from consent.receipts.sqlite_thread import CHECKPOINT_EVERY
from consent.receipts.times import parse_time
from consent.signing import new_receipt_id
from consent.state import Action, ConsentState
from tests.conftest import POLICY_DATA, run_async

POLICY = Policy.model_validate(POLICY_DATA)
SNAPSHOT = Snapshot.of(POLICY)
LogFactory = Callable[..., ConsentLog]


def decide(
    action: Action = "accept_all",
    grant: tuple[str, ...] = (),
    *,
    at: datetime | None = None,
    policy: Policy = POLICY,
) -> ConsentState:
    return ConsentState.from_choice(
        policy, action, grant, issued_at=at or ConsentState.now(), receipt_id=new_receipt_id()
    )


def receipt_of(state: ConsentState, **extra: Any) -> Receipt:
    options: dict[str, Any] = {"method": "accept_all", "snapshot": SNAPSHOT, **extra}
    return Receipt.of(state, **options)


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return run_async(coroutine)


@pytest.fixture(params=["sqlite", "postgres"])
def make_log(request: pytest.FixtureRequest, tmp_path: Path) -> LogFactory:
    """Builds a log of one store kind; each test gets empty tables."""
    if request.param == "sqlite":
        return lambda **options: SQLiteConsentLog(tmp_path / "receipts.db", **options)
    dsn = request.getfixturevalue("postgres_dsn")
    return lambda **options: PostgresConsentLog(dsn, **options)


# -- the receipt itself ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "family"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "chrome",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "edge",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "firefox"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "safari",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            "chrome",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
            "opera",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36",
            "samsung",
        ),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
        ("Mozilla/5.0 HeadlessChrome/131.0.0.0", "bot"),
        ("curl/8.5.0", "other"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_browser_family_is_coarse(user_agent: str | None, family: str) -> None:
    """D1: a family name only, never the user-agent or its version."""
    assert browser_family(user_agent) == family


def reference_family(user_agent: str) -> str:
    """browser_family as first written, over the same tables: one case-insensitive search,
    no cache."""
    if not user_agent:
        return "unknown"
    if browsers._BOTS.search(user_agent):
        return "bot"
    families = browsers._FAMILIES
    return next((f for f, marks in families if any(m in user_agent for m in marks)), "other")


@given(
    st.lists(
        st.sampled_from(["BOT", "Crawl", "\u017fpider", "SlurP", "Chrome/", "Edg/", "OPR/", "é"])
        | st.text(max_size=8),
        max_size=6,
    ).map("".join)
)
def test_browser_family_answers_like_the_first_version(user_agent: str) -> None:
    """The lowered ASCII search and the cache of seen user-agents change no answer,
    including the Unicode case folding of the non-ASCII path (U+017F, a long s, is an "s")."""
    assert browser_family(user_agent) == reference_family(user_agent)
    assert browser_family(user_agent) == reference_family(user_agent)  # from the cache


@pytest.mark.parametrize(
    ("text", "days"),
    [("400d", 400), ("18 months", 540), ("2y", 730), ("1 year", 365), ("3 weeks", 21)],
)
def test_parse_age(text: str, days: int) -> None:
    assert parse_age(text) == timedelta(days=days)


@pytest.mark.parametrize("text", ["", "0d", "forever", "-3d", "12", "5 decades", "1e3d"])
def test_parse_age_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="400d"):
        parse_age(text)


def test_parse_time_reads_dates_and_zones() -> None:
    assert parse_time("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_time("2026-03-01T10:00:00+02:00") == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert parse_time("2026-03-01T10:00:00Z") == datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_receipt_states_every_category_and_service_explicitly() -> None:
    """D1: categories are explicit true or false, never by omission."""
    state = decide("save", ("analytics", "youtube"))
    receipt = receipt_of(state, method="save", browser="firefox")
    assert receipt.categories == {"essential": True, "analytics": True, "marketing": False}
    assert set(receipt.services) == {s.id for s in POLICY.services}
    assert receipt.services["youtube"] is True
    assert receipt.refused_services == [s.id for s in POLICY.services if s.id not in state.services]
    assert receipt.id == state.receipt_id
    assert receipt.recorded_at == state.issued_at
    assert (receipt.revision, receipt.fingerprint) == (POLICY.revision, POLICY.fingerprint)
    assert receipt.snapshot == SNAPSHOT.digest
    assert Receipt.from_json(receipt.to_json()) == receipt


def test_an_undecided_state_has_no_receipt() -> None:
    with pytest.raises(ValueError, match="decided"):
        receipt_of(ConsentState.undecided(POLICY))


def test_method_tells_withdrawal_from_a_first_choice() -> None:
    undecided = ConsentState.undecided(POLICY)
    everything, nothing = decide("accept_all"), decide("reject_all")
    assert method_of("accept_all", undecided, everything) == "accept_all"
    assert method_of("reject_all", undecided, nothing) == "reject_all"
    assert method_of("reject_all", everything, nothing) == "withdrawal"
    assert method_of("save", everything, decide("save", ("analytics",))) == "withdrawal"
    assert method_of("save", nothing, decide("save", ("analytics",))) == "save"
    assert method_of("accept_all", nothing, everything) == "accept_all"


def test_snapshot_covers_texts_interface_and_assets() -> None:
    """D2: a snapshot changes whenever what the visitor reads changes, even where the
    fingerprint (what is asked) stays the same."""
    data = {**POLICY_DATA, "categories": [dict(c) for c in POLICY_DATA["categories"]]}
    data["categories"][1]["description"] = "Counting visits, reworded."
    reworded = Policy.model_validate(data)
    assert reworded.fingerprint == POLICY.fingerprint
    assert Snapshot.of(reworded).digest != SNAPSHOT.digest
    assert Snapshot.of(POLICY).digest == SNAPSHOT.digest  # stable
    document = SNAPSHOT.document
    assert document["policy"]["fingerprint"] == POLICY.fingerprint
    assert document["interface"]["en"]["accept_all"] == "Accept all"
    assert {"static/consent.js", "static/consent.css", "templates/consent/banner.html"} <= set(
        document["assets"]
    )
    # Staff-only templates (the reports) are not what visitors were shown.
    staff = {f"templates/consent/{n}" for n in ("report.html", "scan.html", "_report.css")}
    assert not staff & set(document["assets"])
    # A stored document is re-hashed, never trusted.
    assert Snapshot.from_document(document).digest == SNAPSHOT.digest


# -- the stores ----------------------------------------------------------------------------


def test_open_log_picks_the_store(tmp_path: Path) -> None:
    assert isinstance(open_log(str(tmp_path / "x.db")), SQLiteConsentLog)
    assert isinstance(open_log("postgresql://u:pw@db.example/consent"), PostgresConsentLog)
    assert isinstance(open_log("postgres://u:pw@db.example/consent"), PostgresConsentLog)


def test_reprs_hide_passwords() -> None:
    log = PostgresConsentLog("postgresql://consent:hunter2-secret@db.example:5432/proofs")
    assert "hunter2" not in repr(log)
    assert "db.example/proofs" in repr(log)
    assert "hunter2" not in repr(PostgresConsentLog("host=db password=hunter2 dbname=x"))


@pytest.mark.parametrize("retention", [timedelta(0), timedelta(days=-1), None, 30])
def test_retention_is_required_and_finite(tmp_path: Path, retention: Any) -> None:
    """D3: there is no "forever"."""
    with pytest.raises(ValueError, match="retention"):
        SQLiteConsentLog(tmp_path / "x.db", retention=retention)
    with pytest.raises(ValueError, match="retention"):
        PostgresConsentLog("postgresql:///x", retention=retention)
    assert SQLiteConsentLog(tmp_path / "x.db").retention == DEFAULT_RETENTION


def test_store_keeps_and_returns_receipts(make_log: LogFactory) -> None:
    """D1: what is written comes back whole; the snapshot is stored once."""

    async def main() -> None:
        log = make_log()
        assert isinstance(log, ConsentLog)
        first = receipt_of(decide("accept_all"), browser="chrome")
        second = receipt_of(
            decide("save", ("youtube",)), method="save", previous_id=first.id, gpc=True
        )
        await log.write(first, SNAPSHOT)
        await log.write(second, SNAPSHOT)
        assert await log.get(first.id) == first
        assert await log.get(second.id) == second
        assert await log.get(new_receipt_id()) is None
        stored = await log.snapshot(SNAPSHOT.digest)
        assert stored is not None and stored.digest == SNAPSHOT.digest
        assert stored.document == SNAPSHOT.document
        assert await log.snapshot("0" * 64) is None
        assert {r.id async for r in log.receipts()} == {first.id, second.id}
        await log.aclose()

    run(main())


def test_store_streams_in_time_order_with_bounds(
    make_log: LogFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paging works across page boundaries (a page of 7 here), in (time, id) order."""
    monkeypatch.setattr(sqlite_store, "PAGE", 7)
    monkeypatch.setattr("consent.receipts.postgres.PAGE", 7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    written = [
        receipt_of(decide(at=start + timedelta(hours=i // 3)))  # three per hour
        for i in range(40)
    ]

    async def main() -> None:
        log = make_log()
        await asyncio.gather(*(log.write(r, SNAPSHOT) for r in written))
        everything = [r async for r in log.receipts()]
        expected = sorted(written, key=lambda r: (r.recorded_at, r.id))
        assert [r.id for r in everything] == [r.id for r in expected]
        since, until = start + timedelta(hours=2), start + timedelta(hours=5)
        some = [r async for r in log.receipts(since=since, until=until)]
        assert [r.id for r in some] == [r.id for r in expected if since <= r.recorded_at < until]
        assert len(some) == 9
        await log.aclose()

    run(main())


def test_store_purges_by_age(make_log: LogFactory) -> None:
    """D3: receipts older than the retention go; newer ones stay."""
    now = ConsentState.now()
    old = [receipt_of(decide(at=now - timedelta(days=400 + i))) for i in range(3)]
    new = [receipt_of(decide(at=now - timedelta(days=i))) for i in (0, 3, 5)]

    async def main() -> None:
        log = make_log(retention=timedelta(days=365))
        for receipt in old + new:
            await log.write(receipt, SNAPSHOT)
        # Writing ran the daily purge once already: the oldest ones may be gone.
        assert await log.purge(timedelta(days=1000)) == 0
        await log.purge()
        left = {r.id async for r in log.receipts()}
        assert left == {r.id for r in new}
        assert await log.purge(timedelta(days=2)) == 2  # the two from days ago
        assert await log.snapshot(SNAPSHOT.digest) is not None  # still referenced
        with pytest.raises(ValueError, match="retention"):
            await log.purge(timedelta(0))
        await log.aclose()

    run(main())


def test_store_survives_a_burst_of_concurrent_writes(make_log: LogFactory) -> None:
    """Group commit: 300 decisions at once, each stored exactly once."""
    receipts = [receipt_of(decide()) for _ in range(300)]

    async def main() -> None:
        log = make_log()
        await asyncio.gather(*(log.write(r, SNAPSHOT) for r in receipts))
        stats = await summarize(log.receipts())
        assert stats.decisions == 300
        await log.aclose()

    run(main())


def test_a_duplicate_receipt_fails_alone(make_log: LogFactory) -> None:
    """One bad write in a batch fails; the others in the same batch are stored."""
    good = [receipt_of(decide()) for _ in range(20)]

    async def main() -> None:
        log = make_log()
        await log.write(good[0], SNAPSHOT)
        results = await asyncio.gather(
            *(log.write(r, SNAPSHOT) for r in [good[0], *good[1:]]), return_exceptions=True
        )
        assert isinstance(results[0], LogUnavailable)
        assert results[1:] == [None] * 19
        assert {r.id async for r in log.receipts()} == {r.id for r in good}
        await log.aclose()

    run(main())


def test_sqlite_unwritable_path_is_unavailable(tmp_path: Path) -> None:
    async def main() -> None:
        log = SQLiteConsentLog(tmp_path / "missing" / "dir" / "log.db", timeout=1)
        with pytest.raises(LogUnavailable, match=r"log\.db"):
            await log.write(receipt_of(decide()), SNAPSHOT)
        await log.aclose()

    run(main())


def test_sqlite_locked_database_times_out_without_blocking_the_loop(tmp_path: Path) -> None:
    """Another process holds the write lock: the write gives up after `timeout`, and the
    event loop keeps running meanwhile; once the lock is gone, writes work again."""
    path = tmp_path / "log.db"

    async def main() -> None:
        log = SQLiteConsentLog(path, timeout=0.5)
        await log.write(receipt_of(decide()), SNAPSHOT)  # creates the tables
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        started = time.monotonic()
        with pytest.raises(LogUnavailable):
            await log.write(receipt_of(decide()), SNAPSHOT)
        waited = time.monotonic() - started
        assert 0.4 < waited < 5
        assert ticks >= 10  # the loop ran while the write waited
        blocker.execute("ROLLBACK")
        blocker.close()
        late = receipt_of(decide())
        await log.write(late, SNAPSHOT)
        assert await log.get(late.id) == late
        ticker.cancel()
        await log.aclose()

    run(main())


def test_postgres_unreachable_is_unavailable() -> None:
    async def main() -> None:
        log = PostgresConsentLog(
            "postgresql://consent:consent@127.0.0.1:9/nowhere?connect_timeout=1", timeout=1.5
        )
        with pytest.raises(LogUnavailable, match=r"127\.0\.0\.1/nowhere"):
            await log.write(receipt_of(decide()), SNAPSHOT)
        await log.aclose()

    run(main())


def test_summarize_counts_rates(make_log: LogFactory) -> None:
    day = datetime(2026, 5, 4, 12, tzinfo=UTC)
    receipts = [
        receipt_of(decide("accept_all", at=day)),
        receipt_of(decide("reject_all", at=day), method="reject_all"),
        receipt_of(decide("save", ("analytics",), at=day + timedelta(days=1)), method="save"),
        receipt_of(decide("reject_all", at=day + timedelta(days=1)), method="withdrawal"),
    ]

    async def main() -> None:
        log = make_log()
        for receipt in receipts:
            await log.write(receipt, SNAPSHOT)
        stats = await summarize(log.receipts())
        await log.aclose()
        assert stats.decisions == 4
        assert stats.rate("essential") == 1.0
        assert stats.rate("analytics") == 0.5
        assert stats.rate("marketing") == 0.25
        assert dict(stats.methods) == {
            "accept_all": 1,
            "reject_all": 1,
            "save": 1,
            "withdrawal": 1,
        }
        assert [d.decisions for d in stats.days.values()] == [2, 2]
        assert stats.days[day.date()].rate("analytics") == 0.5
        data = stats.to_json()
        assert data["first"] == "2026-05-04T12:00:00Z"
        assert data["categories"]["marketing"] == {"granted": 1, "decisions": 4, "rate": 0.25}

    run(main())


def test_sqlite_checkpoints_off_the_writer(tmp_path: Path) -> None:
    """The WAL is copied into the database file by the checkpoint thread, and emptied when
    the log closes: the file alone then holds every receipt."""
    path = tmp_path / "log.db"
    receipts = [receipt_of(decide()) for _ in range(CHECKPOINT_EVERY + 100)]

    async def main() -> None:
        log = SQLiteConsentLog(path)
        await asyncio.gather(*(log.write(r, SNAPSHOT) for r in receipts))
        # While the log is open, the database file itself fills up (not only the WAL).
        deadline = time.monotonic() + 5
        while path.stat().st_size < 200_000 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert path.stat().st_size >= 200_000
        await log.aclose()

    run(main())
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    with sqlite3.connect(path) as db:
        (count,) = db.execute("SELECT count(*) FROM consent_receipts").fetchone()
    assert count == len(receipts)


# -- batching (group commit) ---------------------------------------------------------------


def test_a_duplicate_within_one_batch_fails_alone(make_log: LogFactory) -> None:
    """Two writes of one receipt in the same batch: one is stored, the other fails, and the
    rest of the batch is stored."""
    good = [receipt_of(decide()) for _ in range(10)]

    async def main() -> None:
        log = make_log()
        results = await asyncio.gather(
            *(log.write(r, SNAPSHOT) for r in [*good, good[3]]), return_exceptions=True
        )
        assert results[:10] == [None] * 10
        assert isinstance(results[10], LogUnavailable)
        assert sorted([r.id async for r in log.receipts()]) == sorted(r.id for r in good)
        await log.aclose()

    run(main())


def test_sqlite_work_runs_in_the_order_it_was_asked(tmp_path: Path) -> None:
    """A read asked after a write in the same turn of the loop sees the write."""
    receipts = [receipt_of(decide()) for _ in range(5)]

    async def main() -> None:
        log = SQLiteConsentLog(tmp_path / "log.db")
        *_, found = await asyncio.gather(
            *(log.write(r, SNAPSHOT) for r in receipts), log.get(receipts[-1].id)
        )
        assert found == receipts[-1]
        await log.aclose()

    run(main())


def test_sqlite_no_receipt_is_confirmed_before_its_batch_is_committed(tmp_path: Path) -> None:
    """While another process holds the write lock nothing is confirmed; once it is gone,
    each write returns only when its receipt can be read from another connection."""
    path = tmp_path / "log.db"
    receipts = [receipt_of(decide()) for _ in range(40)]

    async def main() -> None:
        log = SQLiteConsentLog(path, timeout=5)
        await log.write(receipt_of(decide()), SNAPSHOT)  # creates the tables
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        seen: list[bool] = []

        async def write(receipt: Receipt) -> None:
            await log.write(receipt, SNAPSHOT)
            with sqlite3.connect(path) as other:
                found = other.execute(
                    "SELECT count(*) FROM consent_receipts WHERE id = ?", (receipt.id,)
                ).fetchone()
            seen.append(found == (1,))

        tasks = [asyncio.create_task(write(r)) for r in receipts]
        await asyncio.sleep(0.3)
        assert not any(task.done() for task in tasks)
        blocker.execute("ROLLBACK")
        blocker.close()
        await asyncio.gather(*tasks)
        assert seen == [True] * len(receipts)
        await log.aclose()

    run(main())


def test_receipts_of_one_choice_share_nothing() -> None:
    """The mappings of repeated choices are made once, but each receipt has its own."""
    first, second = receipt_of(decide()), receipt_of(decide())
    assert first.categories == second.categories
    assert first.categories is not second.categories
    assert first.services is not second.services


def test_a_purged_snapshot_is_stored_again(make_log: LogFactory) -> None:
    """The stores remember which snapshots they stored, and forget it on a purge."""

    async def main() -> None:
        log = make_log()
        await log.write(receipt_of(decide(at=ConsentState.now() - timedelta(hours=1))), SNAPSHOT)
        await asyncio.sleep(2.1)  # the snapshot's time is stored in whole seconds
        assert await log.purge(timedelta(seconds=1)) == 1
        assert await log.snapshot(SNAPSHOT.digest) is None
        later = receipt_of(decide())
        await log.write(later, SNAPSHOT)
        assert await log.get(later.id) == later
        assert await log.snapshot(SNAPSHOT.digest) is not None
        await log.aclose()

    run(main())
