"""What the HTML gate and the Set-Cookie filter cost, measured side by side in one run.

* HTMLGate throughput (MB/s) and peak memory on a realistic 100 KB page (about 20 gated
  scripts and iframes) and a 2 MB page, fed in 4 KiB chunks as a server streams them;
* the same pages parsed and re-serialized with selectolax (lexbor), the fastest HTML parser a
  user would reach for;
* the time Jinja2 takes to render the 100 KB page;
* the gate on the 100 KB page the first time it sees its tags ("cold"): the gate remembers
  how it read each script and iframe tag (and each URL it looked up) for the next page, and
  the other figures are those of a site serving the same pages again;
* ConsentMiddleware's overhead on a response that sets three cookies;
* an image-heavy page of about 100 KB (`images`), whose images the gate reads and leaves;
* the gate on adversarial pages (`ADVERSARIAL`: the fallback mode with many candidate tags,
  huge tags, attribute values and comments fed in 1 KiB chunks, ...), each as a ratio to the
  100 KB page's throughput in the same run against the target of at least 0.25 x, and, when
  the tests are importable, how the gate's work grows with such a page: counted, not timed
  (tests/gating_work.py), for a page four times as long (about 4 x if linear, 16 x if
  quadratic).

With valgrind installed (and not `--quick`, unless `--instructions`), it first reports
instruction counts under callgrind (`benchmarks/callgrind.py`): the 100 KB page streamed with
a warm and a cold memory of tags, per byte against their targets, a dense 6.6 KB article and
a tiny page through `GatedPage` (the fixed cost of an HTML response).

Every figure is the median over `--repeat` runs (5; 1 with `--quick`) of the best of a
number of rounds, all measured in the same process, so the ratios compare like with like.
When the tests are importable, the tag-by-tag gate they keep as the reference
(tests/gating_reference.py, the gate without its fast path) is measured too.

Run with `.venv/bin/python benchmarks/bench_gating.py` (`--quick` for a short run).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent import ConsentMiddleware, load_policy
from consent._mime import parse_mime
from consent.gating import Allows, Gatekeeper, HostLookup, HTMLGate, host_matcher
from consent.html_body import GatedPage

try:
    from selectolax.lexbor import LexborHTMLParser

    HAVE_SELECTOLAX = True
except ImportError:  # the benchmark says so and carries on
    HAVE_SELECTOLAX = False

# Run as a script, the checkout is not on the path: the helpers in benchmarks/ need it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import callgrind

ROOT = Path(__file__).resolve().parent.parent


class Gate(Protocol):
    def feed(self, chunk: bytes) -> bytes: ...
    def close(self) -> bytes: ...


def _test_module(name: str) -> Any:
    """A helper module of the tests (None: not run from a checkout)."""
    path = ROOT / "tests" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None or not path.is_file():
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # a dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def _reference_gate() -> Callable[[Allows, HostLookup], Gate] | None:
    """The gate without its fast path, which the tests keep as their reference."""
    module = _test_module("gating_reference")
    if module is None:
        return None  # not run from a checkout: no "tag by tag" column
    gate_class: Callable[[Allows, HostLookup], Gate] = module.HTMLGate
    return gate_class


BEFORE = _reference_gate()
WORK = _test_module("gating_work")  # the deterministic count of the gate's work
POLICY = load_policy(ROOT / "examples" / "consent.toml")
ALLOWED = {"essential", "php-session", "wordpress"}
DECLARED = {"www.googletagmanager.com": "google-analytics", "*.youtube.com": "youtube"}
HOSTS = host_matcher(DECLARED)
SITE = Gatekeeper(DECLARED)  # what a site's gates share: the memory of its tags

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


def images(size: int = 100_000) -> bytes:
    """An image-heavy page of about `size` bytes (a gallery or a photo-led front page): its
    own images, in <figure> and in <picture> with sources, which the gate must look at
    (any of them could come from a declared host) and leave as they are."""
    parts = [b"<!doctype html><html><head><title>Photos</title></head><body><main>"]
    n = 0
    while sum(map(len, parts)) < size:
        parts.append(
            b'<figure><img src="/img/%d.jpg" alt="Photo %d" width="640" height="360">'
            b"<figcaption>Photo %d of the day</figcaption></figure>"
            b'<picture><source srcset="/img/%d.avif 1x, /img/%d@2x.avif 2x" type="image/avif">'
            b'<source srcset="/img/%d.webp" type="image/webp">'
            b'<img src="/img/%d.jpg" alt=""></picture>' % (n, n, n, n, n, n, n)
        )
        n += 1
    parts.append(b"</main></body></html>")
    return b"".join(parts)


def dense(size: int = 6_500) -> bytes:
    """A short article of about `size` bytes with a dense head (meta tags, preloads,
    stylesheets, consent-gated and plain scripts, JSON-LD), an inline SVG logo and an
    embedded video: the page whose fixed cost per response matters more than streaming."""
    head = (
        b'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        b'<meta name="viewport" content="width=device-width, initial-scale=1">'
        b"<title>A short article</title>"
        b'<meta name="description" content="What the council decided about the new park.">'
        b'<meta property="og:title" content="A short article">'
        b'<meta property="og:image" content="https://example.org/img/park.jpg">'
        b'<link rel="canonical" href="https://example.org/news/park">'
        b'<link rel="preconnect" href="https://fonts.example.org">'
        b'<link rel="preload" href="/fonts/serif.woff2" as="font" crossorigin>'
        b'<link rel="stylesheet" href="/css/site.css">'
        b'<link rel="icon" href="/favicon.svg" type="image/svg+xml">'
        b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
        b'<script data-consent="google-analytics">window.dataLayer=[];</script>'
        b'<script src="/js/site.js" defer></script>'
        b'<script type="application/ld+json">{"@context":"https://schema.org",'
        b'"@type":"NewsArticle","headline":"A short article","datePublished":"2026-12-01",'
        b'"author":{"@type":"Person","name":"A. Writer"}}</script>'
        b"<style>body{font-family:serif}.logo{width:2em}</style></head><body>"
        b'<header><a href="/"><svg class="logo" viewBox="0 0 24 24" aria-hidden="true">'
        b'<title>Home</title><path d="M3 12l9-9 9 9v9h-6v-6H9v6H3z"/>'
        b'<circle cx="12" cy="8" r="2"/></svg></a><nav><ul>'
        + b"".join(b'<li><a href="/s/%d">Section %d</a></li>' % (n, n) for n in range(6))
        + b"</ul></nav></header><main><article><h1>A short article</h1>"
    )
    paragraph = (
        b"<p>The council adopted the plan for the new park after a long debate, with "
        b'<a href="/news/park/vote">the vote</a> and <em>three</em> amendments.</p>'
    )
    video = (
        b'<iframe src="https://www.youtube.com/embed/x" title="Video" width="560" '
        b'height="315" allowfullscreen></iframe>'
    )
    tail = b"</article></main><footer><p>&copy; Example</p></footer></body></html>"
    body = [head, paragraph, video]
    while sum(map(len, body)) + len(tail) < size:
        body.append(paragraph)
    return b"".join([*body, tail])


def gated_page(page: bytes) -> bytes:
    """`page` through what a response of the middleware goes through: `GatedPage` (the
    charset sniffing, the head held until it is known) and a gate opened by the site's
    `Gatekeeper`, in one piece."""
    mime = parse_mime("text/html")
    gated = GatedPage(
        "", mime, lambda codec, xml: SITE.open(lambda i: i in ALLOWED, encoding=codec, xml=xml)
    )
    return b"".join(gated.feed(page, True))


def best(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """The best time of each function over `rounds`, the functions taking turns in each
    round: a slow spell of a shared machine then slows all of them, not one."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(samples) for name, samples in times.items()}


def gate(
    page: bytes, chunk: int = 4096, gate_class: Callable[[Allows, HostLookup], Gate] = HTMLGate
) -> bytes:
    if gate_class is HTMLGate:
        g: Gate = SITE.open(lambda i: i in ALLOWED)
    else:
        g = gate_class(lambda i: i in ALLOWED, HOSTS)
    out = [g.feed(page[i : i + chunk]) for i in range(0, len(page), chunk)]
    out.append(g.close())
    return b"".join(out)


def gate_cold(page: bytes, chunk: int = 4096) -> bytes:
    """`gate` the first time: no tag read before, no URL looked up before."""
    g = Gatekeeper(DECLARED).open(lambda i: i in ALLOWED)
    out = [g.feed(page[i : i + chunk]) for i in range(0, len(page), chunk)]
    out.append(g.close())
    return b"".join(out)


def peak_memory(page: bytes, chunk: int = 4096) -> int:
    """Peak memory the gate itself holds while streaming (output is sent on, not kept), on
    a page whose tags it has seen before (what it remembers of them: see `tags_memory`)."""
    chunks = [page[i : i + chunk] for i in range(0, len(page), chunk)]
    gate(page)
    g = SITE.open(lambda i: i in ALLOWED)
    tracemalloc.start()
    for part in chunks:
        g.feed(part)
    g.close()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def tags_memory(page: bytes) -> tuple[int, int]:
    """What the gate remembers of the tags of `page`, read once: (tags, bytes it holds)."""
    tracemalloc.start()
    site = Gatekeeper(DECLARED)
    g = site.open(lambda i: i in ALLOWED)
    for start in range(0, len(page), 4096):
        g.feed(page[start : start + 4096])
    g.close()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return len(site.tags), held


def selectolax_round_trip(page: bytes) -> str:
    return str(LexborHTMLParser(page).html)


def measure_pages(rounds: int) -> dict[str, float]:
    """One run: seconds (best of `rounds`) and peak bytes for each page and baseline."""
    small_count = 1
    while len(render(small_count)) < 100_000:
        small_count += 10
    pages = {"100 KB": render(small_count), "2 MB": render(small_count * 20), "images": images()}
    assert gate(pages["images"]) == pages["images"]  # its own images: nothing changes
    gated = gate(pages["100 KB"])
    assert gated.count(b'type="text/plain"') >= 10 and gated.count(b"data-consent-src") >= 5
    found: dict[str, float] = {}
    for name, page in pages.items():
        found[f"{name} size"] = len(page)
        found[f"{name} peak"] = peak_memory(page)
        found[f"{name} tags"], found[f"{name} tags memory"] = tags_memory(page)
        contenders: dict[str, Callable[[], object]] = {f"{name} gate": partial(gate, page)}
        if name == "100 KB":
            contenders["render"] = partial(render, small_count)
            assert gate_cold(page) == gate(page)
            contenders["cold"] = partial(gate_cold, page)
        if BEFORE is not None:
            assert gate(page, gate_class=BEFORE) == gate(page)  # the same bytes out
            contenders[f"{name} before"] = partial(gate, page, gate_class=BEFORE)
        if HAVE_SELECTOLAX:
            contenders[f"{name} selectolax"] = partial(selectolax_round_trip, page)
        found.update(best(contenders, rounds))
    return found


def report_pages(runs: list[dict[str, float]]) -> None:
    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    columns = ("page", "gate MB/s", "gate ms", "peak KiB", "tag by tag ms", "selectolax ms")
    print("{:8} {:>10} {:>8} {:>9} {:>13} {:>14} {:>9}".format(*columns, "x faster"))
    for name in ("100 KB", "2 MB", "images"):
        seconds = median(f"{name} gate")
        line = (
            f"{name:8} {median(f'{name} size') / 1e6 / seconds:10.1f} {seconds * 1000:8.2f}"
            f" {median(f'{name} peak') / 1024:9.0f}"
        )
        before = f"{median(f'{name} before') * 1000:.2f}" if BEFORE else "-"
        line += f" {before:>13}"
        if HAVE_SELECTOLAX:
            # The ratio per run, then its median: both sides come from the same run.
            ratio = statistics.median(
                run[f"{name} selectolax"] / run[f"{name} gate"] for run in runs
            )
            line += f" {median(f'{name} selectolax') * 1000:14.2f} {ratio:9.2f}"
        else:
            line += f" {'(selectolax not installed)':>24}"
        print(line)
    print(
        "What the gate remembers of the tags it read (for the next page):",
        ", ".join(
            f"{median(f'{name} tags'):.0f} tags, {median(f'{name} tags memory') / 1024:.0f} KiB"
            f" ({name})"
            for name in ("100 KB", "2 MB")
        ),
    )
    share = statistics.median(run["100 KB gate"] / run["render"] for run in runs)
    cold = statistics.median(run["cold"] / run["render"] for run in runs)
    print(
        f"Jinja2 render of the 100 KB page: {median('render') * 1000:.2f} ms; the gate adds "
        f"{share:.0%} of it ({median('cold') * 1000:.2f} ms, {cold:.0%}, the first time it "
        "sees the page's tags)"
    )


# Adversarial pages of about `size` bytes, as an attacker makes them of a page's user text,
# and the chunk size they are fed in. Paranoid mode comes from a stray end tag in SVG.
DOUBT = b"<svg><g></x></g></svg>"
ADVERSARIAL: dict[str, tuple[Callable[[int], bytes], int]] = {
    "fallback, <script in text": (lambda n: DOUBT + b"<p>" + b"x <script " * (n // 10), 4096),
    "fallback, in quotes": (lambda n: DOUBT + b'<script a="' * (n // 11) + b">", 4096),
    "fallback, in a gated tag": (
        lambda n: DOUBT + b"<script data-consent=x title='" + b'<iframe a="' * (n // 11) + b"'>",
        4096,
    ),
    "attribute value": (lambda n: b'<p title="' + b"a" * n + b'">x</p>', 1024),
    "attributes": (lambda n: b"<div " + b"a=b " * (n // 4) + b">x</div>", 1024),
    "end tag": (lambda n: b"</div " + b"a='>' " * (n // 6) + b">", 1024),
    "comment": (lambda n: b"<p>x</p><!--" + b"<script " * (n // 8) + b"-->", 1024),
    "noscript comment": (lambda n: b"<noscript><!--" + b"a" * min(n, 60_000) + b"-->", 1024),
    "comments in values": (lambda n: b'<a title="<!--">x<script>1</script>' * (n // 34), 4096),
    "script dashes": (lambda n: b"<script><!--" + b"-" * n + b"x</script>", 1024),
    "elements in <svg>": (lambda n: b"<svg><foreignObject>" + b"<i>" * (n // 3), 4096),
}
TARGET = 0.25  # of the normal page's throughput


def measure_adversarial(rounds: int, size: int) -> dict[str, float]:
    """One run: seconds (best of `rounds`) for the normal 100 KB page and each adversarial
    page of `size` bytes, taking turns; their sizes; and the work ratio for 4 x the page."""
    count = 1
    while len(render(count)) < 100_000:
        count += 10
    normal = render(count)
    pages = {name: (build(size), chunk) for name, (build, chunk) in ADVERSARIAL.items()}
    contenders: dict[str, Callable[[], object]] = {"normal": partial(gate, normal)}
    found: dict[str, float] = {"normal size": len(normal)}
    for name, (page, chunk) in pages.items():
        if BEFORE is not None:  # the same bytes as the reference, in any chunks
            assert gate(page, chunk) == gate(page, len(page), BEFORE), name
        contenders[name] = partial(gate, page, chunk)
        found[f"{name} size"] = len(page)
        if WORK is not None:
            build, _ = ADVERSARIAL[name]
            small, large = (WORK.work_of(build(n), chunk, lines=False) for n in (4096, 16384))
            found[f"{name} work"] = large / small
    found.update(best(contenders, rounds))
    return found


def report_adversarial(runs: list[dict[str, float]]) -> None:
    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    normal = median("normal size") / 1e6 / median("normal")
    print(
        f"Adversarial pages (the 100 KB page: {normal:.1f} MB/s in this run; "
        f"target: at least {TARGET} x its throughput)"
    )
    columns = ("page", "KiB", "chunk", "MB/s", "x normal", "work x4", "target")
    print("{:26} {:>6} {:>6} {:>8} {:>9} {:>8}  {}".format(*columns))
    for name, (_, chunk) in ADVERSARIAL.items():
        # The ratio per run, then its median: both sides come from the same run.
        ratio = statistics.median(
            (run[f"{name} size"] / run[name]) / (run["normal size"] / run["normal"]) for run in runs
        )
        work = f"{median(f'{name} work'):.2f}" if WORK is not None else "-"
        print(
            f"{name:26} {median(f'{name} size') / 1024:6.0f} {chunk:6}"
            f" {median(f'{name} size') / 1e6 / median(name):8.2f} {ratio:9.3f} {work:>8}"
            f"  {'PASS' if ratio >= TARGET else 'FAIL'}"
        )


# The targets for the gate's instructions per byte of the 100 KB page streamed in 4 KiB
# chunks: with the site's memory of tags warm, and at most 1.5 x that with a cold one.
INSTRUCTIONS_TARGET = 22.0
COLD_TARGET = 1.5 * INSTRUCTIONS_TARGET
_SETUP = """
import sys
sys.path[:0] = [{root!r}]
from benchmarks.bench_gating import SITE, dense, gate, gate_cold, gated_page, render
count = 1
while len(render(count)) < 100_000:
    count += 10
PAGE = render(count)
DENSE = dense()
TINY = b"<!doctype html><p>Hello</p>"
gate(PAGE)  # the site's memory of the page's tags, warm
gated_page(DENSE)
"""


def measure_instructions(quick: bool) -> dict[str, float]:
    """Instructions per run under callgrind (`callgrind.instructions_per_run`: the
    difference between two run lengths, `PYTHONHASHSEED=0`) of the 100 KB page streamed warm
    and cold, the dense article and a tiny page through `GatedPage` and the gate."""
    setup = _SETUP.format(root=str(ROOT))
    runs = 2 if quick else 5
    found = {
        "warm": callgrind.instructions_per_run(setup, "gate(PAGE)", runs),
        "cold": callgrind.instructions_per_run(setup, "gate_cold(PAGE)", runs),
        "dense": callgrind.instructions_per_run(setup, "gated_page(DENSE)", 10 * runs),
        "tiny": callgrind.instructions_per_run(setup, "gated_page(TINY)", 40 * runs),
    }
    count = 1
    while len(render(count)) < 100_000:
        count += 10
    found["size"] = len(render(count))
    found["dense size"] = len(dense())
    return found


def report_instructions(found: dict[str, float]) -> None:
    size = found["size"]
    warm, cold = found["warm"] / size, found["cold"] / size
    print(
        f"Instructions (callgrind, PYTHONHASHSEED=0, the difference between two run lengths):"
        f"\n  the {size / 1000:.0f} KB page in 4 KiB chunks: {warm:.1f} per byte with the "
        f"site's memory of tags warm ({warm / INSTRUCTIONS_TARGET:.2f} x the target of "
        f"{INSTRUCTIONS_TARGET:.0f}: {'PASS' if warm <= INSTRUCTIONS_TARGET else 'FAIL'}), "
        f"{cold:.1f} cold ({cold / warm:.2f} x warm, target 1.5 x: "
        f"{'PASS' if cold <= COLD_TARGET else 'FAIL'})"
        f"\n  a {found['dense size'] / 1000:.1f} KB dense article through GatedPage and the "
        f"gate: {found['dense']:,.0f}; a {len(b'<!doctype html><p>Hello</p>')}-byte page "
        f"(the fixed cost of an HTML response): {found['tiny']:,.0f}"
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
    parser.add_argument("--quick", action="store_true", help="fewer rounds, one run")
    parser.add_argument("--repeat", type=int, help="runs to take the median of (default 5)")
    parser.add_argument(
        "--instructions",
        action=argparse.BooleanOptionalAction,
        help="the callgrind figures (default: unless --quick; they take a few minutes)",
    )
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else 15
    repeat = args.repeat or (1 if args.quick else 5)
    if args.instructions is None:
        args.instructions = not args.quick  # a quick run has no minutes for valgrind
    if not args.instructions or not callgrind.available():
        print("Instructions: not measured (valgrind missing, --quick or --no-instructions)")
    else:
        report_instructions(measure_instructions(args.quick))
    report_pages([measure_pages(rounds) for _ in range(repeat)])
    report_adversarial([measure_adversarial(rounds, 100_000) for _ in range(repeat)])
    n = 2000 if args.quick else 20000
    cookies = [asyncio.run(_cookie_overhead(n, rounds)) for _ in range(repeat)]
    bare = statistics.median(b for b, _ in cookies)
    filtered = statistics.median(f for _, f in cookies)
    print(
        f"A response setting 3 cookies: {bare:.2f} us bare, {filtered:.2f} us with "
        f"ConsentMiddleware filtering them (+{filtered - bare:.2f} us)"
    )
    print(f"(medians of {repeat} run{'s' * (repeat > 1)}, each the best of {rounds} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
