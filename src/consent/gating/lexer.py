"""The HTML tokenizer's grammar for tags: start and end tags, their attributes, and a
reading of one tag that can stop at the end of a buffer and resume in the next one.

The patterns follow the HTML standard's tokenizer: quoted, single-quoted and unquoted
attribute values, a ">" inside quotes, a quote after "=" always opening a value (even while
its closing quote has not arrived: the tag is then unfinished). `TagReading` walks the
tokenizer's states inside one tag (those of the standard, with the ones that behave alike
merged), so that a tag cut by a chunk's end is followed over the chunks that arrive instead
of being read again from its start.
"""

from __future__ import annotations

import re

__all__ = [
    "ATTRS",
    "BLANKS",
    "OTHER",
    "START_TAG",
    "VALUE_QUOTE",
    "WS",
    "TagReading",
    "TagState",
    "attribute",
    "attribute_names",
    "self_closing",
]

WS = rb"\t\n\f\r "


def attribute(group: bytes) -> bytes:
    """The pattern of one attribute as the HTML tokenizer reads it; `group` is b"(" to
    capture its name and value (double, single or no quotes), b"(?:" not to."""
    g = group
    return (
        g + rb"[^" + WS + rb"/>][^" + WS + rb"/=>]*+)"
        rb"(?:[" + WS + rb"]*+=[" + WS + rb"]*+"
        rb"(?:\"" + g + rb"[^\"]*+)\"|'" + g + rb"[^']*+)'|(?![\"'])" + g + rb"[^" + WS + rb">]*+))"
        rb"|(?![" + WS + rb"]*+=))"
    )


# One attribute of a start tag that START_TAG or the scanner matched, as (raw text, name,
# value with its quotes). In such a tag a quote after "=" always has its closing quote, so
# this shorter pattern reads the attributes exactly as `attribute` does.
ATTRS = re.compile(
    rb"(([^" + WS + rb"/>][^" + WS + rb"/=>]*+)(?:[" + WS + rb"]*+=[" + WS + rb"]*+"
    rb"(\"[^\"]*+\"|'[^']*+'|[^" + WS + rb">]*+))?)"
)
# A whole start tag: group 1 its name as written, group 2 its attributes.
START_TAG = re.compile(
    rb"<([a-zA-Z][^" + WS + rb"/>]*+)((?:[" + WS + rb"/]++|(?>" + attribute(b"(?:") + rb"))*+)>"
)
# End tags (group 1: the name) and the other "<...>" constructs that are not start tags.
OTHER = re.compile(
    rb"</([a-zA-Z][^" + WS + rb"/>]*+)(?:[" + WS + rb"/]++|(?>" + attribute(b"(?:") + rb"))*+>"
    rb"|</(?![a-zA-Z])[^>]*+>"
    rb"|<!(?!--)[^>]*+>"
    rb"|<\?[^>]*+>"
)
BLANKS = re.compile(rb"[\t\n\f\r ]*+")
# Where a quote may open an attribute value: after "=" and blanks, never anywhere else.
VALUE_QUOTE = re.compile(rb"=[" + WS + rb"]*+[\"']")


def attribute_names(attributes: bytes) -> set[bytes]:
    """The attribute names of a start tag, in lower case."""
    return {match.group(2).lower() for match in ATTRS.finditer(attributes)}


def self_closing(attributes: bytes) -> bool:
    """Whether a start tag with these attributes ends in "/>" (a "/" that ends an unquoted
    value, as in `<a href=x/>`, does not count)."""
    if not attributes.endswith(b"/"):
        return False
    ends = [match.end() for match in ATTRS.finditer(attributes)]
    return not ends or ends[-1] < len(attributes)


class TagState:
    """The tokenizer's states inside a start or end tag (after a quoted value and "/" it
    is as before an attribute name). Named ints, not an Enum: the inner loop of a tag's
    reading compares them at every step, and Python compares exact ints fastest."""

    NAME = 0
    BEFORE_ATTR = 1
    ATTR_NAME = 2
    AFTER_ATTR = 3
    BEFORE_VALUE = 4
    QUOTED = 5
    APOSTROPHED = 6
    UNQUOTED = 7
    DONE = 8
    """Past the ">" that ends the tag."""


_NAME = TagState.NAME
_BEFORE_ATTR = TagState.BEFORE_ATTR
_ATTR_NAME = TagState.ATTR_NAME
_AFTER_ATTR = TagState.AFTER_ATTR
_BEFORE_VALUE = TagState.BEFORE_VALUE
_QUOTED = TagState.QUOTED
_APOSTROPHED = TagState.APOSTROPHED
_UNQUOTED = TagState.UNQUOTED
_DONE = TagState.DONE
# What each state reads before the byte that changes it (quoted values: up to the quote).
_RUNS = {
    _NAME: re.compile(rb"[^" + WS + rb"/>]*+"),
    _BEFORE_ATTR: re.compile(rb"[" + WS + rb"/]*+"),
    _ATTR_NAME: re.compile(rb"[^" + WS + rb"/=>]*+"),
    _AFTER_ATTR: BLANKS,
    _BEFORE_VALUE: BLANKS,
    _UNQUOTED: re.compile(rb"[^" + WS + rb">]*+"),
}
# Whole attributes and separators from before an attribute name, as START_TAG reads them,
# group 1 the last one (which the end of the buffer may have cut short). An attribute without
# a value takes the blanks after it, so that every earlier one is followed by a byte that
# settles it.
_TAG_UNITS = re.compile(
    rb"(?:([" + WS + rb"/]++|[^" + WS + rb"/>][^" + WS + rb"/=>]*+"
    rb"(?:[" + WS + rb"]*+=[" + WS + rb"]*+(?:\"[^\"]*+\"|'[^']*+'|(?![\"'])[^" + WS + rb">]*+)"
    rb"|[" + WS + rb"]*+(?!=))))*+"
)


class TagReading:
    """The tokenizer reading one tag: at `pos` of the buffer in `state`."""

    __slots__ = ("pos", "state")

    def __init__(self, pos: int, state: int = _NAME) -> None:
        self.pos = pos
        self.state = state

    @property
    def done(self) -> bool:
        """Whether the ">" that ends the tag has been read (`pos` is past it)."""
        return self.state == _DONE

    @property
    def may_open_value(self) -> bool:
        """Whether a quote read next may open or close a value (inside one, or before one)."""
        state = self.state
        return state == _QUOTED or state == _APOSTROPHED or state == _BEFORE_VALUE

    def step(self, data: bytes | bytearray) -> None:
        """One step through the tag (not at the end of `data`)."""
        self._advance(data, False)

    def to_attribute(self, data: bytes | bytearray) -> None:
        """Step through the tag (not at the end of `data`) until before an attribute name,
        past its end or at the end of `data`: where readings from different places meet."""
        self._advance(data, True)

    def _advance(self, data: bytes | bytearray, to_attribute: bool) -> None:
        pos, state = self.pos, self.state
        end = len(data)
        while True:
            if state == _QUOTED or state == _APOSTROPHED:
                close = data.find(b'"' if state == _QUOTED else b"'", pos)
                if close < 0:
                    pos = end
                else:
                    pos, state = close + 1, _BEFORE_ATTR
            else:
                run = _RUNS[state].match(data, pos)  # it matches the empty string too
                pos = run.end() if run is not None else pos
                if pos < end:
                    char = data[pos]
                    pos += 1
                    if char == 0x3E:  # ">"
                        state = _DONE
                    elif state == _NAME or state == _UNQUOTED:
                        state = _BEFORE_ATTR  # a blank, or "/" after the name
                    elif state == _BEFORE_ATTR:
                        state = _ATTR_NAME  # any other byte starts a name, even "="
                    elif state == _BEFORE_VALUE:
                        state = (
                            _QUOTED if char == 0x22 else _APOSTROPHED if char == 0x27 else _UNQUOTED
                        )
                    elif char == 0x3D:  # "=" after an attribute name
                        state = _BEFORE_VALUE
                    elif char == 0x2F:  # "/"
                        state = _BEFORE_ATTR
                    elif state == _ATTR_NAME:
                        state = _AFTER_ATTR
                    else:
                        # After an attribute name and blanks, another byte starts the next
                        # name, as it does before one: that state (whose attributes `scan`
                        # reads in one match).
                        pos, state = pos - 1, _BEFORE_ATTR
            if not to_attribute or state == _BEFORE_ATTR or state == _DONE or pos == end:
                break
        self.pos, self.state = pos, state

    def scan(self, data: bytes | bytearray) -> None:
        """Read on to the end of `data` or the tag's end; the attributes in between are read
        in one match."""
        end = len(data)
        whole = True
        while self.pos < end and self.state != _DONE:
            if self.state == _BEFORE_ATTR and whole:
                units = _TAG_UNITS.match(data, self.pos)
                assert units is not None  # it matches the empty string too
                stop = units.end()
                if stop < end and data[stop] == 0x3E:
                    self.pos, self.state = stop + 1, _DONE
                    return
                # The last unit may be cut short, and what follows it is an attribute whose
                # quoted value has not ended: step through both.
                if units.lastindex:
                    self.pos = units.start(1)
                whole = False
            self.step(data)
