"""The fallback once the gate cannot tell how a browser reads what follows: `ParanoidPath`.

Every start tag the gate reads for a plan (scripts, iframes, images, ...) is gated wherever
it stands: in a comment, raw text or an attribute value too. Each reading may see a
different tag at a "<", so rewriting one must not change another. A candidate that starts
inside an earlier one (its attribute text in one reading, a tag in another) is never
rewritten, which could move the earlier tag's quotes: it is defused when it would be gated,
written "&lt;...", the same attribute text in the first reading and no tag in the other.

Every byte is read a bounded number of times, however many candidates overlap: where each
candidate's tag ends comes from one shared reading (`TagEnds`), and a candidate inside an
earlier one is read whole only if it starts past the last one so read; any other is defused
unread (which gates more: it is no tag in any reading, and the same attribute text).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from consent.gating.holding import Await, HoldKind, TagEnds
from consent.gating.lexer import START_TAG
from consent.gating.modes import Stop, Then
from consent.gating.scanner import CANDIDATE, CANDIDATE_HEAD, HEAD, defuse_inside

__all__ = ["ParanoidPath"]

_WAIT, _HOLD_TAG = Then.WAIT, HoldKind.TAG


class ParanoidPath:
    """Paranoid reading of the rest of one page. `start_tag` writes a start tag as it must
    be written; `scans` is how many of the candidates inside a gated tag have their tags read
    in one match each (the first ones; the others by the reading they share): each such
    reading may read the rest of the buffer, so there must be a bounded number of them."""

    __slots__ = ("_nested", "_read", "_scans", "_start_tag")

    def __init__(self, start_tag: Callable[[re.Match[bytes]], bytes], scans: int = 2) -> None:
        self._start_tag = start_tag
        self._scans = scans
        self._nested = 0  # bytes of the buffer inside an earlier candidate tag
        self._read = 0  # bytes of the buffer inside the last nested tag read

    def run(self, data: bytes, pos: int, out: list[bytes], final: bool) -> Stop:
        """Read from `pos` to the end of `data`, or to a candidate whose tag has not ended
        (`Then.WAIT`); what can be sent is appended to `out`."""
        end = len(data)
        nested = pos + self._nested  # bytes up to here are inside an earlier candidate
        read = pos + self._read  # and up to here inside the last such candidate read whole
        ends: TagEnds | None = None
        gt = -2  # the next ">" from a candidate seen (-1: none after it; -2: not looked for)
        sent = pos  # bytes from here on are not in `out` yet: they pass as they are
        # What is written, in one buffer: a defused candidate every few bytes would
        # otherwise be two small objects each in `out`.
        written = bytearray()
        view = memoryview(data)
        wait: Await | None = None
        while True:
            found = CANDIDATE.search(data, pos)
            if found is None:
                # Keep what may be the start of a candidate cut by the chunk's end: every
                # byte after its "<" may be part of a name ("<template", "<svg:script").
                head = None if final else CANDIDATE_HEAD.search(data, max(pos, end - HEAD))
                pos = end if head is None else head.start()
                break
            pos = found.start()
            if pos < nested:
                if ends is None:
                    ends = TagEnds(data)
                close = ends.end(pos)
                tag = START_TAG.match(data, pos) if close >= 0 and pos >= read else None
            else:
                # (No ">" after it: no tag, which the pattern would take the rest to tell.)
                if gt != -1 and gt < pos:
                    gt = data.find(b">", pos)  # each byte searched once
                tag = START_TAG.match(data, pos) if gt >= 0 else None
                close = -1 if tag is None else tag.end()
            if close < 0:
                if not final:
                    wait = Await(_HOLD_TAG, pos + 1)
                    break  # an unfinished start tag: wait for more data
                # Unfinished at the end: a browser reading it as a tag drops it and all
                # that follows; one reading it otherwise may see tags in what follows.
                if gt != -1 and gt < pos:
                    gt = data.find(b">", pos)
                if gt < 0:
                    # No ">" after it: every candidate from here is as unfinished, and
                    # stays as it is (what the loop would do for each, in one step).
                    pos = end
                    break
                nested = end
                pos += 1
                continue
            if pos < nested:
                as_is = False  # unread: defused
                if tag is not None:
                    read = close
                    as_is = self._start_tag(tag) == tag.group(0)
                if not as_is:
                    written += view[sent:pos]
                    written += b"&lt;"
                    sent = pos + 1
                nested = max(nested, close)
                pos += 1  # what it may hide is read on its own
                continue
            assert tag is not None
            rewritten = self._start_tag(tag)
            if rewritten == tag.group(0):
                nested = max(nested, close)
                pos += 1  # what it may hide is read on its own
                continue
            # A gated tag in its own right: every candidate inside it is defused, and the
            # tags those start may reach past its end.
            reach = close
            scans = self._scans
            for inner in CANDIDATE.finditer(data, pos + 1, close):
                if ends is None:
                    ends = TagEnds(data)
                if scans:
                    scans -= 1
                    inner_close = ends.scan(inner.start())
                else:
                    inner_close = ends.end(inner.start())
                if inner_close < 0 and not final:
                    written += view[sent:pos]
                    out.append(bytes(written))
                    self._nested = max(0, nested - pos)
                    self._read = max(0, read - pos)
                    # Wait until it ends.
                    return Stop(pos, _WAIT, wait=Await(_HOLD_TAG, inner.start() + 1))
                reach = max(reach, end if inner_close < 0 else inner_close)
                if final and reach == end:
                    break  # no other reading can reach further
            written += view[sent:pos]
            written += defuse_inside(rewritten)
            pos = sent = close
            nested = max(nested, reach)
        written += view[sent:pos]
        out.append(bytes(written))
        self._nested = max(0, nested - pos)
        self._read = max(0, read - pos)
        return Stop(pos, _WAIT, wait=wait)
