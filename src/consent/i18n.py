"""Visitor-facing UI strings. English today; more languages are added as data later."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["UI_STRINGS", "strings"]

_EN: dict[str, str] = {
    "banner_title": "Your privacy choices",
    "banner_text": (
        "We would like to use optional cookies and similar technologies. Nothing optional "
        "runs until you choose, and you can change your mind at any time."
    ),
    "accept_all": "Accept all",
    "reject_all": "Reject all",
    "settings": "Settings",
    "save": "Save choices",
    "close": "Close",
    "preferences_title": "Privacy settings",
    "preferences_intro": (
        "Choose which cookies and similar technologies this site may use. Essential ones keep "
        "the site working and cannot be switched off. You can change or withdraw your choice "
        "at any time from the \u201cCookie settings\u201d link on every page."
    ),
    "always_on": "Always on",
    "services": "Services and cookies",
    "no_cookies": "No cookies",
    "cookie": "Cookie",
    "service": "Service",
    "purpose": "Purpose",
    "duration": "Duration",
    "controller": "Responsible for this site:",
    "privacy_policy": "Privacy policy",
    "declaration": "Cookie declaration",
    "settings_link": "Cookie settings",
    "saved": "Privacy settings saved",
    "current_choice": "Your current choice was saved on {date} (receipt {receipt}).",
    "no_choice": "You have not made a choice yet. Nothing optional is active until you do.",
    "placeholder": "This content is provided by {service}, which may set cookies ({category}).",
    "allow_service": "Allow {service}",
    "revision": "Policy revision {revision}. Choices are kept for {days} days.",
    "change_choice": "Change your choice",
    "gpc_note": (
        "Opt-out preference signal honoured: your browser asks sites not to sell or share "
        "your data, so these stay off: {categories}."
    ),
    "gpc_off": "Off (opt-out signal)",
}

UI_STRINGS: Mapping[str, Mapping[str, str]] = MappingProxyType({"en": MappingProxyType(_EN)})


def strings(lang: str) -> Mapping[str, str]:
    """The UI strings for `lang`, falling back to English."""
    return UI_STRINGS.get(lang) or UI_STRINGS.get(lang.split("-")[0]) or UI_STRINGS["en"]
