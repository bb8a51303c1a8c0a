"""What the HTML gate and the Set-Cookie filter cost, measured side by side in one run.

* HTMLGate throughput (MB/s) and peak memory on a realistic 100 KB page (about 20 gated
  scripts and iframes) and a 2 MB page, fed in 4 KiB chunks as a server streams them;
* the same pages parsed and re-serialized with selectolax (lexbor), the fastest HTML parser a
  user would reach for;
* the time Jinja2 takes to render the 100 KB page;
* ConsentMiddleware's overhead on a response that sets three cookies.

Run with `.venv/bin/python benchmarks/bench_gating.py` (`--quick` for a short run).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

from jinja2 import Environment
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent import ConsentMiddleware, load_policy
from consent.gating import HTMLGate, host_matcher

try:
    from selectolax.lexbor import LexborHTMLParser

    HAVE_SELECTOLAX = True
except ImportError:  # the benchmark says so and carries on
    HAVE_SELECTOLAX = False

ROOT = Path(__file__).resolve().parent.parent
POLICY = load_policy(ROOT / "examples" / "consent.toml")
ALLOWED = {"essential", "php-session", "wordpress"}
HOSTS = host_matcher({"www.googletagmanager.com": "google-analytics", "*.youtube.com": "youtube"})

PAGE = Environment(autoescape=True).from_string(
    (Path(__file__).parent / "page.html.j2").read_text()
)


def articles(count: int) -> list[dict[str, object]]:
    text = "The two governments adopted a joint vision with eight directions. " * 3
    return [
        {"id": i, "title": f"Story number {i} about partnerships", "text": text}
        for i in range(count)
    ]


def render(count: int) -> bytes:
    return PAGE.render(title="Top stories", articles=articles(count)).encode()


def best(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gate(page: bytes, chunk: int = 4096) -> bytes:
    g = HTMLGate(lambda i: i in ALLOWED, HOSTS)
    out = [g.feed(page[i : i + chunk]) for i in range(0, len(page), chunk)]
    out.append(g.close())
    return b"".join(out)


def peak_memory(page: bytes, chunk: int = 4096) -> int:
    """Peak memory the gate itself holds while streaming (output is sent on, not kept)."""
    chunks = [page[i : i + chunk] for i in range(0, len(page), chunk)]
    g = HTMLGate(lambda i: i in ALLOWED, HOSTS)
    tracemalloc.start()
    for part in chunks:
        g.feed(part)
    g.close()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def selectolax_round_trip(page: bytes) -> str:
    return str(LexborHTMLParser(page).html)


def report_pages(rounds: int) -> None:
    small_count = 1
    while len(render(small_count)) < 100_000:
        small_count += 10
    pages = {"100 KB": render(small_count), "2 MB": render(small_count * 20)}
    gated = gate(pages["100 KB"])
    assert gated.count(b'type="text/plain"') >= 10 and gated.count(b"data-consent-src") >= 5
    columns = ("page", "gate MB/s", "gate ms", "peak KiB", "selectolax ms", "x faster")
    print("{:8} {:>10} {:>8} {:>9} {:>14} {:>9}".format(*columns))
    for name, page in pages.items():
        seconds = best(partial(gate, page), rounds)
        size = len(page) / 1e6
        line = (
            f"{name:8} {size / seconds:10.1f} {seconds * 1000:8.2f} {peak_memory(page) / 1024:9.0f}"
        )
        if HAVE_SELECTOLAX:
            lexbor = best(partial(selectolax_round_trip, page), rounds)
            line += f" {lexbor * 1000:14.2f} {lexbor / seconds:9.2f}"
        else:
            line += f" {'(selectolax not installed)':>24}"
        print(line)
    render_s = best(lambda: render(small_count), rounds)
    gate_s = best(lambda: gate(pages["100 KB"]), rounds)
    print(
        f"Jinja2 render of the 100 KB page: {render_s * 1000:.2f} ms; the gate adds "
        f"{gate_s / render_s:.0%} of it"
    )


async def _cookie_overhead(n: int, rounds: int) -> tuple[float, float]:
    headers = [
        (b"content-type", b"text/plain"),
        (b"set-cookie", b"PHPSESSID=abc; Path=/; HttpOnly"),
        (b"set-cookie", b"_ga=GA1.1.1; Path=/; Max-Age=34000000"),
        (b"set-cookie", b"YSC=v; Path=/"),
    ]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"ok"})

    wrapped = ConsentMiddleware(app, policy=POLICY, secret_key="k" * 40)

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        pass

    def scope() -> Scope:
        return {
            "type": "http",
            "method": "GET",
            "path": "/",
            "root_path": "",
            "scheme": "http",
            "headers": [(b"host", b"x")],
        }

    async def timed(target: ASGIApp) -> float:
        samples = []
        for _ in range(rounds):
            start = time.perf_counter_ns()
            for _ in range(n):
                await target(scope(), receive, send)
            samples.append((time.perf_counter_ns() - start) / n / 1000)
        return statistics.median(samples)

    return await timed(app), await timed(wrapped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else 15
    report_pages(rounds)
    bare, filtered = asyncio.run(_cookie_overhead(2000 if args.quick else 20000, rounds))
    print(
        f"A response setting 3 cookies: {bare:.2f} us bare, {filtered:.2f} us with "
        f"ConsentMiddleware filtering them (+{filtered - bare:.2f} us)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
