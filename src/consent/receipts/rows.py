"""The rows of `consent_receipts` as both stores write and read them: column order,
the row of a receipt, and how many rows a page of a stream holds."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from consent.bounded_memo import remember

__all__ = ["COLUMNS", "PAGE", "ReceiptRows"]

if TYPE_CHECKING:
    from consent.receipts.receipt import Receipt

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
