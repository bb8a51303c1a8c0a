"""The compliance report: one self-contained HTML file for compliance staff.

The file holds its styles and charts inline (SVG drawn here, no script, no font, no link
to anything outside it), so it can be mailed, archived and printed as it is. Every text
taken from the policy or the log is escaped by the template engine.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from jinja2 import Environment

from consent.declaration import consent_cookie
from consent.lint import Finding
from consent.policy import Policy, Text, localize
from consent.receipts import METHODS, LogStats
from consent.render import environment, language_context

__all__ = ["render_report"]

Localize = Callable[[Text], str]

WIDTH = 720  # the viewBox width of every chart; the SVG itself scales to the page
# The per-day chart: plot area and the most date labels the axis gets.
DAY_LEFT, DAY_TOP, DAY_PLOT_W, DAY_PLOT_H = 48, 12, 640, 200
DAY_LABELS = 8
LABEL_STEPS = (1, 2, 3, 7, 14, 30, 61, 91, 182, 365, 730, 1461)
# The acceptance charts: one row per category or service.
ROW, BAR_H, ROW_TOP = 24, 14, 22
BAR_X, BAR_W = 220, 320
LABEL_CHARS = 30
_GEOMETRY = {
    "left": DAY_LEFT,
    "top": DAY_TOP,
    "plot_w": DAY_PLOT_W,
    "plot_h": DAY_PLOT_H,
    "bar_x": BAR_X,
    "bar_w": BAR_W,
    "bar_h": BAR_H,
}
METHOD_NAMES = {
    "accept_all": "Accept all",
    "reject_all": "Reject all",
    "save": "Own choice (save)",
    "withdrawal": "Withdrawal",
}


@dataclass(frozen=True)
class Segment:
    """One method's part of one day's bar."""

    method: str
    css: str
    count: int
    y: float
    height: float


@dataclass(frozen=True)
class DayBar:
    day: date
    decisions: int
    x: float
    width: float
    segments: list[Segment]


@dataclass(frozen=True)
class Tick:
    label: str
    at: float


@dataclass(frozen=True)
class DayChart:
    first: date
    last: date
    days: int
    height: float
    bars: list[DayBar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    busiest: DayBar


@dataclass(frozen=True)
class Row:
    """One bar of an acceptance chart (and one line of its table)."""

    id: str
    label: str
    group: str
    required: bool
    known: bool
    granted: int
    asked: int
    y: float = 0.0

    @property
    def rate(self) -> float:
        return self.granted / self.asked if self.asked else 0.0

    @property
    def short(self) -> str:
        return self.label if len(self.label) <= LABEL_CHARS else self.label[: LABEL_CHARS - 1] + "…"

    @property
    def length(self) -> float:
        return round(self.rate * BAR_W, 2)


@dataclass(frozen=True)
class RateChart:
    rows: list[Row]
    height: float
    grid: list[Tick] = field(
        default_factory=lambda: [Tick(f"{p}%", BAR_X + BAR_W * p / 100) for p in range(0, 101, 25)]
    )


def _method_css(method: str) -> str:
    return f"m{METHODS.index(method)}" if method in METHODS else "m-other"


def _nice_step(peak: int, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving at most `ticks` intervals."""
    raw = max(peak, 1) / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return max(1, math.ceil(step))


def _day_chart(stats: LogStats) -> DayChart:
    first, last = min(stats.days), max(stats.days)
    days = (last - first).days + 1
    peak = max(d.decisions for d in stats.days.values())
    step = _nice_step(peak)
    top = step * math.ceil(peak / step)
    scale = DAY_PLOT_H / top
    slot = DAY_PLOT_W / days
    # Wide slots keep a gap between bars; narrow ones touch, so long periods read as an area.
    width = slot * 0.8 if slot >= 4 else slot
    bottom = DAY_TOP + DAY_PLOT_H
    # Methods outside METHODS can only come from a foreign or damaged log: drawn last, in grey.
    others = {m for d in stats.days.values() for m in d.methods} - set(METHODS)
    order = [*METHODS, *sorted(others)]
    bars = []
    for day, per_day in sorted(stats.days.items()):
        x = DAY_LEFT + (day - first).days * slot + (slot - width) / 2
        y, segments = float(bottom), []
        for method in order:
            count = per_day.methods[method]
            if count:
                height = count * scale
                y -= height
                segments.append(
                    Segment(method, _method_css(method), count, round(y, 3), round(height, 3))
                )
        bars.append(DayBar(day, per_day.decisions, round(x, 3), round(width, 3), segments))
    every = next((s for s in LABEL_STEPS if math.ceil(days / s) <= DAY_LABELS), days)
    x_ticks = [
        Tick((first + timedelta(days=i)).isoformat(), round(DAY_LEFT + (i + 0.5) * slot, 2))
        for i in range(0, days, every)
    ]
    y_ticks = [Tick(f"{v:,}", round(bottom - v * scale, 2)) for v in range(0, top + 1, step)]
    busiest = max(bars, key=lambda b: (b.decisions, -b.x))
    return DayChart(first, last, days, bottom + 28, bars, y_ticks, x_ticks, busiest)


def _rate_chart(rows: list[Row]) -> RateChart:
    placed = [replace(row, y=ROW_TOP + i * ROW) for i, row in enumerate(rows)]
    return RateChart(placed, ROW_TOP + len(rows) * ROW + 6)


def _category_rows(policy: Policy, stats: LogStats, t: Localize) -> list[Row]:
    rows = [
        Row(c.id, t(c.title), "", c.required, True, stats.granted[c.id], stats.categories[c.id])
        for c in policy.categories
    ]
    known = {c.id for c in policy.categories}
    rows += [
        Row(id, id, "", False, False, stats.granted[id], n)
        for id, n in stats.categories.items()
        if id not in known
    ]
    return rows


def _service_rows(policy: Policy, stats: LogStats, t: Localize) -> list[Row]:
    titles = {c.id: t(c.title) for c in policy.categories}
    rows = [
        Row(
            s.id,
            t(s.title),
            titles[s.category],
            s.category in policy.required_ids,
            True,
            stats.services_granted[s.id],
            stats.services[s.id],
        )
        for c in policy.categories
        for s in policy.services_of(c.id)
    ]
    known = {s.id for s in policy.services}
    rows += [
        Row(id, id, "", False, False, stats.services_granted[id], n)
        for id, n in stats.services.items()
        if id not in known
    ]
    return rows


def _counts(counter: Counter[Any], total: int, keys: list[Any] | None = None) -> list[Any]:
    """(key, count, share) rows: `keys` first in their order (zeros kept), then the rest."""
    keys = list(keys or [])
    keys += [k for k, _ in counter.most_common() if k not in keys]
    return [(k, counter[k], counter[k] / total if total else 0.0) for k in keys]


def report_environment() -> Environment:
    """The Jinja2 environment of the HTML reports (this one and `consent scan`'s): the
    package's one environment."""
    return environment()


def render_report(
    policy: Policy,
    stats: LogStats,
    findings: list[Finding],
    *,
    source: str,
    generated_at: datetime,
    lang: str | None = None,
    cookie_name: str = "consent",
) -> str:
    """The compliance report as a complete HTML document.

    Args:
        policy: the policy in force; its declaration and its lint findings are shown.
        stats: the counted receipts of the period (`consent.receipts.summarize`).
        findings: the lint findings of `policy` (`consent.lint.lint`).
        source: where the receipts came from, as shown to the reader (a file name or a
            URL without its password).
        generated_at: when the report was made; shown in UTC (a naive time is taken as UTC).
        lang: the language of the policy's texts (default: the policy's default language).
            The report's own headings are in English.
        cookie_name: the consent cookie's name (the middleware's `cookie_name`), listed
            in the declaration.
    """
    lang = lang or policy.default_language
    if generated_at.tzinfo is None:
        generated_at = generated_at.replace(tzinfo=UTC)

    def t(text: Text) -> str:
        return localize(text, lang, policy.default_language)

    total = stats.decisions
    data = total > 0
    ordered = sorted(findings, key=lambda f: f.level != "error")
    return (
        report_environment()
        .get_template("consent/report.html")
        .render(
            policy=policy,
            stats=stats,
            findings=ordered,
            errors=sum(f.level == "error" for f in findings),
            source=source,
            generated=generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            name=t(policy.controller) if policy.controller else None,
            width=WIDTH,
            days=_day_chart(stats) if data else None,
            categories=_rate_chart(_category_rows(policy, stats, t)) if data else None,
            services=_rate_chart(_service_rows(policy, stats, t))
            if data and policy.services
            else None,
            methods=_counts(stats.methods, total, list(METHODS)),
            browsers=_counts(stats.browsers, total),
            revisions=sorted(_counts(stats.revisions, total)),
            optional=[c for c in policy.categories if not c.required],
            g=_GEOMETRY,
            pct=lambda share: f"{share:.1%}",
            num=lambda n: f"{n:,}",
            plain=str,
            method_css=_method_css,
            method_name=lambda m: METHOD_NAMES.get(m, m),
            revision_name=lambda r: f"{r} (current)" if r == policy.revision else str(r),
            # What the shared declaration template expects.
            level=3,
            consent_cookie=consent_cookie(policy, cookie_name),
            **language_context(policy, lang),
        )
    )
