"""Load through a real server: the load site under uvicorn on loopback, driven from a
separate process by many concurrent visitors, with and without ConsentMiddleware in the
same run, and the example site (`make demo`: templates and the SQLite consent log).

Each visitor loops: a first visit (no cookie), a decision (accept all, reject all or a
partial save, as JSON), three page views with the consent cookie, and now and then a
withdrawal followed by a page view. With the middleware, every page is checked against
the visitor's last decision (statistics script active or inert): a mismatch is a wrong
state. Errors are failed requests and unexpected statuses. Both must be 0.

Then wrk (Debian's `wrk`, a C load generator, when installed) requests an article with an
"accept all" cookie as fast as the server answers, and a Lua script checks every answer.

    python benchmarks/load.py [--duration 60] [--visitors 32] [--rounds N] [--json] [--check]

`make load` runs it for a minute per configuration; the test suite runs a short variant
with `--rounds`: each visitor makes that many rounds of the loop above, whatever the time
they take, so that the number of requests does not depend on how busy the machine is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import uvicorn_process  # noqa: E402

CONFIGS = {
    "without ConsentMiddleware": "benchmarks.load_app:without_consent",
    "with ConsentMiddleware": "benchmarks.load_app:with_consent",
    # The example site as `make demo` serves it: Jinja2 templates, the SQLite consent log.
    "example app": "examples.app:app",
}
# The example site's articles (the load site answers any slug).
ARTICLES = ("india-japan-vision", "battery-supply-chains")
ACTIVE = '<script data-consent="matomo" src="/static/analytics.js"></script>'
INERT = '<script data-consent="matomo" src="/static/analytics.js" type="text/plain"></script>'
DECISIONS: list[tuple[dict[str, Any], bool]] = [
    ({"action": "accept_all"}, True),
    ({"action": "reject_all"}, False),
    ({"action": "save", "grant": ["analytics"]}, True),
    ({"action": "save", "grant": ["youtube"]}, False),
]


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.wrong = 0


async def visitor(
    url: str, seed: int, deadline: float, rounds: int | None, check: bool, tally: Tally
) -> None:
    """One visitor's loop, until `deadline` (time.monotonic) or for `rounds` rounds."""
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:

        async def call(method: str, path: str, expect: int, **options: Any) -> str:
            start = time.perf_counter()
            try:
                response = await client.request(method, path, **options)
            except httpx.HTTPError as exc:
                tally.errors.append(f"{method} {path}: {type(exc).__name__}")
                return ""
            tally.latencies.append(time.perf_counter() - start)
            if response.status_code != expect:
                tally.errors.append(f"{method} {path}: {response.status_code}")
            return response.text

        def verify(html: str, allowed: bool) -> None:
            if check and html and (ACTIVE if allowed else INERT) not in html:
                tally.wrong += 1

        done = 0
        while done < rounds if rounds is not None else time.monotonic() < deadline:
            done += 1
            client.cookies.clear()
            verify(await call("GET", "/", 200), False)  # first visit: nothing optional
            body, allowed = rng.choice(DECISIONS)
            await call("POST", "/consent", 200, json=body)
            for n in range(3):
                verify(await call("GET", f"/articles/{ARTICLES[n % 2]}", 200), allowed)
            if rng.random() < 0.3:  # withdrawal
                await call("POST", "/consent", 200, json={"action": "reject_all"})
                verify(await call("GET", "/", 200), False)


def client_main(
    url: str, duration: float, rounds: int | None, visitors: int, check: bool
) -> dict[str, Any]:
    tally = Tally()

    async def run() -> float:
        start = time.perf_counter()
        deadline = time.monotonic() + duration
        await asyncio.gather(
            *(visitor(url, seed, deadline, rounds, check, tally) for seed in range(visitors))
        )
        return time.perf_counter() - start

    elapsed = asyncio.run(run())
    latencies = sorted(tally.latencies)

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(0.50) if latencies else 0.0,
        "p99_ms": percentile(0.99) if latencies else 0.0,
        "errors": len(tally.errors),
        "error_samples": tally.errors[:5],
        "wrong_states": tally.wrong,
    }


def log_env(folder: str) -> dict[str, str]:
    """Each server's consent log in a fresh file of its own."""
    return {"CONSENT_DB": f"{folder}/example.db", "CONSENT_LOAD_DB": f"{folder}/load.db"}


def run_config(
    app: str, duration: float, rounds: int | None, visitors: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Serve `app` under uvicorn, drive it from a separate client process (the mixed
    load), then with wrk (page views; None without wrk), on the same server."""
    with tempfile.TemporaryDirectory() as tmp, uvicorn_process(app, **log_env(tmp)) as (url, _):
        return mixed_load(app, url, duration, rounds, visitors), run_wrk(
            app, url, Path(tmp), duration, visitors
        )


def mixed_load(
    app: str, url: str, duration: float, rounds: int | None, visitors: int
) -> dict[str, Any]:
    """Visitors deciding, reading and withdrawing, from a separate client process."""
    check = "without" not in app
    command = [
        sys.executable,
        __file__,
        "--client",
        url,
        "--duration",
        str(duration),
        "--visitors",
        str(visitors),
    ]
    if rounds is not None:
        command += ["--rounds", str(rounds)]
    if check:
        command.append("--check-states")
    done = subprocess.run(command, capture_output=True, text=True, check=True, env={**os.environ})
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# Page views at full speed: wrk (a C load generator, Debian's package `wrk`) requests one
# article with a consent cookie over and over; this script checks every answer.
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) wrong = 0; bad = 0; expected = os.getenv("LOAD_EXPECT") end
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1
  elseif not string.find(body, expected, 1, true) then wrong = wrong + 1 end
end
function done(summary, latency, requests)
  local w, b = 0, 0
  for _, t in ipairs(threads) do w = w + t:get("wrong"); b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("LOAD_RESULT %d %d %d %d %f %f %f\\n", summary.requests, w, b,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.duration / 1e6))
end
"""


def run_wrk(
    app: str, url: str, tmp: Path, duration: float, connections: int
) -> dict[str, Any] | None:
    """Page views with an "accept all" consent cookie, driven by wrk; None without wrk."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    answer = httpx.post(f"{url}/consent", json={"action": "accept_all"})
    cookie = answer.cookies.get("consent") or "none"  # the plain endpoint sets none
    script = tmp / "check.lua"
    script.write_text(WRK_SCRIPT)
    expect = INERT if "without" in app else ACTIVE
    command = [wrk, "-t2", f"-c{connections}", f"-d{max(1, round(duration))}s"]
    command += [
        "-H",
        f"Cookie: consent={cookie}",
        "-s",
        str(script),
        f"{url}/articles/{ARTICLES[0]}",
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LOAD_EXPECT": expect},
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("LOAD_RESULT"))
    requests, wrong, bad, errors, p50, p99, seconds = line.split()[1:]
    return {
        "requests": int(requests),
        "requests_per_s": int(requests) / float(seconds),
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "errors": int(bad) + int(errors),
        "wrong_states": int(wrong),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per configuration")
    parser.add_argument("--visitors", type=int, default=32, help="concurrent visitors")
    parser.add_argument(
        "--rounds", type=int, help="rounds per visitor instead of --duration (not for wrk)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 on any error or wrong state")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--check-states", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:  # the load-generating process
        result = client_main(
            args.client, args.duration, args.rounds, args.visitors, args.check_states
        )
        print(json.dumps(result))
        return 0
    runs = {
        name: run_config(app, args.duration, args.rounds, args.visitors)
        for name, app in CONFIGS.items()
    }
    results = {name: mixed for name, (mixed, _) in runs.items()}
    views = {name: view for name, (_, view) in runs.items()}
    if args.json:
        print(json.dumps({"mixed": results, "page_views": views}, indent=2))
    else:
        print(
            f"Python {platform.python_version()}, uvicorn {version('uvicorn')}, "
            f"httpx {version('httpx')}; {args.visitors} visitors, {args.duration:g} s each"
        )
        heads = ("req/s", "p50 ms", "p99 ms", "errors", "wrong")
        print(f"{'configuration':28} " + " ".join(f"{h:>8}" for h in heads))
        for name, r in results.items():
            print(
                f"{name:28} {r['requests_per_s']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                f"{r['errors']:8d} {r['wrong_states']:8d}"
            )
        base, full, _ = results.values()
        ratio = full["requests_per_s"] / base["requests_per_s"]
        print(f"throughput with the middleware: {ratio:.2f}x")
        print(f"\npage views with a consent cookie (wrk, {args.visitors} connections)")
        if None in views.values():
            print("  skipped: wrk is not installed (apt-get install wrk)")
        else:
            print(f"{'configuration':28} " + " ".join(f"{h:>8}" for h in heads))
            for name, view in views.items():
                assert view is not None
                print(
                    f"{name:28} {view['requests_per_s']:8.0f} {view['p50_ms']:8.2f} "
                    f"{view['p99_ms']:8.2f} {view['errors']:8d} {view['wrong_states']:8d}"
                )
            plain, gated, _ = views.values()
            assert plain is not None and gated is not None
            ratio = gated["requests_per_s"] / plain["requests_per_s"]
            print(f"throughput with the middleware: {ratio:.2f}x")
    checked = [*results.values(), *(v for v in views.values() if v is not None)]
    bad = any(r["errors"] or r["wrong_states"] for r in checked)
    return 1 if args.check and bad else 0


if __name__ == "__main__":
    sys.exit(main())
