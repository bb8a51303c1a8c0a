"""The cookie scanner (`consent scan`): audit a running site in a real browser.

`crawl` drives Chromium through Playwright (the `scan` extra) and is the only part that
imports it; `classify`, `findings`, `suggest` and `render` are plain Python over the data
in `model`.
"""

from consent.scan.classify import Classifier, Verdict
from consent.scan.findings import Finding, find
from consent.scan.model import (
    Inventory,
    ScanResult,
    SeenCookie,
    SeenRequest,
    SeenScript,
    SeenStorage,
)
from consent.scan.render import render
from consent.scan.suggest import suggest

__all__ = [
    "Classifier",
    "Finding",
    "Inventory",
    "ScanResult",
    "SeenCookie",
    "SeenRequest",
    "SeenScript",
    "SeenStorage",
    "Verdict",
    "find",
    "render",
    "suggest",
]
