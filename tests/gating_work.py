"""A deterministic measure of the work the HTML gate does, to hold it to linear time.

Wall-clock time wanders with the machine's load, so the tests, the fuzz target
(fuzz/fuzz_linear.py) and the benchmark compare this instead: while a gate runs, every
compiled pattern of the `consent.gating` package (its modules' globals, and the values of
their module-level dicts) is replaced by a proxy that counts the bytes each call may have
examined, from where it started to where its match ended (to the end of its range when it
failed: a failed match or search examines up to there at worst); `sys.settrace` counts the
lines of Python the gate runs, and `sys.setprofile` the calls into C (`bytes.find` among
them). The sum is the same on every run for the same input and chunks, and grows like the
time the gate takes: linearly, if the gate is linear.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from types import FrameType
from typing import Any, Protocol

from consent import gating

__all__ = ["Work", "measured", "work_of"]


class Gate(Protocol):
    def feed(self, chunk: bytes) -> bytes: ...
    def close(self) -> bytes: ...


@dataclass
class Work:
    """What a gate did: bytes its patterns examined, and lines of Python and calls into C
    it ran."""

    examined: int = 0
    steps: int = 0

    @property
    def total(self) -> int:
        """One figure for both: a step costs about as much as a few bytes of matching."""
        return self.examined + 8 * self.steps


class _Counted:
    """A compiled pattern that adds what each call examines to `work`."""

    def __init__(self, pattern: re.Pattern[Any], work: Work) -> None:
        self._pattern = pattern
        self._work = work

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pattern, name)

    def _add(self, string: Any, pos: int, endpos: int, found: re.Match[Any] | None) -> None:
        stop = found.end() if found is not None else min(endpos, len(string))
        self._work.examined += max(0, stop - pos) + 1

    def match(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        found = self._pattern.match(string, pos, endpos)
        self._add(string, pos, endpos, found)
        return found

    def fullmatch(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        found = self._pattern.fullmatch(string, pos, endpos)
        self._add(string, pos, endpos, found)
        return found

    def search(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        found = self._pattern.search(string, pos, endpos)
        self._add(string, pos, endpos, found)
        return found

    def finditer(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self._add(string, pos, endpos, None)
        return self._pattern.finditer(string, pos, endpos)

    def findall(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self._add(string, pos, endpos, None)
        return self._pattern.findall(string, pos, endpos)

    def sub(self, repl: Any, string: Any, count: int = 0) -> Any:
        self._add(string, 0, len(string), None)
        return self._pattern.sub(repl, string, count)


@contextmanager
def measured(lines: bool = True) -> Iterator[Work]:
    """Count the work of the gates run inside the block (not thread-safe: tests only);
    without `lines`, calls into Python count instead of lines (a tenth of the cost)."""
    work = Work()
    restore: list[Callable[[], None]] = []
    dicts: set[int] = set()  # a dict imported by several modules is counted once
    for module in _modules():
        for name, value in list(vars(module).items()):
            if isinstance(value, re.Pattern):
                setattr(module, name, _Counted(value, work))
                restore.append(partial(setattr, module, name, value))
            elif (
                isinstance(value, dict)
                and id(value) not in dicts
                and any(isinstance(v, re.Pattern) for v in value.values())
            ):
                dicts.add(id(value))
                originals = dict(value)
                value.update(
                    {
                        k: _Counted(v, work)
                        for k, v in originals.items()
                        if isinstance(v, re.Pattern)
                    }
                )
                restore.append(partial(value.update, originals))

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "c_call" or (event == "call" and not lines):
            work.steps += 1

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        if event == "line" or event == "call":
            work.steps += 1
        return trace

    previous = sys.getprofile(), sys.gettrace()
    sys.setprofile(profile)
    if lines:
        sys.settrace(trace)
    try:
        yield work
    finally:
        sys.settrace(previous[1])
        sys.setprofile(previous[0])
        for undo in reversed(restore):
            undo()


def _modules() -> list[Any]:
    """The modules of the `consent.gating` package."""
    names = [info.name for info in pkgutil.iter_modules(gating.__path__)]
    return [importlib.import_module(f"{gating.__name__}.{name}") for name in names]


def work_of(
    page: bytes,
    chunk: int,
    gate_class: Callable[[gating.Allows, gating.HostLookup | None], Gate] = gating.HTMLGate,
    lines: bool = True,
) -> int:
    """The work (`Work.total`) of gating `page` fed in pieces of `chunk` bytes, by a new
    gate with a memory of tags of its own (what a warm one remembers would make a run
    cheaper)."""
    hosts = gating.host_matcher({"www.googletagmanager.com": "ga", "*.youtube.com": "yt"})
    gate = gate_class(lambda id: id == "ok", hosts)
    with measured(lines) as work:
        for start in range(0, len(page), chunk):
            gate.feed(page[start : start + chunk])
        gate.close()
    return work.total
