"""Derive the known-cookie catalog from the Open Cookie Database (facts only).

Reads ../shared/data/open-cookie-database/open-cookie-database.csv (beside the project) or
the path given, keeps the facts (name, wildcard, platform, category, domain, retention) and
drops the descriptions and the rest, then writes src/consent/catalog/cookies.csv.
Run with `.venv/bin/python tools/build_catalog.py [SOURCE.csv]`.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "open-cookie-database" / "open-cookie-database.csv"
TARGET = ROOT / "src" / "consent" / "catalog" / "cookies.csv"
COLUMNS = ("name", "wildcard", "platform", "category", "domain", "retention")


def _order(row: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    return row[0].lower(), row


def main(argv: list[str]) -> None:
    source = Path(argv[0]) if argv else SOURCE
    rows: set[tuple[str, ...]] = set()
    with source.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            name = row["Cookie / Data Key name"].strip()
            if not name:
                continue
            rows.add(
                (
                    name,
                    "1" if row["Wildcard match"].strip() == "1" else "0",
                    row["Platform"].strip(),
                    row["Category"].strip(),
                    row["Domain"].strip(),
                    row["Retention period"].strip(),
                )
            )
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    with TARGET.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        ordered: list[tuple[str, ...]] = sorted(rows, key=_order)
        writer.writerows(ordered)
    print(f"wrote {len(rows)} cookies to {TARGET}")


if __name__ == "__main__":
    main(sys.argv[1:])
