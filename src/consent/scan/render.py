"""The scan's output: a terminal table, JSON, or a self-contained HTML report in the look of
the compliance report (no script, no external resource; every text escaped)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Literal

from consent.report import report_environment
from consent.scan.classify import Classifier, Verdict
from consent.scan.findings import Finding, count_levels
from consent.scan.model import PHASE_TITLES, PHASES, Inventory, ScanResult, SeenCookie
from consent.scan.suggest import duration_text

__all__ = ["FORMATS", "Format", "render", "summary_line"]

Format = Literal["text", "json", "html"]
FORMATS: tuple[Format, ...] = ("text", "json", "html")
_CELL = 64  # the widest a text-table cell gets


def expiry_text(cookie: SeenCookie, now: float) -> str:
    """`session`, or the expiry date with the time left: `2027-03-01 (1 year)`."""
    if cookie.expires is None:
        return "session"
    day = datetime.fromtimestamp(cookie.expires, UTC).strftime("%Y-%m-%d")
    return f"{day} ({duration_text(cookie.expires - now)})"


def flags_text(cookie: SeenCookie) -> str:
    flags = [f for f, on in (("HttpOnly", cookie.http_only), ("Secure", cookie.secure)) if on]
    if cookie.same_site:
        flags.append(f"SameSite={cookie.same_site}")
    return " ".join(flags)


def set_by_text(cookie: SeenCookie) -> str:
    return f"{cookie.set_by} {cookie.source}".strip()


def summary_line(findings: Sequence[Finding]) -> str:
    counts = count_levels(findings)
    return (
        f"{counts['violation']} violation(s), {counts['error']} error(s), "
        f"{counts['warning']} warning(s)"
    )


def _clip(text: str) -> str:
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "    ") -> list[str]:
    cells = [[_clip(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in [list(head), *cells]) for i in range(len(head))]

    def line(row: Sequence[str]) -> str:
        return indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    return [line(head), *map(line, cells)]


def _phase_text(inventory: Inventory, classifier: Classifier, now: float) -> list[str]:
    title = PHASE_TITLES[inventory.phase]
    if inventory.control is not None:
        title += f", by {inventory.control}" if inventory.ran else ": the control was not found"
    out = [title, "=" * len(title)]
    pages = list(dict.fromkeys(inventory.pages))
    out.append(f"  Pages ({len(pages)}): " + (", ".join(pages) if pages else "none"))
    out += [f"  Note: {n}" for n in inventory.notes]
    out.append(f"  Cookies ({len(inventory.cookies)})")
    if inventory.cookies:
        out += _table(
            ("NAME", "DOMAIN", "PATH", "EXPIRES", "FLAGS", "SET BY", "CLASS"),
            [
                (
                    c.name,
                    c.domain,
                    c.path,
                    expiry_text(c, now),
                    flags_text(c),
                    set_by_text(c),
                    classifier.name(c.name).label,
                )
                for c in inventory.cookies
            ],
        )
    out.append(f"  Storage ({len(inventory.storage)})")
    if inventory.storage:
        out += _table(
            ("AREA", "ORIGIN", "KEY", "CLASS"),
            [
                (s.area, s.origin, s.key, classifier.name(s.key, cookie=False).label)
                for s in inventory.storage
            ],
        )
    hosts = _hosts(inventory)
    out.append(f"  Requests to other hosts ({len(hosts)} host(s))")
    if hosts:
        out += _table(
            ("HOST", "REQUESTS", "TYPES", "FIRST", "FROM PAGE", "CLASS"),
            [
                (h["host"], str(h["count"]), h["types"], h["first"], h["page"], h["class"])
                for h in (dict(x, **{"class": classifier.host(x["host"]).label}) for x in hosts)
            ],
        )
    scripts = inventory.scripts
    external = [s for s in scripts if s.url]
    inline = [s for s in inventory.scripts if not s.url]
    out.append(f"  Scripts that ran ({len(external)} external, {len(inline)} inline)")
    if inventory.scripts:
        out += _table(
            ("SCRIPT", "FIRST ON"),
            [
                (s.url or f"inline sha256-{s.sha256}: {s.snippet}", s.page)
                for s in inventory.scripts
            ],
        )
    return out


def _hosts(inventory: Inventory) -> list[dict[str, Any]]:
    """Requests to other hosts, grouped by host."""
    grouped: dict[str, dict[str, Any]] = {}
    for r in inventory.requests:
        entry = grouped.setdefault(
            r.host, {"host": r.host, "count": 0, "types": {}, "first": r.url, "page": r.page}
        )
        entry["count"] += r.count
        entry["types"][r.resource_type] = None
    return [dict(e, types=", ".join(e["types"])) for e in grouped.values()]


def _text(
    result: ScanResult, findings: Sequence[Finding], classifier: Classifier, suggestions: str
) -> str:
    now = result.started.timestamp()
    out = [
        f"consent scan of {result.url}",
        f"  {result.browser}, started {result.started_text}, {result.seconds} s; "
        f"policy: {result.policy or '(none: the catalog only)'}",
        "",
    ]
    for phase in PHASES:
        out += [*_phase_text(result.phases[phase], classifier, now), ""]
    out += ["Findings", "========"]
    for f in findings:
        when = f" [{f.phase}]" if f.phase else ""
        out.append(f"  {f.level.upper()}{when} {f.code}: {f.message}.")
        out.append(f"      Fix: {f.fix}.")
        if f.evidence:
            out.append(f"      Seen: {f.evidence}")
    if not findings:
        out.append("  none")
    out += ["", summary_line(findings)]
    if suggestions:
        out += ["", suggestions.rstrip()]
    return "\n".join(out) + "\n"


def _verdict_data(verdict: Verdict) -> dict[str, Any]:
    return {
        "classification": verdict.label,
        "allowed": verdict.allowed,
        "declared": asdict(verdict.declared) if verdict.declared else None,
        "known": asdict(verdict.known) if verdict.known else None,
    }


def _phase_data(inventory: Inventory, classifier: Classifier) -> dict[str, Any]:
    data = inventory.as_dict()
    data["ran"] = inventory.ran
    for cookie in data["cookies"]:
        cookie.update(_verdict_data(classifier.name(cookie["name"])))
    for item in data["storage"]:
        item.update(_verdict_data(classifier.name(item["key"], cookie=False)))
    for request in data["requests"]:
        request.update(_verdict_data(classifier.host(request["host"])))
    return data


def _json(
    result: ScanResult, findings: Sequence[Finding], classifier: Classifier, suggestions: str
) -> str:
    data: dict[str, Any] = {
        "url": result.url,
        "started": result.started_text,
        "seconds": result.seconds,
        "browser": result.browser,
        "policy": result.policy,
        "summary": count_levels(findings),
        "findings": [f.as_dict() for f in findings],
        "phases": {p: _phase_data(result.phases[p], classifier) for p in PHASES},
    }
    if suggestions:
        data["suggestions"] = suggestions
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _html(
    result: ScanResult, findings: Sequence[Finding], classifier: Classifier, suggestions: str
) -> str:
    now = result.started.timestamp()
    phases = [
        {
            "id": p,
            "title": PHASE_TITLES[p],
            "inventory": result.phases[p],
            "pages": list(dict.fromkeys(result.phases[p].pages)),
            "hosts": [
                dict(h, verdict=classifier.host(h["host"])) for h in _hosts(result.phases[p])
            ],
        }
        for p in PHASES
    ]
    return (
        report_environment()
        .get_template("consent/scan.html")
        .render(
            result=result,
            findings=findings,
            counts=count_levels(findings),
            phases=phases,
            suggestions=suggestions,
            name=lambda n: classifier.name(n),
            key=lambda k: classifier.name(k, cookie=False),
            expiry=lambda c: expiry_text(c, now),
            flags=flags_text,
        )
    )


def render(
    result: ScanResult,
    findings: Sequence[Finding],
    classifier: Classifier,
    fmt: Format = "text",
    suggestions: str = "",
) -> str:
    """The scan in one of FORMATS; `suggestions` (TOML) is included when given."""
    renderer = {"text": _text, "json": _json, "html": _html}[fmt]
    return renderer(result, findings, classifier, suggestions)
