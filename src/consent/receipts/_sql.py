"""What the two stores share: the async bridge to threads, checks and column order."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from consent.bounded_memo import remember

if TYPE_CHECKING:
    from consent.receipts._model import Receipt

# Column order of `consent_receipts`, shared by both stores' INSERT and SELECT.
COLUMNS = (
    "id",
    "recorded_at",
    "revision",
    "fingerprint",
    "snapshot",
    "method",
    "categories",
    "services",
    "previous_id",
    "browser",
    "language",
    "gpc",
    "source",
)
PAGE = 1000  # receipts per round trip when streaming


def check_retention(retention: timedelta) -> timedelta:
    """A positive, finite retention; ValueError naming the fix otherwise."""
    if not isinstance(retention, timedelta) or retention <= timedelta(0):
        raise ValueError(
            f"retention must be a positive timedelta, not {retention!r}. Fix: "
            "retention=timedelta(days=1825); receipts are never kept forever"
        )
    return retention


def check_timeout(timeout: float) -> float:
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)


class ReceiptRows:
    """Rows for `consent_receipts`, with the JSON text of a receipt's categories or services
    made once per set of choices.

    Most decisions repeat one of a few sets (accept all, reject all). The keys are the
    policy's ids, so the cache is bounded by the policy, not by what visitors send."""

    def __init__(self) -> None:
        self._texts: dict[tuple[tuple[str, bool], ...], str] = {}

    def json(self, choices: Mapping[str, bool]) -> str:
        key = tuple(choices.items())
        text = self._texts.get(key)
        if text is None:
            text = remember(self._texts, key, json.dumps(dict(choices)), 1024)
        return text

    def row(self, receipt: Receipt, recorded_at: Any, gpc: Any) -> tuple[Any, ...]:
        """The receipt as a row of `consent_receipts`, in COLUMNS order; each store passes
        the time and the GPC flag in its own column types."""
        return (
            receipt.id,
            recorded_at,
            receipt.revision,
            receipt.fingerprint,
            receipt.snapshot,
            receipt.method,
            self.json(receipt.categories),
            self.json(receipt.services),
            receipt.previous_id,
            receipt.browser,
            receipt.language,
            gpc,
            receipt.source,
        )
