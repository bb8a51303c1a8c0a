"""Kill the app server during a burst of decisions: every decision that got a 2xx answer
has its receipt (checklist D1). Real HTTP through uvicorn, a real SQLite file or
PostgreSQL server, and SIGKILL: no shutdown code runs."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from consent.receipts import ConsentLog, open_log
from consent.signing import ConsentCodec
from examples.site import SECRET_KEY, policy
from tests.conftest import run_async
from tests.servers import uvicorn_process

CODEC = ConsentCodec(policy, SECRET_KEY)
BODIES = (
    {"action": "accept_all"},
    {"action": "reject_all"},
    {"action": "save", "grant": ["analytics"]},
)


def burst(url: str, answered: list[str], failures: list[str], stop: threading.Event) -> None:
    """Post decisions until the server goes away; note the receipt id of every 2xx."""
    with httpx.Client(base_url=url, timeout=5) as client:
        n = 0
        while not stop.is_set():
            client.cookies.clear()
            try:
                response = client.post("/consent", json=BODIES[n % 3])
            except httpx.HTTPError as exc:
                failures.append(type(exc).__name__)
                return
            n += 1
            if 200 <= response.status_code < 300:
                state = CODEC.decode(response.cookies["consent"])
                assert state.receipt_id is not None
                answered.append(state.receipt_id)


def stored_ids(log: ConsentLog) -> set[str]:
    async def main() -> set[str]:
        found = {r.id async for r in log.receipts()}
        await log.aclose()
        return found

    return run_async(main())


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "crash.db")
    dsn: str = request.getfixturevalue("postgres_dsn")
    return dsn


def test_killed_server_loses_no_answered_receipt(database: str) -> None:
    answered: list[str] = []
    failures: list[str] = []
    stop = threading.Event()
    with uvicorn_process("examples.app:app", CONSENT_DB=database) as (url, process):
        threads = [
            threading.Thread(target=burst, args=(url, answered, failures, stop)) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(answered) < 200 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)  # mid-burst: writes are in flight
        process.wait(timeout=10)
        time.sleep(0.2)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert len(answered) >= 200, "the burst did not get going"
    assert failures, "the server was not killed mid-burst"
    missing = set(answered) - stored_ids(open_log(database))
    assert missing == set(), f"{len(missing)} answered decisions have no receipt"
