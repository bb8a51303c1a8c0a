"""The compliance report in Chromium: the charts render, nothing is fetched, nothing fails.

`CONSENT_SCREENSHOTS=1` saves the screenshot of the demo report to docs/img/report.png
(for the documentation); otherwise it goes to the test's temporary folder.

Checklist item: D1 (the decisions stored in a real consent log, counted and shown).
"""

from __future__ import annotations

import asyncio
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import ConsoleMessage, Page, Request, expect

from consent import ConsentState, Policy
from consent.lint import lint
from consent.policy import read_policy_data
from consent.receipts import LogStats, Method, Receipt, Snapshot, SQLiteConsentLog, summarize
from consent.report import render_report
from consent.signing import new_receipt_id
from consent.state import Action
from tests.browser.conftest import ROOT, NewPage
from tests.conftest import run_async

START = datetime(2026, 1, 5, tzinfo=UTC)
DAYS = 60
BROWSERS = ("chrome", "safari", "firefox", "edge", "samsung")
BROWSER_SHARES = (52, 22, 10, 8, 5)


def demo_policy(revision: int = 2) -> Policy:
    """The example site's policy, keeping choices for a year (which the lint warns about)."""
    data = read_policy_data(ROOT / "examples" / "consent.toml")
    return Policy.model_validate({**data, "revision": revision, "max_age_days": 365})


def demo_receipts(policy: Policy) -> list[tuple[Receipt, Snapshot]]:
    """About sixty days of plausible decisions: fewer at weekends, a campaign in week five,
    revision 2 of the policy from day 40 on. Seeded, so the screenshot is reproducible."""
    rng = random.Random(20260105)
    revisions = {1: demo_policy(1), 2: policy}
    snapshots = {n: Snapshot.of(p) for n, p in revisions.items()}
    optional = [c.id for c in policy.categories if not c.required]
    made = []
    for day in range(DAYS):
        base = 45 if (START + timedelta(days=day)).weekday() >= 5 else 80
        visits = int(base * rng.uniform(0.8, 1.2) * (1.8 if 28 <= day < 33 else 1))
        current = revisions[2 if day >= 40 else 1]
        for _ in range(visits):
            moment = START + timedelta(days=day, seconds=rng.randrange(86400))
            gpc = rng.random() < 0.06
            roll = rng.random()
            grant: list[str] = []
            action: Action
            method: Method
            if gpc:  # the banner keeps GPC categories off; most then allow statistics
                action, method, grant = "save", "save", ["analytics"]
            elif roll < 0.52:
                action, method = "accept_all", "accept_all"
            elif roll < 0.80:
                action, method = "reject_all", "reject_all"
            elif roll < 0.97:
                action, method = "save", "save"
                grant = [c for c in optional if rng.random() < 0.6]
                if "analytics" not in grant and rng.random() < 0.4:
                    grant.append("matomo")  # the self-hosted statistics only
            else:
                action, method = "reject_all", "withdrawal"
            state = ConsentState.from_choice(
                current, action, grant, issued_at=moment, receipt_id=new_receipt_id()
            )
            snapshot = snapshots[current.revision]
            browser = rng.choices(BROWSERS, BROWSER_SHARES)[0]
            receipt = Receipt.of(state, method=method, snapshot=snapshot, browser=browser, gpc=gpc)
            made.append((receipt, snapshot))
    return made


def demo_stats(policy: Policy, path: Path) -> LogStats:
    """Write the demo receipts to a SQLite consent log and count them back from it."""

    async def fill_and_count() -> LogStats:
        log = SQLiteConsentLog(path)
        try:
            await asyncio.gather(*(log.write(r, s) for r, s in demo_receipts(policy)))
            return await summarize(log.receipts())
        finally:
            await log.aclose()

    # The Playwright session keeps an event loop running in this thread.
    return run_async(fill_and_count())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    policy = demo_policy()
    stats = demo_stats(policy, tmp_path_factory.mktemp("report") / "consent.db")
    return render_report(
        policy,
        stats,
        lint(policy),
        source="/var/lib/example-news/consent.db",
        generated_at=datetime(2026, 3, 6, 7, 30, tzinfo=UTC),
    )


def open_report(page: Page, html: str) -> tuple[list[str], list[str]]:
    """Load `html` into `page`; returns the console errors and every URL requested."""
    errors: list[str] = []
    requests: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def on_request(request: Request) -> None:
        requests.append(request.url)

    page.on("console", on_console)
    page.on("request", on_request)
    page.set_content(html, wait_until="load")
    return errors, requests


def test_report_charts_render_without_errors(new_page: NewPage, demo: str, tmp_path: Path) -> None:
    page = new_page(viewport={"width": 1100, "height": 1900})
    errors, requests = open_report(page, demo)
    charts = page.locator("svg[role=img]")
    assert charts.count() == 3
    for i in range(3):
        chart = charts.nth(i)
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 100
    bars = page.locator("svg[data-chart=days] g.day")
    assert bars.count() == DAYS
    tallest = max(
        (bars.nth(i) for i in range(DAYS)),
        key=lambda bar: int(bar.get_attribute("data-decisions") or 0),
    )
    box = tallest.bounding_box()
    assert box is not None and box["height"] > 150 and box["width"] > 5
    assert errors == [] and requests == []
    shots = ROOT / "docs" / "img" if os.environ.get("CONSENT_SCREENSHOTS") == "1" else tmp_path
    # The page down to the policy check; the cookie declaration below it is a long table.
    box = page.locator("#findings").bounding_box()
    assert box is not None
    bottom = box["y"] + box["height"] + 16
    page.screenshot(
        path=str(shots / "report.png"),
        clip={"x": 0, "y": 0, "width": 1100, "height": bottom},
        full_page=True,
    )


def test_report_has_no_axe_violations(page: Page, demo: str) -> None:
    open_report(page, demo)
    results = Axe().run(page)
    assert [v["id"] for v in results.response["violations"]] == []


def test_report_prints_without_the_closed_tables(page: Page, demo: str) -> None:
    open_report(page, demo)
    page.emulate_media(media="print")
    expect(page.locator("svg[data-chart=days]")).to_be_visible()
    expect(page.locator("details").first).to_be_hidden()
    assert page.pdf(format="A4")[:4] == b"%PDF"


def test_report_fits_a_phone_screen(new_page: NewPage, demo: str) -> None:
    page = new_page(viewport={"width": 390, "height": 844})
    open_report(page, demo)
    box = page.locator("svg[data-chart=categories]").bounding_box()
    assert box is not None and 0 < box["x"] and box["x"] + box["width"] <= 390


def test_empty_report_renders(page: Page) -> None:
    policy = demo_policy()
    html = render_report(policy, LogStats(), [], source="empty.db", generated_at=datetime.now(UTC))
    errors, requests = open_report(page, html)
    expect(page.get_by_text("No decisions recorded in this period.")).to_be_visible()
    assert page.locator("svg").count() == 0 and errors == [] and requests == []
