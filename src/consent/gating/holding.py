"""Work bounded by the input: resuming where a reading stopped.

Every byte of the body is read a bounded number of times, however it is cut into chunks and
whatever it holds. Two things could make the gate read bytes again and again: a construct
left unfinished at the end of a chunk (a tag, an end tag, "<!...>", or inside <noscript> a
comment or raw-text element held whole), which the gate would read from its start on every
chunk; and, in paranoid mode, many candidate tags inside one another, each read to its own
far end. The first is met by `Hold`, which follows the unfinished construct over each new
chunk only and wakes the gate once it can have ended (`Await` says what it waits for); the
second by `TagEnds`, which reads the tags of all candidates in one shared pass.
"""

from __future__ import annotations

from array import array
from enum import IntEnum
from typing import NamedTuple

from consent.gating.lexer import VALUE_QUOTE, TagReading, TagState
from consent.gating.raw_text import (
    COMMENT_END,
    NOSCRIPT_END,
    RAW_ENDS,
    ScriptState,
    read_script,
)

__all__ = [
    "HOLD_MIN",
    "NOSCRIPT_HOLD",
    "Await",
    "Hold",
    "HoldKind",
    "TagEnds",
    "await_construct",
    "noscript_reach",
]

# Inside <noscript>, how long a comment or raw-text element the gate holds to read it whole.
NOSCRIPT_HOLD = 64 * 1024
HOLD_MIN = 16  # a shorter buffer is read again whole: it costs no more than following it


class HoldKind(IntEnum):
    """What an unfinished construct at the start of the buffer waits for."""

    TAG = 0
    """The end of a start or end tag."""
    CLOSE = 1
    """A ">" ("<!...>", "<?...>", "</...>")."""
    COMMENT = 2
    """Inside <noscript>, the end of a comment."""
    RAW = 3
    """Inside <noscript>, the end of a raw-text element's text."""


# (Enum members as module names: reading one off its class costs as much as a call.)
_TAG, _CLOSE, _COMMENT = HoldKind.TAG, HoldKind.CLOSE, HoldKind.COMMENT
_DONE, _BEFORE_ATTR = TagState.DONE, TagState.BEFORE_ATTR


class Await(NamedTuple):
    """What a step of the gate stopped at, waiting for more data, read from `pos` in the
    buffer on in `state` (`name`: the raw-text element; `script`: its script state)."""

    kind: HoldKind
    pos: int
    state: int = TagState.NAME
    name: bytes = b""
    script: ScriptState = ScriptState.DATA


def await_construct(data: bytes, start: int) -> Await:
    """What the unfinished construct at `start` (a "<" that opens something) waits for."""
    second = data[start + 1 : start + 2]
    if second.isalpha():
        return Await(_TAG, start + 1)
    if second == b"/" and data[start + 2 : start + 3].isalpha():
        return Await(_TAG, start + 2)
    return Await(_CLOSE, start + 1)


def noscript_reach(data: bytes, start: int, stop: int | None, final: bool) -> int | None:
    """Inside <noscript>: where the construct from `start` to `stop` (None: not all in the
    buffer yet) ends, if a browser with scripting, which reads the element as raw text up to
    "</noscript", agrees that it is one construct. -1 when "</noscript" falls inside it or
    it is too long to hold (the gate cannot tell how a browser reads it); None: wait."""
    if stop is None:
        if not final and len(data) - start <= NOSCRIPT_HOLD:
            return None
        stop = len(data)
    if stop - start > NOSCRIPT_HOLD or NOSCRIPT_END.search(data, start + 1, stop):
        return -1
    return stop


class Hold:
    """An unfinished construct at the start of the gate's buffer, followed over each chunk
    that arrives (the chunks kept in one growing buffer): `feed` says when the gate can get
    further, until then it would only read the construct from its start again. What it
    waits for is an `Await`; inside <noscript> it also gives up beyond `NOSCRIPT_HOLD`."""

    __slots__ = ("data", "kind", "name", "pos", "script", "seen", "tag")

    def __init__(self, data: bytes, wait: Await) -> None:
        self.data = bytearray(data)
        self.kind = wait.kind
        self.pos = wait.pos
        self.tag = TagReading(wait.pos, wait.state)
        self.script = wait.script
        self.name = wait.name
        self.seen = wait.pos  # a tag: no ">" from `pos` up to here

    def feed(self, chunk: bytes) -> bool:
        """Add `chunk`; whether the gate may now get further."""
        data = self.data
        data += chunk
        end = len(data)
        kind = self.kind
        if kind == _TAG:
            # A tag ends only at a ">": the bytes before one are read when it comes, once.
            close = data.find(b">", self.seen)
            if close < 0:
                self.seen = end
                return False
            tag = self.tag
            if not tag.may_open_value and VALUE_QUOTE.search(data, tag.pos, close) is None:
                return True  # no value can open before it: it ends the tag
            tag.scan(data)
            self.seen = end
            return tag.done
        if kind == _CLOSE:
            if data.find(b">", self.pos) >= 0:
                return True
            self.pos = end
            return False
        if end > NOSCRIPT_HOLD:
            return True  # too long to hold: the gate goes paranoid
        if kind == _COMMENT:
            if COMMENT_END.search(data, self.pos) is not None:
                return True
            self.pos = max(self.pos, end - 2)
            return False
        if self.name == b"script":
            read = read_script(data, self.pos, self.script, False)
            self.pos, self.script = read.stop, read.state
            return read.ended
        if RAW_ENDS[self.name].search(data, self.pos) is not None:
            return True
        self.pos = max(self.pos, end - 12)
        return False


class TagEnds:
    """Where the start tags of many candidates in `data` end (paranoid mode), each byte read
    a bounded number of times however the tags overlap.

    Two readings of a tag from different places that are in the same state at the same byte
    go on alike: where a reading is before an attribute name (which every reading is again
    within a few steps) is remembered, and a later reading that gets there takes its end from
    there. A tag with no quote that may open a value before the next ">" ends there, which
    two byte searches, shared by the candidates, tell.
    """

    __slots__ = ("data", "known", "next_close", "next_quote")

    def __init__(self, data: bytes) -> None:
        self.data = data
        # By position: the end of a reading before an attribute name there (-1: not in
        # `data`; -2: no reading was), four bytes a byte, made on the first reading.
        self.known: array[int] | None = None
        self.next_close = -2  # the first ">" at or after the last candidate (-1: none)
        self.next_quote = -2  # the first `VALUE_QUOTE` at or after it (-1: none)

    def end(self, start: int) -> int:
        """Where the start tag at `start` ends (past its ">"); -1: not in `data` yet."""
        data = self.data
        if self.next_close != -1 and self.next_close < start:
            self.next_close = data.find(b">", start)
        if self.next_quote != -1 and self.next_quote < start:
            opens = VALUE_QUOTE.search(data, start)
            self.next_quote = -1 if opens is None else opens.start()
        close, quote = self.next_close, self.next_quote
        if close < 0:
            return -1  # no ">" anywhere after it
        if quote < 0 or close < quote:
            return close + 1
        known = self.known
        if known is None:
            known = self.known = array("i", [-2]) * (len(data) + 1)
        path = []
        end = len(data)
        reading = TagReading(start + 1)
        while True:
            if reading.pos == end:
                found = -1
                break
            reading.to_attribute(data)
            if reading.state == _DONE:
                found = reading.pos
                break
            if reading.state == _BEFORE_ATTR:
                found = known[reading.pos]
                if found != -2:
                    break
                path.append(reading.pos)
        for place in path:
            known[place] = found
        return found

    def scan(self, start: int) -> int:
        """`end(start)` read in one match of the tag's attributes, at C speed, but without
        what other readings found (each such reading may read the rest of `data`)."""
        reading = TagReading(start + 1)
        reading.scan(self.data)
        return reading.pos if reading.done else -1
