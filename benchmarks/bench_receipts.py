"""Decisions per second through ConsentMiddleware with no log, SQLite and PostgreSQL.

In-process ASGI calls of `POST /consent` (JSON, accept all), several decisions in flight at
once as on a busy server, every configuration measured in the same run in interleaved
rounds; the median round is reported, with the ratio to "no log". PostgreSQL is measured
when a server answers at CONSENT_TEST_POSTGRES (default: the one `make postgres` starts).

Target: the SQLite log costs under 20% of the throughput without a log. For scale, a second
measure (not the target's) has each visitor decide once and then view ten pages.
Run with `make bench` (add `--quick` for a short run, `--check` to exit 1 on a miss).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import sqlite3
import statistics
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


async def postgres_log() -> PostgresConsentLog | None:
    import psycopg

    try:
        psycopg.connect(POSTGRES, connect_timeout=2).close()
    except psycopg.Error:
        return None
    schema = f"bench_{secrets.token_hex(4)}"
    async with await psycopg.AsyncConnection.connect(POSTGRES, autocommit=True) as conn:
        await conn.execute(f"CREATE SCHEMA {schema}")
    return PostgresConsentLog(f"{POSTGRES}?options=-csearch_path%3D{schema}", max_connections=16)


async def drop_schema(log: PostgresConsentLog) -> None:
    import psycopg

    schema = log._dsn.rsplit("%3D", 1)[1]
    async with await psycopg.AsyncConnection.connect(POSTGRES, autocommit=True) as conn:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")


async def run(rounds: int, n: int, concurrency: int, folder: Path) -> dict[str, float]:
    logs: dict[str, ConsentLog | None] = {
        "no log": None,
        "SQLite (synchronous=normal)": SQLiteConsentLog(folder / "normal.db"),
        "SQLite (synchronous=full)": SQLiteConsentLog(folder / "full.db", synchronous="full"),
    }
    pg = await postgres_log()
    if pg is not None:
        logs["PostgreSQL"] = pg
    targets = {name: app(log) for name, log in logs.items()}
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
            samples[f"{name}, mix"].append(await visits(target, n // 10, concurrency, VIEWS))
    for log in logs.values():
        if log is not None:
            await log.aclose()
    # Every answered decision must have its receipt, or the figures mean nothing.
    written = rounds * (n // concurrency * concurrency) + min(n, 400) // concurrency * concurrency
    for file in ("normal.db", "full.db"):
        expected = written + (
            rounds * (n // 10 // concurrency * concurrency) if file == "normal.db" else 0
        )
        with sqlite3.connect(folder / file) as db:
            (count,) = db.execute("SELECT count(*) FROM consent_receipts").fetchone()
        if count != expected:
            raise SystemExit(f"{file}: {count} receipts for {expected} decisions")
    if pg is not None:
        await drop_schema(pg)
    return {name: statistics.median(values) for name, values in samples.items()}


def report(results: dict[str, float], concurrency: int) -> bool:
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"starlette {version('starlette')}, asgi-consent {version('asgi-consent')}; "
        f"{concurrency} decisions in flight"
    )
    base = results["no log"]
    print(f"{'configuration':30} {'decisions/s':>12} {'x no log':>9}")
    for name, value in results.items():
        if not name.endswith(", mix"):
            print(f"{name:30} {value:12.0f} {value / base:9.2f}")
    mix = results["no log, mix"]
    print(f"each visitor deciding once, then viewing {VIEWS} pages (not the target's measure):")
    print(f"{'configuration':30} {'requests/s':>12} {'x no log':>9}")
    for name in ("no log, mix", "SQLite (synchronous=normal), mix"):
        print(f"{name:30} {results[name]:12.0f} {results[name] / mix:9.2f}")
    if "PostgreSQL" not in results:
        print("(PostgreSQL not measured: no server at CONSENT_TEST_POSTGRES; `make postgres`)")
    ok = results["SQLite (synchronous=normal)"] >= 0.8 * base
    print(f"{'PASS' if ok else 'FAIL'}: the SQLite log costs under 20% of the throughput")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer decisions (a smoke run)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    rounds, n = (3, 400) if args.quick else (7, 4000)
    with tempfile.TemporaryDirectory(prefix="bench-receipts-") as folder:
        results: dict[str, Any] = asyncio.run(run(rounds, n, args.concurrency, Path(folder)))
    ok = report(results, args.concurrency)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
