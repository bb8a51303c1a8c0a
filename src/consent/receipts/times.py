"""Times as receipts store them, and the ages `consent log` accepts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["format_time", "parse_age", "parse_time"]


def format_time(moment: datetime) -> str:
    """`2026-11-28T21:52:24Z`: fixed width, so text order is time order."""
    # isoformat, not strftime: the same text, several times faster (one per receipt).
    return moment.astimezone(UTC).isoformat(timespec="seconds")[:19] + "Z"


def parse_time(text: str) -> datetime:
    """An ISO date or date-time; one without a zone is UTC. ValueError if it is neither."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_AGE = re.compile(r"\s*([1-9][0-9]{0,5})\s*(d|w|m|y|days?|weeks?|months?|years?)\s*")
_AGE_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


def parse_age(text: str) -> timedelta:
    """`400d`, `18 months`, `2y`... as a timedelta (a month is 30 days, a year 365).

    Raises:
        ValueError: not such an age; the message shows the accepted forms.
    """
    match = _AGE.fullmatch(text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not an age. Fix: write e.g. '400d', '18 months' or '2y'")
    return timedelta(days=int(match[1]) * _AGE_DAYS[match[2][0]])
