"""`consent report`: the compliance report, one self-contained HTML file.

Checklist items: D1 (the decision records, counted and shown to compliance staff) and B11
(a misclassified "essential" entry is listed as an error with its fix).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode

from consent import ConsentState, Policy, load_policy
from consent.lint import Finding, lint
from consent.receipts import LogStats, Method, Receipt, Snapshot
from consent.report import BAR_W, BAR_X, DAY_LABELS, DAY_LEFT, DAY_PLOT_W, render_report
from consent.signing import new_receipt_id
from consent.state import Action
from tests.conftest import POLICY_DATA

POLICY = Policy.model_validate(POLICY_DATA)
SNAPSHOTS: dict[str, Snapshot] = {}
DAY = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
GENERATED = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
EVIL = "<script>alert(1)</script>"


def receipt(
    action: Action,
    grant: Iterable[str] = (),
    *,
    days: int = 0,
    policy: Policy = POLICY,
    method: Method | None = None,
    **fields: Any,
) -> Receipt:
    state = ConsentState.from_choice(
        policy, action, grant, issued_at=DAY + timedelta(days=days), receipt_id=new_receipt_id()
    )
    # Snapshot.of hashes every template and asset: once per policy is enough.
    snapshot = SNAPSHOTS.setdefault(policy.fingerprint + str(policy.revision), Snapshot.of(policy))
    return Receipt.of(state, method=method or action, snapshot=snapshot, **fields)


def stats_of(receipts: Iterable[Receipt]) -> LogStats:
    stats = LogStats()
    for item in receipts:
        stats.add(item)
    return stats


def render(
    stats: LogStats | None = None,
    findings: list[Finding] | None = None,
    policy: Policy = POLICY,
    **options: Any,
) -> str:
    options.setdefault("source", "consent.db")
    options.setdefault("generated_at", GENERATED)
    return render_report(policy, stats or LogStats(), findings or [], **options)


def parse(html: str) -> LexborHTMLParser:
    return LexborHTMLParser(html)


def one(root: LexborHTMLParser | LexborNode, selector: str) -> LexborNode:
    node = root.css_first(selector)
    assert node is not None, selector
    return node


def text(root: LexborHTMLParser | LexborNode, selector: str) -> str:
    return one(root, selector).text()


def rows(document: LexborHTMLParser, chart: str) -> dict[str, LexborNode]:
    return {str(g.attributes["data-id"]): g for g in document.css(f"svg[data-chart={chart}] g.row")}


def number(node: LexborNode, name: str) -> float:
    return float(str(node.attributes[name]))


def variant(**changes: Any) -> Policy:
    data: dict[str, Any] = json.loads(json.dumps(POLICY_DATA))
    data.update(changes)
    return Policy.model_validate(data)


MIXED = [
    receipt("accept_all", browser="firefox"),
    receipt("reject_all", browser="chrome", gpc=True),
    receipt("save", ["analytics"], days=1, browser="chrome"),
    receipt("save", ["matomo"], days=1, browser="safari"),
]


def test_report_is_self_contained() -> None:
    """No script, no font, no stylesheet or image from anywhere: the file stands alone."""
    policy = load_policy("examples/consent.toml")
    html = render(stats_of([receipt("accept_all", policy=policy)]), policy=policy)
    assert html.startswith("<!doctype html>")
    assert "<script" not in html.lower()
    document = parse(html)
    for tag in ("link", "img", "iframe", "object", "embed", "script", "image", "use"):
        assert document.css(tag) == [], tag
    for node in document.css("[src], [href], [xlink\\:href]"):
        for name in ("src", "href", "xlink:href"):
            assert not re.match(r"\s*(https?:)?//", str(node.attributes.get(name) or "")), node
    style = " ".join(node.text() for node in document.css("style"))
    assert "@import" not in style and "url(" not in style and "@font-face" not in style
    assert "@media print" in style


def test_charts_are_labelled_images_with_a_table() -> None:
    document = parse(render(stats_of(MIXED)))
    charts = document.css("svg")
    assert {c.attributes["data-chart"] for c in charts} == {"days", "categories", "services"}
    for chart in charts:
        assert chart.attributes["role"] == "img"
        title_id, desc_id = str(chart.attributes["aria-labelledby"]).split()
        assert text(chart, f"title#{title_id}").strip()
        assert text(chart, f"desc#{desc_id}").strip()
    # Each chart has its figures as a table in a <details> below it.
    assert len(document.css("details table")) == 3


def test_hostile_policy_texts_are_escaped() -> None:
    """Ids are slugs, so a policy cannot carry markup in them; texts can, and are escaped."""
    with pytest.raises(ValueError, match="not a valid id"):
        variant(categories=[{"id": "<script>", "title": "x", "required": True}], services=[])
    data: dict[str, Any] = json.loads(json.dumps(POLICY_DATA))
    data["controller"] = EVIL
    data["categories"][1]["title"] = EVIL
    data["categories"][1]["description"] = EVIL
    data["services"][2]["title"] = EVIL
    data["services"][2]["cookies"][0]["purpose"] = EVIL
    policy = Policy.model_validate(data)
    html = render(
        stats_of([receipt("accept_all", policy=policy)]),
        [Finding("warning", EVIL, EVIL, EVIL, EVIL)],
        policy=policy,
        source=EVIL,
    )
    assert "<script" not in html
    document = parse(html)
    assert text(document, "h1") == f"Consent report: {EVIL}"
    assert text(document, "[data-source]") == EVIL
    assert text(rows(document, "categories")["analytics"], "text.label").startswith("<script>")
    assert text(document, "[data-table=findings] tbody td:last-child") == EVIL
    assert EVIL in [p.text() for p in document.css(".cc-declaration p")]


def test_hostile_values_from_the_log_are_escaped() -> None:
    """The log is a database: its ids, browser names and methods are not validated on read."""
    hostile = dataclasses.replace(
        receipt("accept_all"),
        browser="<img src=x onerror=alert(1)>",
        method=EVIL,  # type: ignore[arg-type]
        categories={"essential": True, "</svg><script>x</script>": True},
    )
    html = render(stats_of([hostile]))
    assert "<script" not in html and "<img" not in html
    document = parse(html)
    unknown = rows(document, "categories")["</svg><script>x</script>"]
    assert "not in policy" in text(unknown, "text.value")
    cells = [td.text() for td in document.css("table.counts tbody th")]
    assert "<img src=x onerror=alert(1)>" in cells and EVIL in cells


def test_day_bars_are_proportional_to_counts() -> None:
    """D1: the per-day chart draws every recorded decision, on a continuous calendar."""
    counts = {0: 2, 1: 6, 3: 3}  # nothing on day 2
    receipts = [receipt("accept_all", days=day) for day, n in counts.items() for _ in range(n)]
    receipts.append(receipt("reject_all", days=1, method="withdrawal"))
    document = parse(render(stats_of(receipts)))
    bars = document.css("svg[data-chart=days] g.day")
    assert [b.attributes["data-day"] for b in bars] == ["2026-03-10", "2026-03-11", "2026-03-13"]
    assert [number(b, "data-decisions") for b in bars] == [2, 7, 3]
    segments = [s for b in bars for s in b.css("rect")]
    scales = {round(number(s, "height") / number(s, "data-count"), 2) for s in segments}
    assert len(scales) == 1
    heights = [sum(number(s, "height") for s in b.css("rect")) for b in bars]
    assert heights[1] == pytest.approx(heights[0] * 7 / 2, abs=0.01)
    assert [s.attributes["data-method"] for s in bars[1].css("rect")] == [
        "accept_all",
        "withdrawal",
    ]
    x = [number(one(b, "rect"), "x") for b in bars]
    assert x[2] - x[1] == pytest.approx(2 * (x[1] - x[0]))


def test_rates_for_known_receipts() -> None:
    """D1: acceptance per category and service, from explicit true/false in each record."""
    document = parse(render(stats_of(MIXED)))
    expected = {"essential": (4, 4), "analytics": (2, 4), "marketing": (1, 4)}
    categories = rows(document, "categories")
    assert {
        id: (number(g, "data-granted"), number(g, "data-asked")) for id, g in categories.items()
    } == expected
    analytics = categories["analytics"]
    assert number(analytics.css("rect")[1], "width") == pytest.approx(BAR_W / 2)
    assert text(analytics, "text.value") == "50.0% · 2/4"
    services = rows(document, "services")
    # A service saved on its own does not grant its category, but counts for the service.
    assert number(services["matomo"], "data-granted") == 3
    assert number(services["google-analytics"], "data-granted") == 2
    assert number(services["youtube"], "data-granted") == 1
    table = [
        [c.text() for c in tr.css("th, td")]
        for tr in document.css("[data-table=categories] tbody tr")
    ]
    assert table[1] == ["Analytics", "analytics", "no", "2", "4", "50.0%"]


def test_required_categories_are_marked() -> None:
    document = parse(render(stats_of(MIXED)))
    marked = {
        chart: {
            id for id, g in rows(document, chart).items() if g.attributes["data-required"] == "true"
        }
        for chart in ("categories", "services")
    }
    assert marked == {"categories": {"essential"}, "services": {"php-session", "wordpress"}}
    essential = rows(document, "categories")["essential"]
    assert "required" in str(essential.attributes["class"]).split()
    assert text(essential, "text.value") == "100.0% · required"


def test_tables_by_method_browser_revision_and_gpc() -> None:
    revised = variant(revision=2)
    receipts = [
        *MIXED,
        receipt("reject_all", days=2, method="withdrawal", policy=revised, browser="firefox"),
    ]
    document = parse(render(stats_of(receipts), policy=revised))

    def table(caption: str) -> dict[str, str]:
        found = [t for t in document.css("table.counts") if text(t, "caption") == caption]
        return {text(tr, "th"): text(tr, "td") for tr in found[0].css("tbody tr")}

    assert table("By method") == {
        "Accept all": "1",
        "Reject all": "1",
        "Own choice (save)": "2",
        "Withdrawal": "1",
    }
    assert table("By browser family") == {"chrome": "2", "firefox": "2", "safari": "1"}
    assert table("By policy revision") == {"1": "4", "2 (current)": "1"}
    assert text(document, "[data-gpc]") == "1 (20.0%)"
    assert text(document, "[data-total]") == "5"


def test_empty_log_says_so_instead_of_charts() -> None:
    document = parse(render(LogStats(), lint(variant(max_age_days=365))))
    assert text(document, "[data-empty]") == "No decisions recorded in this period."
    assert document.css("svg") == [] and document.css("table.counts") == []
    assert text(document, "[data-period]") == "no decisions recorded"
    # The policy half of the report does not depend on the log.
    assert document.css_first("[data-table=findings] tr[data-level=warning]")
    assert len(document.css(".cc-declaration table")) == 3


def test_findings_list_level_where_and_fix() -> None:
    """B11: a known analytics cookie declared essential is an error, listed first with its fix."""
    data: dict[str, Any] = json.loads(json.dumps(POLICY_DATA))
    data["max_age_days"] = 365
    data["services"][0]["cookies"].append({"name": "_gid", "purpose": "x", "duration": "1 day"})
    policy = Policy.model_validate(data)
    findings = lint(policy)
    assert {f.level for f in findings} == {"error", "warning"}
    document = parse(render(findings=findings, policy=policy))
    lines = [
        [td.text() for td in tr.css("td")] for tr in document.css("[data-table=findings] tbody tr")
    ]
    assert lines[0][:3] == [
        "error",
        "misclassified-essential",
        "services[0] (id 'php-session').cookies[1] (_gid)",
    ]
    assert lines[0][4] == "move the service to a category visitors can refuse"
    assert lines[-1][:3] == ["warning", "max-age", "max_age_days"]
    assert "1 error(s) and" in text(document, "#findings p")


def test_no_findings_says_so() -> None:
    document = parse(render())
    assert document.css_first("[data-no-findings]")
    assert document.css("[data-table=findings]") == []


def test_header_names_source_period_and_utc_time() -> None:
    berlin = timezone(timedelta(hours=2))
    html = render(
        stats_of(MIXED),
        source="/var/lib/site/consent.db",
        generated_at=datetime(2026, 4, 1, 14, 5, 9, tzinfo=berlin),
    )
    document = parse(html)
    assert text(document, "[data-generated]") == "2026-04-01 12:05:09 UTC"
    assert text(document, "[data-source]") == "/var/lib/site/consent.db"
    period = text(document, "[data-period]")
    assert period.startswith("2026-03-10T09:30:00Z to 2026-03-11T09:30:00Z")


def test_language_picks_policy_texts() -> None:
    data: dict[str, Any] = json.loads(json.dumps(POLICY_DATA))
    data["categories"][1]["title"] = {"en": "Analytics", "de": "Statistik"}
    policy = Policy.model_validate(data)
    document = parse(
        render(stats_of([receipt("accept_all", policy=policy)]), policy=policy, lang="de")
    )
    assert text(rows(document, "categories")["analytics"], "text.label") == "Statistik"
    assert text(document, "#cc-decl-analytics") == "Statistik"
    assert one(document, ".cc-declaration").attributes["lang"] == "de"


def test_400_days_stay_within_the_plot() -> None:
    receipts = [receipt("accept_all" if d % 3 else "reject_all", days=d) for d in range(400)]
    html = render(stats_of(receipts))
    assert len(html) < 1_000_000
    document = parse(html)
    bars = document.css("svg[data-chart=days] g.day rect")
    assert len(bars) == 400
    for bar in bars:
        x, width = number(bar, "x"), number(bar, "width")
        assert width > 0 and DAY_LEFT <= x and x + width <= DAY_LEFT + DAY_PLOT_W + 0.01
    labels = [t.text() for t in document.css("svg[data-chart=days] text[text-anchor=middle]")]
    assert 2 <= len(labels) <= DAY_LABELS and len(set(labels)) == len(labels)


def test_many_categories_get_one_row_each() -> None:
    categories = [{"id": f"c{i}", "title": f"Category {i} " + "x" * i} for i in range(60)]
    policy = variant(
        categories=[{"id": "essential", "title": "Essential", "required": True}, *categories],
        services=[],
    )
    stats = stats_of([receipt("save", ["c7"], policy=policy)])
    document = parse(render(stats, policy=policy))
    chart = rows(document, "categories")
    assert len(chart) == 61 and document.css("svg[data-chart=services]") == []
    y = [number(one(g, "rect"), "y") for g in chart.values()]
    assert all(b - a >= 14 for a, b in itertools.pairwise(y))
    label = text(chart["c59"], "text.label")
    assert label.endswith("…") and len(label) <= 30
    assert text(chart["c59"], "title").startswith("Category 59 " + "x" * 59)
    assert number(chart["c7"].css("rect")[1], "x") == BAR_X
