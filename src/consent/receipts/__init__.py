"""Proof of consent: one receipt per decision, kept in a ConsentLog.

A receipt says what a visitor decided, when, how, and under which version of the
information they were shown. It never holds an IP address or a full user-agent: the
receipt id in the visitor's cookie is the link between the two (GDPR Art. 7(1),
EDPB Guidelines 05/2020 paras 104-108).

Two stores ship: `SQLiteConsentLog` (embedded, one file) and `PostgresConsentLog`
(psycopg 3, for sites with several app servers; the `postgres` extra). `open_log(url)`
picks one from a path or a `postgresql://` URL.
"""

from __future__ import annotations

from consent.receipts.browsers import browser_family
from consent.receipts.consent_log import (
    DEFAULT_RETENTION,
    ConsentLog,
    LogUnavailable,
    open_log,
)
from consent.receipts.postgres import PostgresConsentLog
from consent.receipts.receipt import METHODS, SOURCES, Method, Receipt
from consent.receipts.receipt_writer import ReceiptWriter, bounds_itself
from consent.receipts.snapshot import Snapshot
from consent.receipts.sqlite import SQLiteConsentLog
from consent.receipts.stats import DayStats, LogStats, summarize
from consent.receipts.times import parse_age

__all__ = [
    "DEFAULT_RETENTION",
    "METHODS",
    "SOURCES",
    "ConsentLog",
    "DayStats",
    "LogStats",
    "LogUnavailable",
    "Method",
    "PostgresConsentLog",
    "Receipt",
    "ReceiptWriter",
    "SQLiteConsentLog",
    "Snapshot",
    "bounds_itself",
    "browser_family",
    "open_log",
    "parse_age",
    "summarize",
]
