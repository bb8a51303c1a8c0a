"""The cookie declaration as a document: HTML, Markdown, JSON or CSV, in one language."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Literal

from jinja2 import Environment, PackageLoader, select_autoescape

from consent.i18n import direction, format_duration, strings
from consent.policy import Policy, localize

__all__ = ["FORMATS", "Format", "render_declaration"]

Format = Literal["html", "md", "json", "csv"]
FORMATS: tuple[Format, ...] = ("html", "md", "json", "csv")
_COLUMNS = (
    "category",
    "category_title",
    "required",
    "service",
    "service_title",
    "cookie",
    "purpose",
    "duration",
    "path",
    "domain",
)


def _rows(policy: Policy, lang: str) -> Iterator[dict[str, str]]:
    def t(text: str | dict[str, str]) -> str:
        return localize(text, lang, policy.default_language)

    for category in policy.categories:
        for service in policy.services_of(category.id):
            for rule in service.cookies:
                yield {
                    "category": category.id,
                    "category_title": t(category.title),
                    "required": "yes" if category.required else "no",
                    "service": service.id,
                    "service_title": t(service.title),
                    "cookie": rule.name,
                    "purpose": t(rule.purpose),
                    "duration": rule.duration,
                    "path": rule.path,
                    "domain": rule.domain or "",
                }


def _markdown(policy: Policy, lang: str) -> str:
    def cell(text: str) -> str:
        return " ".join(text.split()).replace("|", "\\|")

    def t(text: str | dict[str, str]) -> str:
        return cell(localize(text, lang, policy.default_language))

    ui = strings(lang)
    lines = [f"# {ui['declaration']}", ""]
    if policy.controller:
        lines += [f"{ui['controller']} {t(policy.controller)}", ""]
    days = format_duration(f"{policy.max_age_days} days", lang)
    lines += [ui["revision"].format(revision=policy.revision, days=days), ""]
    rows = list(_rows(policy, lang))
    for category in policy.categories:
        title = t(category.title)
        if category.required:
            title += f" ({ui['always_on']})"
        lines += [f"## {title}", "", t(category.description), ""]
        lines += [
            f"| {ui['service']} | {ui['cookie']} | {ui['purpose']} | {ui['duration']} |",
            "|---|---|---|---|",
        ]
        for row in (r for r in rows if r["category"] == category.id):
            lines.append(
                f"| {cell(row['service_title'])} | `{row['cookie']}` | "
                f"{cell(row['purpose'])} | {format_duration(row['duration'], lang)} |"
            )
        lines.append("")
    return "\n".join(lines)


def _html(policy: Policy, lang: str) -> str:
    env = Environment(
        loader=PackageLoader("consent", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("consent/export_declaration.html").render(
        policy=policy,
        lang=lang,
        dir=direction(lang),
        ui=strings(lang),
        level=2,
        t=lambda text: localize(text, lang, policy.default_language),
        duration=lambda text: format_duration(text, lang),
    )


def render_declaration(policy: Policy, fmt: Format = "html", lang: str | None = None) -> str:
    """The declaration of `policy` as a complete document in format `fmt`."""
    lang = lang or policy.default_language
    if fmt == "json":
        return json.dumps(
            {**policy.declaration(), "cookies": list(_rows(policy, lang))},
            indent=2,
            ensure_ascii=False,
        )
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_rows(policy, lang))
        return out.getvalue()
    if fmt == "md":
        return _markdown(policy, lang)
    return _html(policy, lang)
