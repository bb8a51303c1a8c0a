"""The receipt model's first home, kept so that old imports still work.

New code imports from `consent.receipts` or from the module that holds the name
(`receipt`, `snapshot`, `times`, `browsers`, `consent_log`).
"""

from __future__ import annotations

from consent.receipts.browsers import browser_family
from consent.receipts.consent_log import DEFAULT_RETENTION, LogUnavailable
from consent.receipts.receipt import METHODS, SOURCES, Method, Receipt, Source, method_of
from consent.receipts.snapshot import Snapshot
from consent.receipts.times import format_time, parse_age, parse_time

__all__ = [
    "DEFAULT_RETENTION",
    "METHODS",
    "SOURCES",
    "LogUnavailable",
    "Method",
    "Receipt",
    "Snapshot",
    "Source",
    "browser_family",
    "format_time",
    "method_of",
    "parse_age",
    "parse_time",
]
