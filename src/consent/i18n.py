"""Visitor-facing strings in every built-in language, language negotiation, plural forms.

The strings live in `consent/locales/<lang>.json`, one file per language: every key of
`en.json`, the same `{placeholders}`, plus `_name` (the language's own name) and `_dir`
(`ltr` or `rtl`). Durations take plural forms by CLDR's cardinal rules for whole numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from consent.bounded_memo import remember

__all__ = [
    "LANGUAGES",
    "PLURAL_FORMS",
    "UI_STRINGS",
    "Negotiator",
    "direction",
    "format_duration",
    "plural_category",
    "strings",
]

Strings = Mapping[str, Any]

# Plural categories (CLDR cardinal rules, integers only) for every built-in language.
_Rule = Callable[[int], str]


def _one_other(n: int) -> str:
    return "one" if n == 1 else "other"


def _french(n: int) -> str:
    return "one" if n in (0, 1) else "other"


def _only_other(n: int) -> str:
    return "other"


def _polish(n: int) -> str:
    if n == 1:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


def _east_slavic(n: int) -> str:  # Ukrainian (and Croatian with "other" for "many")
    if n % 10 == 1 and n % 100 != 11:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


def _croatian(n: int) -> str:
    category = _east_slavic(n)
    return "other" if category == "many" else category


def _czech(n: int) -> str:  # and Slovak
    return "one" if n == 1 else "few" if 2 <= n <= 4 else "other"


def _slovenian(n: int) -> str:
    return {1: "one", 2: "two", 3: "few", 4: "few"}.get(n % 100, "other")


def _lithuanian(n: int) -> str:
    if n % 10 == 1 and not 11 <= n % 100 <= 19:
        return "one"
    if 2 <= n % 10 <= 9 and not 11 <= n % 100 <= 19:
        return "few"
    return "other"


def _latvian(n: int) -> str:
    if n % 10 == 0 or 11 <= n % 100 <= 19:
        return "zero"
    return "one" if n % 10 == 1 and n % 100 != 11 else "other"


def _romanian(n: int) -> str:
    if n == 1:
        return "one"
    return "few" if n == 0 or 1 <= n % 100 <= 19 else "other"


def _irish(n: int) -> str:
    if n in (1, 2):
        return "one" if n == 1 else "two"
    return "few" if 3 <= n <= 6 else "many" if 7 <= n <= 10 else "other"


def _maltese(n: int) -> str:
    if n == 1:
        return "one"
    if n == 2:
        return "two"
    if n == 0 or 3 <= n % 100 <= 10:
        return "few"
    return "many" if 11 <= n % 100 <= 19 else "other"


def _arabic(n: int) -> str:
    if n in (0, 1, 2):
        return ("zero", "one", "two")[n]
    return "few" if 3 <= n % 100 <= 10 else "many" if 11 <= n % 100 <= 99 else "other"


def _hebrew(n: int) -> str:
    return "one" if n == 1 else "two" if n == 2 else "other"


_RULES: dict[str, _Rule] = {
    **dict.fromkeys(
        (
            "en",
            "de",
            "nl",
            "sv",
            "da",
            "nb",
            "it",
            "es",
            "pt",
            "fi",
            "et",
            "el",
            "hu",
            "bg",
            "ca",
            "tr",
        ),
        _one_other,
    ),
    "fr": _french,
    **dict.fromkeys(("ja", "zh", "ko"), _only_other),
    "pl": _polish,
    "uk": _east_slavic,
    "hr": _croatian,
    "cs": _czech,
    "sk": _czech,
    "sl": _slovenian,
    "lt": _lithuanian,
    "lv": _latvian,
    "ro": _romanian,
    "ga": _irish,
    "mt": _maltese,
    "ar": _arabic,
    "he": _hebrew,
}


@cache
def _forms(lang: str) -> tuple[str, ...]:
    rule = _RULES.get(lang.split("-")[0], _one_other)
    seen = dict.fromkeys(rule(n) for n in range(0, 200))
    return tuple(seen)


PLURAL_FORMS: Mapping[str, tuple[str, ...]] = MappingProxyType({k: _forms(k) for k in _RULES})


def plural_category(lang: str, n: int) -> str:
    """The CLDR plural category of the whole number `n` in `lang`."""
    return _RULES.get(lang.split("-")[0], _one_other)(n)


def _load() -> dict[str, Strings]:
    folder = resources.files("consent").joinpath("locales")
    found: dict[str, Strings] = {}
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if item.name.endswith(".json"):
            data = json.loads(item.read_text(encoding="utf-8"))
            data["current_choice_date"] = _RECEIPT_PART.sub("", data["current_choice"])
            found[item.name.removesuffix(".json")] = MappingProxyType(data)
    return found


# "... saved on {date} (receipt {receipt})." without the parenthesis naming the receipt:
# the banner's dialog, on every page, must not show the receipt id to page scripts.
# (Japanese and Chinese use full-width parentheses.)
_RECEIPT_PART = re.compile("\\s*[(\uff08][^()\uff08\uff09]*\\{receipt\\}[)\uff09]")


UI_STRINGS: Mapping[str, Strings] = MappingProxyType(_load())
LANGUAGES: tuple[str, ...] = tuple(UI_STRINGS)


def strings(lang: str) -> Strings:
    """The UI strings for `lang`, falling back to its primary language, then English."""
    return UI_STRINGS.get(lang) or UI_STRINGS.get(lang.split("-")[0]) or UI_STRINGS["en"]


def direction(lang: str) -> str:
    """`rtl` or `ltr`."""
    return str(strings(lang).get("_dir", "ltr"))


_DURATION = re.compile(r"([1-9][0-9]{0,5}) (minute|hour|day|month|year)s?")


def format_duration(text: str, lang: str) -> str:
    """A policy duration (`session`, `13 months`) in `lang`."""
    ui = strings(lang)
    if text == "session":
        return str(ui["duration_session"])
    match = _DURATION.fullmatch(text)
    if match is None:
        return text
    return count(ui, lang, f"duration_{match[2]}", int(match[1]))


def count(ui: Strings, lang: str, key: str, n: int) -> str:
    """`ui[key]` (a mapping of plural forms) for the number `n`."""
    forms: Mapping[str, str] = ui[key]
    form = forms.get(plural_category(lang, n)) or forms["other"]
    return form.format(n=n)


# -- negotiation -------------------------------------------------------------------------

_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*")
_Q = re.compile(r"q=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)", re.IGNORECASE)
_ALIASES = {"no": "nb", "nn": "nb", "iw": "he", "zh-hans": "zh", "zh-cn": "zh", "zh-sg": "zh"}


class Negotiator:
    """Picks the language to show from `Accept-Language`, among the enabled ones.

    Matching, best q-value first (ties keep the header's order): the exact tag, then the
    tag with its last subtags cut (`pt-BR` -> `pt`), then an enabled regional variant of
    the same language (`pt` -> `pt-br`). `*` or no match gives the default. Results are
    cached per header (bounded).
    """

    def __init__(self, enabled: Iterable[str], default: str) -> None:
        self.enabled = {lang.lower(): lang for lang in enabled}
        self.default = default
        self._cache: dict[str, str] = {}

    def __call__(self, header: str | None) -> str:
        if not header:
            return self.default
        header = header[:1024]  # the parsed part, and a bounded cache key
        found = self._cache.get(header)
        if found is None:
            found = remember(self._cache, header, self._negotiate(header), 1024)
        return found

    @property
    def cached(self) -> int:
        """How many headers' answers are remembered: at most 1,024, each under at most the
        header's first 1,024 characters (the part that is read)."""
        return len(self._cache)

    def pick(self, wanted: str | None) -> str | None:
        """An explicit choice (`?lang=de`), if it is enabled (after the same fallbacks)."""
        if not wanted or len(wanted) > 35 or not _TAG.fullmatch(wanted) or wanted == "*":
            return None
        return self._match(wanted.lower())

    def _negotiate(self, header: str) -> str:
        ranges = _parse(header)
        for tag in ranges:
            if tag == "*":
                return self.default
            found = self._match(tag)
            if found is not None:
                return found
        return self.default

    def _match(self, tag: str) -> str | None:
        tag = _ALIASES.get(tag, tag)
        parts = tag.split("-")
        for end in range(len(parts), 0, -1):
            candidate = "-".join(parts[:end])
            candidate = _ALIASES.get(candidate, candidate)
            if candidate in self.enabled:
                return self.enabled[candidate]
        for key, lang in self.enabled.items():
            if key.split("-")[0] == parts[0]:
                return lang
        return None


def _parse(header: str) -> list[str]:
    """The language ranges of an Accept-Language header, best first; q=0 and malformed
    entries dropped."""
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        if not _TAG.fullmatch(tag):
            continue
        q = 1.0
        if params:
            match = _Q.fullmatch(params.strip())
            if match is None:
                continue
            q = float(match[1])
        if q > 0:
            weighted.append((-q, index, tag.lower()))
    return [tag for _, _, tag in sorted(weighted)]


def enabled_languages(languages: Sequence[str] | None) -> tuple[str, ...]:
    """The site's languages: its list, or every built-in one."""
    return tuple(languages) if languages else LANGUAGES
