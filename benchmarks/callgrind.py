"""Instruction counts of a Python snippet under callgrind, start-up cancelled out.

Wall-clock time wanders with the load of a shared machine; the number of instructions a
snippet executes does not (with `PYTHONHASHSEED=0`, which fixes the order of sets and dicts
of strings). `instructions_per_run` runs the snippet `runs` times and `2 * runs` times, each
in a fresh interpreter under `valgrind --tool=callgrind`, and returns the difference per
run: the interpreter's start-up, the imports and `setup` cost the same in both and cancel.

    >>> instructions_per_run("from json import dumps", "dumps([1, 2, 3])", 1000)  # doctest: +SKIP
    4321.0

From the command line (the figure is printed, one line):

    python benchmarks/callgrind.py --setup "from json import dumps" "dumps([1, 2, 3])"

The snippet runs in the module namespace `setup` made, so it may call what `setup` defines,
and `await` nothing: wrap a coroutine in `asyncio.run` in `setup` (or in the statement).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

__all__ = ["available", "instructions", "instructions_per_run"]

# The program each run executes: `setup` once, then `stmt` in a loop whose length is the
# only difference between the two runs.
_PROGRAM = """\
import sys
{setup}
def _snippet_loop(_runs):
    for _ in range(_runs):
{stmt}
_snippet_loop(int(sys.argv[1]))
"""
_TOTALS = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def available() -> bool:
    """Whether valgrind is installed (the figures need it)."""
    return shutil.which("valgrind") is not None


def instructions(
    setup: str, stmt: str, runs: int, *, python: str = sys.executable, cwd: str | None = None
) -> int:
    """Instructions one interpreter executes running `setup` once and `stmt` `runs` times
    (start-up included)."""
    program = _PROGRAM.format(setup=setup, stmt=textwrap.indent(textwrap.dedent(stmt), " " * 8))
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "snippet.py"
        script.write_text(program)
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                python,
                str(script),
                str(runs),
            ],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if done.returncode != 0:
            # valgrind's own lines start with "==pid=="; the snippet's error is the rest.
            lines = done.stderr.decode(errors="replace").splitlines()
            error = "\n".join(line for line in lines if not line.startswith("=="))
            raise RuntimeError(f"the snippet failed under callgrind:\n{error[-2000:]}")
        found = _TOTALS.search(out.read_bytes())
    if found is None:
        raise RuntimeError("callgrind wrote no total")
    return int(found.group(1))


def instructions_per_run(
    setup: str, stmt: str, runs: int, *, python: str = sys.executable, cwd: str | None = None
) -> float:
    """Instructions one run of `stmt` costs: the difference between `2 * runs` runs and
    `runs` runs, each in a fresh interpreter after `setup`, divided by `runs`.

    Args:
        setup: Python run once first (imports, building the input).
        stmt: the statement (or block) measured; it sees the names `setup` defined.
        runs: how many runs the shorter measurement makes (the longer one twice as many).
        python: the interpreter to run.
        cwd: where to run it (for imports relative to a checkout).
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    short = instructions(setup, stmt, runs, python=python, cwd=cwd)
    long = instructions(setup, stmt, 2 * runs, python=python, cwd=cwd)
    return (long - short) / runs


def main(argv: list[str] | None = None) -> int:
    """The command line: print the instructions per run of a statement."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stmt", help="the statement to measure")
    parser.add_argument("--setup", default="pass", help="run once before (default: pass)")
    parser.add_argument("--runs", type=int, default=100, help="runs of the short measurement")
    args = parser.parse_args(argv)
    if not available():
        print("valgrind is not installed", file=sys.stderr)
        return 2
    print(f"{instructions_per_run(args.setup, args.stmt, args.runs):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
