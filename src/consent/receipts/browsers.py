"""A coarse browser family for a receipt: enough to spot a broken banner in one browser,
too little to single anybody out."""

from __future__ import annotations

import re

from consent.bounded_memo import remember

__all__ = ["BrowserFamilies", "browser_family"]

_BOTS = re.compile(r"bot|crawl|spider|slurp|headless|lighthouse", re.IGNORECASE)
# The same search on a lowered ASCII string: the same answer, several times faster
# (a case-insensitive regex of alternatives is slow in `re`).
_BOTS_LOWER = re.compile(_BOTS.pattern)
# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_FAMILIES = (
    ("edge", ("Edg/", "Edge/", "EdgA/", "EdgiOS/")),
    ("opera", ("OPR/", "Opera")),
    ("samsung", ("SamsungBrowser/",)),
    ("firefox", ("Firefox/", "FxiOS/")),
    ("chrome", ("Chrome/", "CriOS/", "Chromium/")),
    ("safari", ("Safari/",)),
)


def browser_family(user_agent: str | None) -> str:
    """A coarse browser family (`chrome`, `firefox`, `safari`, `edge`, `opera`, `samsung`,
    `bot`, `other` or `unknown`): enough to spot a broken banner in one browser, too little
    to single anybody out. The user-agent itself is never stored."""
    return _family(user_agent) if user_agent else "unknown"


class BrowserFamilies:
    """`browser_family`, remembering the families of user-agents seen lately: a site sees
    the same few hundred again and again. Bounded in entries and in key length, whatever
    visitors send. One per receipt writer."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def __call__(self, user_agent: str | None) -> str:
        if not user_agent:
            return "unknown"
        family = self._seen.get(user_agent)
        if family is None:
            family = _family(user_agent)
            if len(user_agent) <= 512:
                remember(self._seen, user_agent, family, 1024)
        return family


def _family(user_agent: str) -> str:
    if user_agent.isascii():
        if _BOTS_LOWER.search(user_agent.lower()):
            return "bot"
    elif _BOTS.search(user_agent):  # Unicode case folding: U+017F (long s) is an "s"
        return "bot"
    for family, marks in _FAMILIES:
        for mark in marks:
            if mark in user_agent:
                return family
    return "other"
