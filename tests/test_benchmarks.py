"""Short runs of the benchmarks `make bench` runs: they prove nothing about speed, only that
each one still runs to its table. Each benchmark checks itself on the way: every
configuration's answer before timing it (bench_middleware), the gate's bytes against the
tag-by-tag reference and a cold memory (bench_gating, which on adversarial pages also
counts how the gate's work grows, deterministically), no answer but 200 and a stored receipt
for every answered decision, in SQLite and PostgreSQL (bench_receipts)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.conftest import POSTGRES_DSN, unavailable

ROOT = Path(__file__).resolve().parent.parent


def run(script: str, *options: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, f"benchmarks/{script}", "--quick", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def figures(output: str, name: str) -> list[float]:
    """The numbers on the table line that starts with `name`."""
    line = next(x for x in output.splitlines() if x.startswith(name + " "))
    return [float(word) for word in line[len(name) :].split() if word[-1].isdigit()]


def test_bench_middleware_runs_every_configuration() -> None:
    output = run("bench_middleware.py")
    for name in ("bare", "no-op middleware", "send-wrapping middleware", "SessionMiddleware"):
        assert figures(output, name)[0] > 0, name
    for name in ("consent, no cookie", "consent, valid cookie"):
        assert figures(output, name)[0] > figures(output, "bare")[0] * 0.5, name
    assert output.count("PASS:") + output.count("FAIL:") == 2  # both targets reported


def test_bench_gating_runs_and_checks_its_output() -> None:
    output = run("bench_gating.py", "--repeat", "1")
    for page in ("100 KB", "2 MB"):
        mb_per_s, ms, peak_kib = figures(output, page)[:3]
        assert mb_per_s > 0 and ms > 0 and 0 < peak_kib < 1024, page  # bounded memory
    assert "Jinja2 render of the 100 KB page" in output
    assert "with ConsentMiddleware filtering them" in output
    adversarial = output[output.index("Adversarial pages") :]
    rows = [line for line in adversarial.splitlines() if line.endswith(("PASS", "FAIL"))]
    assert len(rows) >= 8
    for row in rows:
        kib, chunk, mb_per_s, ratio, work = figures(row, row[:26].rstrip())[:5]
        assert kib > 50 and chunk in (1024, 4096) and mb_per_s > 0 and ratio > 0, row
        assert work < 5, row  # the work, counted, grows linearly: 4 x the page, about 4 x


def test_bench_receipts_runs_with_every_store() -> None:
    if shutil.which("wrk") is None:
        unavailable("wrk not found: apt-get install wrk (CI does)")
    try:
        psycopg.connect(POSTGRES_DSN, connect_timeout=3).close()
    except psycopg.Error as exc:
        unavailable(f"no PostgreSQL server ({exc.__class__.__name__}): `make postgres`")
    output = run("bench_receipts.py", CONSENT_TEST_POSTGRES=POSTGRES_DSN)
    over_http = output[output.index("over HTTP") :]
    for name in ("no log", "SQLite (synchronous=normal)", "PostgreSQL"):
        assert figures(over_http, name)[0] > 0, name  # decisions per second, over HTTP
        assert figures(output, name)[0] > 0, name  # and in-process
    assert "PASS:" in output or "FAIL:" in output


def test_bench_wsgi_runs_every_configuration() -> None:
    """Each configuration checked before timing (its answer, the article gated for the
    accepted consent), then a figure for each."""
    output = run("bench_wsgi.py")
    for name in ("flask, bare", "flask, session", "flask + ConsentWSGIMiddleware"):
        assert figures(output, name)[0] > 0, name
    assert figures(output, "flask + a2wsgi bridge")[0] > 0
    assert "the bridge costs" in output
