"""The vocabulary the gate's steps share: the `Mode` the gate reads in, and the `Stop`
where a step of it (the fast path, the paranoid path) ended and how the gate goes on."""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from consent.gating.holding import Await

__all__ = ["Mode", "Stop", "Then"]


class Mode(Enum):
    """Where in the page the gate reads."""

    DATA = "data"
    """Markup, outside any tag."""
    RAW_TEXT = "raw text"
    """The text of a raw-text element (`<script>`, `<style>`, ...) up to its end tag."""
    SKIP = "skip"
    """A comment or CDATA section, up to its end."""
    PARANOID = "paranoid"
    """Anywhere: every candidate start tag is gated wherever it stands (to the end)."""


class Then(Enum):
    """How the gate goes on after a step."""

    GO_ON = "go on"
    """Where the step stopped, in whatever mode it left the gate."""
    TOKEN = "token"
    """Read the token at the stop, one construct."""
    WAIT = "wait"
    """For more data (`Stop.wait` says for what, if anything)."""
    RAW_TEXT = "raw text"
    """In the text of raw-text element `Stop.raw`, from the stop on."""


class Stop(NamedTuple):
    """Where a step of the gate stopped, and how the gate goes on from there."""

    pos: int
    then: Then
    raw: bytes = b""
    """The raw-text element whose text starts at `pos` (`Then.RAW_TEXT`)."""
    wait: Await | None = None
    """What an unfinished construct at `pos` waits for (`Then.WAIT`)."""
