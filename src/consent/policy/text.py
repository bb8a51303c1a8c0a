"""Visitor-facing words: a text in one or several languages, and the banner's own words."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from consent.policy.base import PolicyModel
from consent.policy.problems import RuleError

__all__ = ["LANGUAGE_TAG", "Banner", "Text", "localize"]

LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
"""The language tags a policy may use: `en`, `pt-BR`, ..."""


def _text(value: str | dict[str, str]) -> str | dict[str, str]:
    if isinstance(value, dict):
        if not value:
            raise RuleError("is an empty mapping", "give at least one language, e.g. {en = '...'}")
        for lang in value:
            if not LANGUAGE_TAG.fullmatch(lang):
                raise RuleError(
                    f"{lang!r} is not a language tag", "use a code such as 'en' or 'pt-BR'"
                )
    return value


Text = Annotated[str | dict[str, str], AfterValidator(_text)]
"""A visitor-facing text: a plain string, or a mapping of language tag -> string."""


def localize(text: Text, lang: str, default: str = "en") -> str:
    """Pick the best string of `text` for `lang`, falling back to `default`, then any."""
    if isinstance(text, str):
        return text
    for candidate in (lang, lang.split("-")[0], default):
        if candidate in text:
            return text[candidate]
    return next(iter(text.values()))


class Banner(PolicyModel):
    """The site's own words for the first layer (defaults come with the UI strings)."""

    title: Text | None = None
    text: Text | None = None
    gpc_note: bool = True
