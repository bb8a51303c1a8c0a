"""A short run of the load test (benchmarks/load.py) through uvicorn: it proves nothing
about speed, only that under concurrent visitors there is no error and no wrong state.

The visitors make a set number of rounds (`--rounds`), so what is checked is the same on a
quiet machine and on a busy one; wrk runs for a second and must have checked at least one
answer."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parent.parent
VISITORS, ROUNDS = 8, 6
# Each round is a first visit, a decision and three page views, sometimes a withdrawal too.
LEAST_REQUESTS = VISITORS * ROUNDS * 5


def test_load_smoke_run_has_no_errors_and_no_wrong_states() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/load.py",
            *("--rounds", str(ROUNDS), "--visitors", str(VISITORS)),
            *("--duration", "1", "--json"),  # the duration is wrk's only
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard only
        check=True,
    )
    data = json.loads(done.stdout)
    results, views = data["mixed"], data["page_views"]
    assert (
        set(results)
        == set(views)
        == {
            "without ConsentMiddleware",
            "with ConsentMiddleware",
            "example app",
        }
    )
    for name, result in results.items():
        assert result["requests"] >= LEAST_REQUESTS, name  # every answer came
        assert result["errors"] == 0, (name, result["error_samples"])
        assert result["wrong_states"] == 0, name
    # Page views at full speed from wrk, each answer checked against the cookie's grant.
    if shutil.which("wrk") is None:
        message = "wrk not found: apt-get install wrk (CI does)"
        unavailable(message)
    for name, result in views.items():
        assert result["requests"] > 0, name
        assert result["errors"] == 0 and result["wrong_states"] == 0, (name, result)
