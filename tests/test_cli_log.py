"""`consent log stats|export|purge|show` for compliance staff (checklist D1, D3)."""

from __future__ import annotations

import csv
import io
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from consent import Policy
from consent.cli import main
from consent.receipts import ConsentLog, Method, Receipt, Snapshot, SQLiteConsentLog, open_log
from consent.signing import new_receipt_id
from consent.state import Action, ConsentState
from tests.conftest import POLICY_DATA, run_async

POLICY = Policy.model_validate(POLICY_DATA)
# Revision 2 adds a category: exports must show both policies' ids.
POLICY_2 = Policy.model_validate(
    {
        **POLICY_DATA,
        "revision": 2,
        "categories": [
            *POLICY_DATA["categories"],
            {"id": "support", "title": "Support chat", "description": "A chat window."},
        ],
    }
)
DAY = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def receipt(
    action: Action,
    grant: tuple[str, ...] = (),
    *,
    days: int = 0,
    policy: Policy = POLICY,
    method: Method | None = None,
) -> Receipt:
    state = ConsentState.from_choice(
        policy, action, grant, issued_at=DAY + timedelta(days=days), receipt_id=new_receipt_id()
    )
    return Receipt.of(
        state, method=method or action, snapshot=Snapshot.of(policy), browser="chrome"
    )


RECEIPTS = [
    receipt("accept_all"),
    receipt("reject_all"),
    receipt("save", ("analytics",), days=1),
    receipt("reject_all", days=1, method="withdrawal"),
    receipt("accept_all", days=2, policy=POLICY_2),
]


def fill(log: ConsentLog, receipts: list[Receipt] = RECEIPTS) -> None:
    async def write() -> None:
        for item in receipts:
            await log.write(item, Snapshot.of(POLICY_2 if item.revision == 2 else POLICY))
        await log.aclose()

    run_async(write())


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "receipts.db"
    fill(SQLiteConsentLog(path))
    return str(path)


def consent(*args: str) -> int:
    """Run the command in a thread of its own: it starts an event loop, and the browser
    tests leave one running in the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(main, list(args)).result()


def test_stats_text(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert consent("log", "stats", "--db", db) == 0
    out = capsys.readouterr().out
    assert f"{db}: 5 decisions from 2026-03-10T09:30:00Z to 2026-03-12T09:30:00Z" in out
    assert "accept_all 2 (40.0%)" in out
    assert "withdrawal 1 (20.0%)" in out
    assert "analytics   60.0%  (3/5)" in out
    assert "support    100.0%  (1/1)" in out
    assert "2026-03-11       2 decisions" in out


def test_stats_json_and_period(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert consent("log", "stats", "--db", db, "--format", "json", "--since", "2026-03-11") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decisions"] == 3
    assert data["categories"]["analytics"] == {"granted": 2, "decisions": 3, "rate": 0.6667}
    assert [d["day"] for d in data["days"]] == ["2026-03-11", "2026-03-12"]
    assert consent("log", "stats", "--db", db, "--until", "2026-03-11", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["decisions"] == 2


def test_stats_of_an_empty_period(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert consent("log", "stats", "--db", db, "--since", "2030-01-01") == 0
    assert "no decisions in this period" in capsys.readouterr().out


def test_export_csv_has_explicit_columns(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """D1: one true/false column per category and service; a category that the policy of
    that time did not have is left empty, not false."""
    assert consent("log", "export", "--db", db) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(row["id"] for row in rows) == sorted(r.id for r in RECEIPTS)
    assert [row["recorded_at"] for row in rows] == sorted(row["recorded_at"] for row in rows)
    by_id = {row["id"]: row for row in rows}
    first, saved, revised = (by_id[RECEIPTS[i].id] for i in (0, 2, 4))
    assert first["category:marketing"] == "true" and first["category:support"] == ""
    assert saved["category:analytics"] == "true" and saved["category:marketing"] == "false"
    assert saved["service:youtube"] == "false"
    assert revised["category:support"] == "true" and revised["revision"] == "2"
    assert by_id[RECEIPTS[3].id]["method"] == "withdrawal"
    assert first["gpc"] == "false" and first["previous_id"] == "" and first["browser"] == "chrome"


def test_export_jsonl_to_a_file(db: str, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert consent("log", "export", "--db", db, "--format", "jsonl", "-o", str(out)) == 0
    lines = out.read_text().splitlines()
    read = sorted((Receipt.from_json(json.loads(line)) for line in lines), key=lambda r: r.id)
    assert read == sorted(RECEIPTS, key=lambda r: r.id)


def test_show_one_receipt_with_what_was_shown(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """D2: the receipt leads to the snapshot of the texts the visitor saw."""
    target = RECEIPTS[2]
    assert consent("log", "show", "--db", db, target.id, "--snapshot") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == target.id and data["method"] == "save"
    assert data["shown"]["policy"]["categories"][1]["description"] == "Visit counts."
    assert data["shown"]["interface"]["en"]["reject_all"] == "Reject all"
    assert consent("log", "show", "--db", db, new_receipt_id()) == 1
    assert "no receipt" in capsys.readouterr().err


def test_show_an_id_that_starts_with_a_dash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ids from early versions may start with `-`; argparse must not take them for options."""
    dashed = Receipt.of(
        ConsentState.from_choice(
            POLICY, "accept_all", (), issued_at=DAY, receipt_id="-" + new_receipt_id()[1:]
        ),
        method="accept_all",
        snapshot=Snapshot.of(POLICY),
        browser="chrome",
    )
    path = str(tmp_path / "dashed.db")
    fill(SQLiteConsentLog(path), [dashed])
    for args in ([dashed.id], [dashed.id, "--snapshot"], ["--snapshot", dashed.id]):
        assert consent("log", "show", "--db", path, *args) == 0
        assert json.loads(capsys.readouterr().out)["id"] == dashed.id
    assert consent("log", "show", "--db", path, "--", dashed.id) == 0
    assert json.loads(capsys.readouterr().out)["id"] == dashed.id


def test_new_receipt_ids_never_start_with_a_dash() -> None:
    ids = {new_receipt_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert any(i.startswith("_") for i in ids)  # the rest of the alphabet is still used


def test_purge(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """D3: old receipts can be deleted on demand."""
    age = (datetime.now(UTC) - DAY).days  # the first day's receipts are older than this
    assert consent("log", "purge", "--db", db, "--older-than", f"{age}d") == 0
    assert "purged 2 receipts" in capsys.readouterr().out
    assert consent("log", "stats", "--db", db, "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["decisions"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["log", "purge", "--older-than", "forever"], "not an age"),
        (["log", "stats", "--since", "last tuesday"], "--since and --until take dates"),
    ],
)
def test_unusable_arguments_exit_2(
    db: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert consent(*args, "--db", db) == 2
    assert message in capsys.readouterr().err


def test_a_missing_database_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "typo.db"
    assert consent("log", "stats", "--db", str(missing)) == 2
    assert "no such SQLite database" in capsys.readouterr().err
    assert not missing.exists()
    monkeypatch.delenv("CONSENT_DB")
    assert consent("log", "stats") == 2
    assert "pass --db" in capsys.readouterr().err


def test_db_defaults_to_the_environment(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENT_DB", db)
    assert consent("log", "stats", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["decisions"] == 5


def test_postgres_url(postgres_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    fill(open_log(postgres_dsn))
    assert consent("log", "stats", "--db", postgres_dsn, "--format", "json") == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert data["decisions"] == 5
    assert data["methods"] == {"accept_all": 2, "reject_all": 1, "save": 1, "withdrawal": 1}
    assert consent("log", "show", "--db", postgres_dsn, RECEIPTS[0].id) == 0
    assert json.loads(capsys.readouterr().out)["id"] == RECEIPTS[0].id


def test_postgres_wrong_password_is_reported_without_it(
    postgres_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = postgres_server.replace("consent:consent@", "consent:not-the-password-9@")
    assert consent("log", "stats", "--db", wrong) == 2
    err = capsys.readouterr().err
    assert "password authentication failed" in err
    assert "not-the-password-9" not in err


def test_report_command_writes_the_html(db: str, tmp_path: Path) -> None:
    """`consent report`: the declaration, the lint and the counts in one file."""
    policy = tmp_path / "consent.toml"
    policy.write_text(
        (Path(__file__).parent.parent / "examples" / "consent.toml").read_text(), "utf-8"
    )
    out = tmp_path / "report.html"
    assert consent("report", "--policy", str(policy), "--db", db, "-o", str(out)) == 0
    html = out.read_text()
    assert "<svg" in html and "<script" not in html
    assert db in html
    assert (
        consent("report", "--policy", str(tmp_path / "nope.toml"), "--db", db, "-o", str(out)) == 2
    )
