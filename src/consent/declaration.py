"""The cookie declaration as a document: HTML, Markdown, JSON or CSV, in one language."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from consent.i18n import enabled_languages, format_duration, strings
from consent.policy import Policy, localize
from consent.render import environment, language_context

__all__ = ["FORMATS", "ConsentCookie", "Format", "consent_cookie", "render_declaration"]

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


@dataclass(frozen=True, slots=True)
class ConsentCookie:
    """The consent cookie itself, as every declaration lists it: strictly necessary (it
    holds the visitor's choice), kept as long as a choice is (`max_age_days`).

    Attributes:
        name: the cookie's name (the middleware's `cookie_name`).
        duration: its lifetime in the policy's duration grammar (`"180 days"`).
        category: the id of the required category it is listed under, or None when the
            policy has none: it is then shown in an "Essential" group of its own.
    """

    name: str
    duration: str
    category: str | None

    def to_json(self, policy: Policy) -> dict[str, Any]:
        """JSON-ready data, its purpose in each of the site's languages."""
        languages = enabled_languages(policy.languages)
        return {
            "name": self.name,
            "category": self.category,
            "required": True,
            "duration": self.duration,
            "max_age": policy.max_age_days * 86400,
            "purpose": {lang: strings(lang)["consent_cookie_purpose"] for lang in languages},
        }


def consent_cookie(policy: Policy, name: str = "consent") -> ConsentCookie | None:
    """How the declaration lists the consent cookie called `name`; None when the policy
    declares a cookie of that name itself (its own entry is then what is shown)."""
    if any(owned.rule.matches(name) for owned in policy.cookie_rules()):
        return None
    required = next((c.id for c in policy.categories if c.required), None)
    return ConsentCookie(name=name, duration=f"{policy.max_age_days} days", category=required)


def _rows(policy: Policy, lang: str, cookie: ConsentCookie | None) -> Iterator[dict[str, str]]:
    def t(text: str | dict[str, str]) -> str:
        return localize(text, lang, policy.default_language)

    ui = strings(lang)
    own = {
        "required": "yes",
        "service": "",
        "service_title": ui["consent_cookie"],
        "cookie": cookie.name if cookie else "",
        "purpose": ui["consent_cookie_purpose"],
        "duration": cookie.duration if cookie else "",
        "path": "/",
        "domain": "",
    }
    if cookie is not None and cookie.category is None:
        yield {"category": "", "category_title": ui["essential"], **own}
    for category in policy.categories:
        if cookie is not None and cookie.category == category.id:
            yield {"category": category.id, "category_title": t(category.title), **own}
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


class _Group(NamedTuple):
    """A section of the Markdown declaration: a category (or the consent cookie's own)."""

    id: str
    title: str
    description: str


def _markdown(policy: Policy, lang: str, cookie: ConsentCookie | None) -> str:
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
    rows = list(_rows(policy, lang, cookie))
    groups = [
        _Group(c.id, t(c.title) + (f" ({ui['always_on']})" if c.required else ""), t(c.description))
        for c in policy.categories
    ]
    if cookie is not None and cookie.category is None:
        groups.insert(0, _Group("", f"{cell(ui['essential'])} ({ui['always_on']})", ""))
    for id, title, description in groups:
        lines += [f"## {title}", ""] + ([description, ""] if description else [])
        lines += [
            f"| {ui['service']} | {ui['cookie']} | {ui['purpose']} | {ui['duration']} |",
            "|---|---|---|---|",
        ]
        for row in (r for r in rows if r["category"] == id):
            lines.append(
                f"| {cell(row['service_title'])} | `{row['cookie']}` | "
                f"{cell(row['purpose'])} | {format_duration(row['duration'], lang)} |"
            )
        lines.append("")
    return "\n".join(lines)


def _html(policy: Policy, lang: str, cookie: ConsentCookie | None) -> str:
    return (
        environment()
        .get_template("consent/export_declaration.html")
        .render(
            policy=policy,
            level=2,
            consent_cookie=cookie,
            **language_context(policy, lang),
        )
    )


def render_declaration(
    policy: Policy,
    fmt: Format = "html",
    lang: str | None = None,
    *,
    cookie_name: str = "consent",
) -> str:
    """The declaration of `policy` as a complete document in format `fmt`.

    The consent cookie (`cookie_name`, the middleware's) is listed too, under the
    policy's required category (see `consent_cookie`).
    """
    lang = lang or policy.default_language
    cookie = consent_cookie(policy, cookie_name)
    if fmt == "json":
        data = policy.declaration()
        if cookie is not None:
            data["consent_cookie"] = cookie.to_json(policy)
        data["cookies"] = list(_rows(policy, lang, cookie))
        return json.dumps(data, indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_rows(policy, lang, cookie))
        return out.getvalue()
    if fmt == "md":
        return _markdown(policy, lang, cookie)
    return _html(policy, lang, cookie)
