"""Where the text of a raw-text element ends, and of a comment or CDATA section.

A `<script>`, `<style>`, `<title>`, ... in HTML content holds text up to its end tag, found
case-insensitively; script text has states of its own (the tokenizer's script data states:
"<!--" escapes it, and inside the escape a "<script" opens a doubly escaped part in which
"</script>" ends nothing), which `read_script` follows and can resume in the next chunk.
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import NamedTuple

from consent.gating.lexer import WS

__all__ = [
    "CDATA_END",
    "COMMENT_END",
    "NOSCRIPT_END",
    "RAW_ENDS",
    "RAW_TEXT",
    "ScriptRead",
    "ScriptState",
    "plain_raw_end",
    "raw_stop",
    "read_script",
]

# Elements whose content is not markup: the tokenizer skips to their end tag.
RAW_TEXT = frozenset(
    {b"script", b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed", b"noframes"}
)
# Where the text of each such element surely ends: its end tag, found case-insensitively; or,
# for a script, a "<!--" before that, after which it cannot tell (see `read_script`).
RAW_ENDS = {
    n: re.compile(rb"</" + n + rb"[\t\n\f\r />]" + rb"|<!--" * (n == b"script"), re.IGNORECASE)
    for n in RAW_TEXT
}
COMMENT_END = re.compile(rb"--!?>")
CDATA_END = re.compile(rb"]]>")
# Where a browser with scripting ends a <noscript> (its raw text).
NOSCRIPT_END = re.compile(rb"</(?i:noscript)[" + WS + rb"/>]")
# The tokens that move script text between its states.
_SCRIPT_TOKENS = re.compile(rb"<!--|-->|</?(?i:script)[\t\n\f\r />]")
_DASH_RUN = re.compile(rb"-*+")


class ScriptState(IntEnum):
    """The tokenizer's script data states."""

    DATA = 0
    ESCAPED = 1
    """After "<!--"."""
    DOUBLE = 2
    """After "<script" in escaped text: "</script>" only ends this part."""
    DASHES = 3
    """After "<!--" in the data state while dashes follow (the escape start dash dash
    state): a state of its own, so that a long run of dashes streams through."""


_DATA = ScriptState.DATA
_ESCAPED = ScriptState.ESCAPED
_DOUBLE = ScriptState.DOUBLE
_DASHES = ScriptState.DASHES


class ScriptRead(NamedTuple):
    """How far script text was read for sure, in which state there, and whether that is
    the "<" of the end tag that closes the script."""

    stop: int
    state: ScriptState
    ended: bool


def read_script(data: bytes | bytearray, pos: int, state: ScriptState, final: bool) -> ScriptRead:
    """Read script text from `pos` in `state`."""
    end = len(data)
    read = pos  # what is read for sure: the state holds here
    while True:
        if state == _DASHES:
            after = _DASH_RUN.match(data, pos)
            assert after is not None  # it matches the empty string too
            stop = after.end()
            if stop == end and not final:
                return ScriptRead(end, state, False)  # more dashes may follow
            if stop < end and data[stop] == 0x3E:  # ">": "<!-->" escapes nothing
                state, pos = _DATA, stop + 1
            else:
                state, pos = _ESCAPED, stop
            read = pos
        token = _SCRIPT_TOKENS.search(data, pos)
        if token is None:
            # Keep a tail that could start a token (at most 9 bytes long).
            return ScriptRead(end if final else max(read, end - 9), state, False)
        start, text = token.start(), token.group()
        if text[:2] == b"</":
            if state != _DOUBLE:
                return ScriptRead(start, state, True)
            state, pos = _ESCAPED, token.end()  # it ends only the nested part
        elif text == b"<!--":
            if state != _DATA:
                pos = start + 1  # text there; its dashes may still end an escape
                continue
            state, pos = _DASHES, token.end()
            continue
        elif text == b"-->":
            if state == _DATA:
                pos = start + 1
                continue
            state, pos = _DATA, token.end()
        elif state == _ESCAPED:  # "<script": the nested part
            state, pos = _DOUBLE, token.end()
        else:
            pos = start + 1
            continue
        read = pos


def plain_raw_end(name: bytes, data: bytes, pos: int) -> int | None:
    """The "<" of the end tag of raw-text element `name` whose text starts at `pos`, when one
    search finds it: for any element but a script whose text holds "<!--" (which has states,
    see `read_script`). None otherwise."""
    close = RAW_ENDS[name].search(data, pos)
    if close is None:
        return None
    stop = close.start()
    return None if data[stop + 1] == 0x21 else stop  # "<!": script text with states


def raw_stop(name: bytes, data: bytes, pos: int, final: bool) -> int | None:
    """Where the text of raw-text element `name`, starting at `pos`, ends (the "<" of its end
    tag); None when its end is not in `data` yet."""
    stop = plain_raw_end(name, data, pos)
    if stop is None and name == b"script":
        found = read_script(data, pos, _DATA, final)
        stop = found.stop if found.ended else None
    return stop
