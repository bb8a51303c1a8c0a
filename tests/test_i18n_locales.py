"""Every built-in locale is complete and consistent with English (issue 7)."""

from __future__ import annotations

import re
import string
from typing import Any

import pytest

from consent.i18n import LANGUAGES, PLURAL_FORMS, UI_STRINGS

EN = UI_STRINGS["en"]
EU = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it",
    "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
)  # fmt: skip
RTL = ("ar", "he")


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_at_least_30_languages_with_every_eu_language_and_two_rtl_ones() -> None:
    assert len(LANGUAGES) >= 30
    assert set(EU) <= set(LANGUAGES)
    assert set(RTL) <= set(LANGUAGES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_locale_has_every_key_and_the_same_placeholders(lang: str) -> None:
    ui = UI_STRINGS[lang]
    assert set(ui) == set(EN), f"{lang}: missing {set(EN) - set(ui)}, extra {set(ui) - set(EN)}"
    assert isinstance(ui["_name"], str) and ui["_name"]
    assert ui["_dir"] == ("rtl" if lang in RTL else "ltr")
    for key, english in EN.items():
        value: Any = ui[key]
        if isinstance(english, str):
            assert isinstance(value, str) and value.strip(), f"{lang}.{key} is empty"
            assert fields(value) == fields(english), f"{lang}.{key}: placeholders differ"
            assert value == value.strip() and "  " not in value, f"{lang}.{key}: spacing"
        else:
            assert isinstance(value, dict), f"{lang}.{key} needs plural forms"
            wanted = set(PLURAL_FORMS.get(lang, ("one", "other"))) | {"other"}
            assert set(value) == wanted, f"{lang}.{key}: forms {set(value)} != {wanted}"
            for form, text in value.items():
                assert fields(text) <= {"n"}, f"{lang}.{key}.{form}: unknown placeholder"
                if form not in ("zero", "one", "two"):
                    assert "{n}" in text, f"{lang}.{key}.{form} must show the number"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_are_not_english_left_overs(lang: str) -> None:
    """Buttons and long texts must be translated (names of things may stay alike)."""
    if lang == "en":
        return
    ui = UI_STRINGS[lang]
    for key in ("accept_all", "reject_all", "banner_text", "preferences_intro", "gpc_note"):
        assert ui[key] != EN[key], f"{lang}.{key} is still English"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_intro_names_the_settings_link_as_it_is_labelled(lang: str) -> None:
    """The settings text tells visitors where to withdraw: the link's own label."""
    ui = UI_STRINGS[lang]
    assert ui["settings_link"] in ui["preferences_intro"], lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_markup_in_strings(lang: str) -> None:
    for key, value in UI_STRINGS[lang].items():
        texts = value.values() if isinstance(value, dict) else [value]
        for text in texts:
            assert not re.search(r"[<>]", text), f"{lang}.{key} contains markup"
