"""Decisions per second through ConsentMiddleware with no log, SQLite and PostgreSQL.

In-process ASGI calls of `POST /consent` (JSON, accept all), several decisions in flight at
once as on a busy server, every configuration measured in the same run in interleaved
rounds; the median round is reported, with the ratio to "no log". PostgreSQL is measured
when a server answers at CONSENT_TEST_POSTGRES (default: the one `make postgres` starts).

Then the same decisions over real HTTP: the site under uvicorn on loopback, without a log
and with the SQLite log, driven by wrk (Debian's `wrk`, a C load generator) with as many
connections as decisions in flight above, in alternating runs; a Lua script counts every
answer that is not 200, and the database must hold a receipt for every 200.

Target: the SQLite log costs under 20% of the throughput without a log, over HTTP (what a
site gets); in-process, the log's cost is set against the middleware alone and is printed
beside it. For scale, a third measure has each visitor decide once and then view ten pages.
Run with `make bench` (add `--quick` for a short run, `--check` to exit 1 on a miss).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Scope

from consent import ConsentMiddleware, load_policy
from consent.receipts import ConsentLog, PostgresConsentLog, SQLiteConsentLog

ROOT = Path(__file__).resolve().parent.parent
POLICY = load_policy(ROOT / "examples" / "consent.toml")
KEY = "benchmark-secret-key-0123456789abcdef"
BODY = json.dumps({"action": "accept_all"}).encode()
VIEWS = 10  # page views per decision in the mixed measure
sys.path.insert(0, str(ROOT))
from tests.servers import uvicorn_process  # noqa: E402

POSTGRES = os.environ.get(
    "CONSENT_TEST_POSTGRES", "postgresql://consent:consent@127.0.0.1:5432/consent_test"
)


def app(log: ConsentLog | None) -> ASGIApp:
    home = Route("/", lambda request: PlainTextResponse("home"))
    return ConsentMiddleware(Starlette(routes=[home]), policy=POLICY, secret_key=KEY, log=log)


def scope() -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/consent",
        "raw_path": b"/consent",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"origin", b"http://127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
            (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def receive() -> Message:
    return {"type": "http.request", "body": BODY, "more_body": False}


async def decide(target: ASGIApp) -> int:
    status = 0

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await target(scope(), receive, send)
    return status


async def measure(target: ASGIApp, n: int, concurrency: int) -> float:
    """Decisions per second, `concurrency` of them in flight at a time."""

    async def worker(count: int) -> None:
        for _ in range(count):
            if await decide(target) != 200:
                raise SystemExit("a decision was not recorded: the benchmark is invalid")

    start = time.perf_counter()
    await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
    return (n // concurrency * concurrency) / (time.perf_counter() - start)


def view_scope(cookie: bytes) -> Scope:
    """A page view (GET /) carrying the consent cookie a decision set."""
    return {
        **scope(),
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"cookie", cookie)],
    }


async def visits(target: ASGIApp, n: int, concurrency: int, views: int) -> float:
    """Requests per second when each visitor decides once, then views `views` pages."""

    async def visitor(count: int) -> None:
        for _ in range(count):
            cookie = b""

            async def send(message: Message) -> None:
                nonlocal cookie
                if message["type"] == "http.response.start":
                    if message["status"] != 200:
                        raise SystemExit("a request failed: the benchmark is invalid")
                    for key, value in message["headers"]:
                        if key == b"set-cookie" and value.startswith(b"consent="):
                            cookie = value.split(b";", 1)[0]

            await target(scope(), receive, send)
            if not cookie:
                raise SystemExit("a decision set no cookie: the benchmark is invalid")
            for _ in range(views):
                await target(view_scope(cookie), receive, send)

    start = time.perf_counter()
    await asyncio.gather(*(visitor(n // concurrency) for _ in range(concurrency)))
    return (n // concurrency * concurrency) * (1 + views) / (time.perf_counter() - start)


async def run(rounds: int, n: int, concurrency: int, folder: Path) -> dict[str, float]:
    logs: dict[str, ConsentLog | None] = {
        "no log": None,
        "SQLite (synchronous=normal)": SQLiteConsentLog(folder / "normal.db"),
        "SQLite (synchronous=full)": SQLiteConsentLog(folder / "full.db", synchronous="full"),
    }
    schema = _postgres_schema()
    if schema is not None:
        logs["PostgreSQL"] = PostgresConsentLog(_postgres_dsn(schema), max_connections=16)
    targets = {name: app(log) for name, log in logs.items()}
    visitors = max(n // 10, concurrency)  # in the mixed measure: at least one per worker
    for target in targets.values():
        await measure(target, min(n, 400), concurrency)  # warm-up: tables, pools, caches
    samples: dict[str, list[float]] = {name: [] for name in targets}
    mixed = {name: targets[name] for name in ("no log", "SQLite (synchronous=normal)")}
    for name in mixed:
        samples[f"{name}, mix"] = []
    for _ in range(rounds):
        for name, target in targets.items():
            samples[name].append(await measure(target, n, concurrency))
        for name, target in mixed.items():
            samples[f"{name}, mix"].append(await visits(target, visitors, concurrency, VIEWS))
    for log in logs.values():
        if log is not None:
            await log.aclose()
    # Every answered decision must have its receipt, or the figures mean nothing.
    written = rounds * (n // concurrency * concurrency) + min(n, 400) // concurrency * concurrency
    for file in ("normal.db", "full.db"):
        expected = written + (
            rounds * (visitors // concurrency * concurrency) if file == "normal.db" else 0
        )
        with sqlite3.connect(folder / file) as db:
            (count,) = db.execute("SELECT count(*) FROM consent_receipts").fetchone()
        if count != expected:
            raise SystemExit(f"{file}: {count} receipts for {expected} decisions")
    if schema is not None:
        count = _postgres_count(schema)
        _postgres_drop(schema)
        if count != written:
            raise SystemExit(f"PostgreSQL: {count} receipts for {written} decisions")
    return {name: statistics.median(values) for name, values in samples.items()}


# wrk sends the decision over and over; this script counts answers other than 200.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"action": "accept_all"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = os.getenv("BENCH_ORIGIN")
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body) if status ~= 200 then bad = bad + 1 end end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("BENCH_RESULT %d %d %d %f\\n", summary.requests, b,
    e.connect + e.read + e.write + e.timeout, summary.duration / 1e6))
end
"""
HTTP_SITES = {
    "no log": "benchmarks.load_app:decisions_without_log",
    "SQLite (synchronous=normal)": "benchmarks.load_app:decisions_with_log",
    "PostgreSQL": "benchmarks.load_app:decisions_with_log",
}


def over_http(rounds: int, seconds: int, connections: int, folder: Path) -> dict[str, float]:
    """Decisions per second over HTTP (median of `rounds` wrk runs per site, alternating),
    or {} without wrk; PostgreSQL only when a server answers. Every answer must be a 200
    with its receipt stored."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return {}
    script = folder / "decide.lua"
    script.write_text(WRK_SCRIPT)
    databases = {
        "no log": str(folder / "unused.db"),
        "SQLite (synchronous=normal)": str(folder / "http.db"),
    }
    schema = _postgres_schema()
    if schema is not None:
        databases["PostgreSQL"] = _postgres_dsn(schema)
    samples: dict[str, list[float]] = {name: [] for name in databases}
    answered = dict.fromkeys(databases, 0)
    try:
        with contextlib.ExitStack() as stack:
            urls = {
                name: stack.enter_context(uvicorn_process(HTTP_SITES[name], CONSENT_LOAD_DB=db))[0]
                for name, db in databases.items()
            }
            for round in range(rounds + 1):  # the first round warms the servers up, untimed
                for name, url in urls.items():
                    command = [wrk, "-t1", f"-c{connections}", f"-d{1 if round == 0 else seconds}s"]
                    done = subprocess.run(
                        [*command, "-s", str(script), f"{url}/consent"],
                        capture_output=True,
                        text=True,
                        check=True,
                        env={**os.environ, "BENCH_ORIGIN": url},
                    )
                    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH_RESULT"))
                    requests, bad, errors, duration = line.split()[1:]
                    if int(bad) or int(errors):
                        raise SystemExit(
                            f"{name} over HTTP: {bad} answers not 200, {errors} errors"
                        )
                    answered[name] += int(requests)
                    if round:
                        samples[name].append(int(requests) / float(duration))
        # wrk counts the answers it read; a receipt is stored before its answer is sent.
        with sqlite3.connect(databases["SQLite (synchronous=normal)"]) as conn:
            (count,) = conn.execute("SELECT count(*) FROM consent_receipts").fetchone()
        _check_receipts("SQLite", count, answered["SQLite (synchronous=normal)"])
        if schema is not None:
            _check_receipts("PostgreSQL", _postgres_count(schema), answered["PostgreSQL"])
    finally:
        if schema is not None:
            _postgres_drop(schema)
    return {f"{name}, HTTP": statistics.median(values) for name, values in samples.items()}


def _check_receipts(store: str, count: int, answered: int) -> None:
    if count < answered:
        raise SystemExit(f"{store} over HTTP: {count} receipts for {answered} answered decisions")


def _postgres_schema() -> str | None:
    """A new, empty schema on the PostgreSQL server, or None when none answers."""
    import psycopg

    schema = f"bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(POSTGRES, connect_timeout=2, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.Error:
        return None
    return schema


def _postgres_dsn(schema: str) -> str:
    """The server's DSN, with `schema` as the one its tables are made and found in."""
    return f"{POSTGRES}?options=-csearch_path%3D{schema}"


def _postgres_count(schema: str) -> int:
    import psycopg

    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {schema}.consent_receipts").fetchone()
    return int(row[0]) if row else 0


def _postgres_drop(schema: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def report(results: dict[str, float], concurrency: int) -> bool:
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"starlette {version('starlette')}, asgi-consent {version('asgi-consent')}; "
        f"{concurrency} decisions in flight"
    )
    base = results["no log"]
    print("in-process (the log's cost against the middleware alone):")
    print(f"{'configuration':30} {'decisions/s':>12} {'x no log':>9}")
    for name, value in results.items():
        if not name.endswith((", mix", ", HTTP")):
            print(f"{name:30} {value:12.0f} {value / base:9.2f}")
    http = "no log, HTTP" in results
    if http:
        print(f"over HTTP, uvicorn and wrk, {concurrency} connections (the target's measure):")
        print(f"{'configuration':30} {'decisions/s':>12} {'x no log':>9}")
        for name in HTTP_SITES:
            if f"{name}, HTTP" in results:
                value = results[f"{name}, HTTP"]
                print(f"{name:30} {value:12.0f} {value / results['no log, HTTP']:9.2f}")
    mix = results["no log, mix"]
    print(f"each visitor deciding once, then viewing {VIEWS} pages (not the target's measure):")
    print(f"{'configuration':30} {'requests/s':>12} {'x no log':>9}")
    for name in ("no log, mix", "SQLite (synchronous=normal), mix"):
        print(f"{name:30} {results[name]:12.0f} {results[name] / mix:9.2f}")
    if "PostgreSQL" not in results:
        print("(PostgreSQL not measured: no server at CONSENT_TEST_POSTGRES; `make postgres`)")
    if http:
        ok = results["SQLite (synchronous=normal), HTTP"] >= 0.8 * results["no log, HTTP"]
        where = "over HTTP"
    else:
        print("(HTTP not measured: wrk is not installed; apt-get install wrk)")
        ok = results["SQLite (synchronous=normal)"] >= 0.8 * base
        where = "in-process, as wrk is missing"
    print(f"{'PASS' if ok else 'FAIL'}: the SQLite log costs under 20% of the throughput ({where})")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer decisions (a smoke run)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    # (A smoke run proves only that every store answers every decision: a second of wrk
    # per configuration does.)
    rounds, n = (2, 200) if args.quick else (7, 4000)
    http_rounds, seconds = (1, 1) if args.quick else (5, 5)
    with tempfile.TemporaryDirectory(prefix="bench-receipts-") as folder:
        results: dict[str, Any] = asyncio.run(run(rounds, n, args.concurrency, Path(folder)))
        results.update(over_http(http_rounds, seconds, args.concurrency, Path(folder)))
    ok = report(results, args.concurrency)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
