"""Fuzz the HTML gate (`consent.gating.HTMLGate`) for work that grows faster than its input.

For each input the harness builds a page of about 512 bytes by repeating the input (after
an optional prefix that puts the gate where the input's markup matters most: in paranoid
mode, inside <noscript>, inside <svg>), and a page of eight times as many repetitions; it
feeds both in chunks of the size the first byte chooses and counts the work the gate does
on each, deterministically (tests/gating_work.py: the bytes the gate's patterns examine
and the calls it makes, Python or C). Property (an `AssertionError` says which input):

* the work on the large page is at most 16 times the work on the small one, plus 20,000
  units for what does not grow with the page: a linear gate does about 8 times the work,
  a quadratic one about 64 times. CPU time is checked too, with a generous margin (at most
  40 times, plus 0.2 s), for work the count cannot see.

Run: `.venv/bin/python -m fuzz.fuzz_linear [libFuzzer options] [corpus dirs]`.
"""

from __future__ import annotations

import time

from fuzz._common import Reader, run_fuzzer
from tests.gating_work import work_of

__all__ = ["check", "main", "pages"]

CHUNKS = (1, 16, 64, 256, 1024, 1 << 30)
"""Chunk sizes the first byte chooses among (the last: the page in one piece)."""
PREFIXES = (b"", b"<svg><g></x></g></svg>", b"<noscript>", b"<svg>", b"<select>")
"""Where the page starts, the second byte's choice: no prefix, paranoid mode (a stray end
tag in SVG), <noscript>, foreign content, an open <select>."""
BASE = 512
SCALE = 8
SLACK, FLOOR = 16, 20_000
TIME_SLACK, TIME_FLOOR = 40, 0.2


def pages(data: bytes) -> tuple[bytes, bytes, int] | None:
    """The small page, the large page and the chunk size for input `data` (None: empty)."""
    reader = Reader(data)
    chunk = CHUNKS[reader.byte() % len(CHUNKS)]
    prefix = PREFIXES[reader.byte() % len(PREFIXES)]
    unit = reader.rest()
    if not unit:
        return None
    repeat = max(1, BASE // len(unit))
    return prefix + unit * repeat, prefix + unit * (repeat * SCALE), chunk


def check(data: bytes) -> None:
    built = pages(data)
    if built is None:
        return
    small, large, chunk = built
    started = time.process_time()
    small_work = work_of(small, chunk, lines=False)
    small_time = time.process_time() - started
    started = time.process_time()
    large_work = work_of(large, chunk, lines=False)
    large_time = time.process_time() - started
    assert large_work <= SLACK * small_work + FLOOR, (
        f"work grows faster than the page: {small_work} for {len(small)} bytes, "
        f"{large_work} for {len(large)} in chunks of {chunk}"
    )
    assert large_time <= TIME_SLACK * small_time + TIME_FLOOR, (
        f"time grows faster than the page: {small_time:.3f} s, then {large_time:.3f} s"
    )


def main() -> None:
    run_fuzzer("fuzz.fuzz_linear")


if __name__ == "__main__":
    main()
