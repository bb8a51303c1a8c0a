"""Policy lint: what compliance staff should fix before the policy goes live.

Errors are findings a regulator has named as infringements (a cookie known as analytics or
marketing declared strictly necessary: the EDPB cookie-banner taskforce's "misclassified
essential" finding). Warnings are judgement calls worth a second look.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from consent.catalog import known_cookies, presets
from consent.policy import Policy, localize

__all__ = ["Finding", "lint"]

THIRTEEN_MONTHS = 395 * 86400
TRACKING_CATEGORIES = frozenset({"analytics", "marketing"})  # preset categories
_VAGUE = re.compile(
    r"\b(improv\w* (your|the|our)? ?(user |browsing |online )?experience|"
    r"(marketing|advertising|security|it-security|analytics) purposes|"
    r"best (online )?experience)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Finding:
    """One lint result: where it is, what is wrong, how to fix it."""

    level: Literal["error", "warning"]
    code: str
    where: str
    message: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def lint(policy: Policy, raw: dict[str, Any] | None = None) -> list[Finding]:
    """Every finding for `policy`; `raw` (the file's parsed data) lets the lint tell a
    duration that was left out from one that says "session"."""
    findings: list[Finding] = []

    def warn(code: str, where: str, message: str, fix: str) -> None:
        findings.append(Finding("warning", code, where=where, message=message, fix=fix))

    def fail(code: str, where: str, message: str, fix: str) -> None:
        findings.append(Finding("error", code, where=where, message=message, fix=fix))

    lang = policy.default_language
    if policy.max_age_days > 180:
        warn(
            "max-age",
            "max_age_days",
            f"choices are kept {policy.max_age_days} days",
            "regulators advise asking again after six months: use 180 or less",
        )
    index = {s.id: i for i, s in enumerate(policy.services)}
    raw_services = raw.get("services", []) if isinstance(raw, dict) else []
    for category in policy.categories:
        where = f"categories (id {category.id!r})"
        if not policy.services_of(category.id):
            warn(
                "empty-category",
                where,
                "has no services",
                "declare the services it covers, or remove the category",
            )
        description = localize(category.description, lang, lang)
        if not description:
            warn(
                "missing-description",
                where,
                "has no description",
                "say in plain words what the category is for",
            )
        elif _VAGUE.search(description):
            warn(
                "vague-purpose",
                where,
                f"vague purpose {description!r}",
                "name the concrete purpose (e.g. 'count visits per article')",
            )
    for service in policy.services:
        i = index[service.id]
        where = f"services[{i}] (id {service.id!r})"
        required = service.category in policy.required_ids
        preset = presets().get(service.preset or "", {})
        if required and preset.get("category") in TRACKING_CATEGORIES:
            fail(
                "misclassified-essential",
                f"{where}.category",
                f"preset {service.preset!r} is {preset['category']}, declared in a "
                f"required category",
                "move the service to a category visitors can refuse",
            )
        if service.hosts and not service.cookies:
            warn(
                "hosts-without-cookies",
                where,
                "loads scripts from other hosts but declares no cookies",
                "declare the cookies it sets, or confirm it sets none",
            )
        own = (
            raw_services[i].get("cookies", [])
            if i < len(raw_services) and isinstance(raw_services[i], dict)
            else []
        )
        own_names = {c.get("name"): c for c in own if isinstance(c, dict)}
        for j, rule in enumerate(service.cookies):
            cwhere = f"{where}.cookies[{j}] ({rule.name})"
            # Cookies of an essential preset are trusted: catalog names can clash across
            # platforms (Django's "sessionid" is also an Instagram cookie).
            trusted = preset.get("category") == "essential" and rule.name not in own_names
            tracking = [] if trusted else known_cookies().tracking(rule.name)
            if required and tracking:
                known = tracking[0]
                fail(
                    "misclassified-essential",
                    cwhere,
                    f"is known as {known.category} ({known.platform}) but declared "
                    f"in the required category {service.category!r}",
                    "move the service to a category visitors can refuse",
                )
            purpose = localize(rule.purpose, lang, lang)
            if not purpose:
                warn(
                    "missing-purpose",
                    cwhere,
                    "has no purpose",
                    "say why the cookie is stored",
                )
            elif _VAGUE.search(purpose):
                warn(
                    "vague-purpose",
                    cwhere,
                    f"vague purpose {purpose!r}",
                    "name the concrete purpose",
                )
            given = own_names.get(rule.name)
            if raw is not None and given is not None and "duration" not in given:
                warn(
                    "missing-duration",
                    cwhere,
                    "has no duration",
                    "write how long it is kept, e.g. 'session' or '13 months'",
                )
            seconds = rule.max_age_seconds
            if seconds is not None and seconds > THIRTEEN_MONTHS:
                warn(
                    "long-duration",
                    cwhere,
                    f"is kept {rule.duration}, over 13 months",
                    "shorten it to 13 months or less where you control it",
                )
    findings.extend(_shared_hosts(policy))
    findings.extend(_translation_gaps(policy))
    return findings


def _shared_hosts(policy: Policy) -> list[Finding]:
    """Hosts that several services claim (gtag.js's `www.googletagmanager.com` is the
    `google-analytics`, `google-ads` and `google-tag-manager` presets'): auto-blocking gates
    a tag from such a host as the last of them only."""
    claims: dict[str, list[str]] = {}
    for service in policy.services:
        for host in service.hosts:
            claims.setdefault(host, []).append(service.id)
    index = {s.id: i for i, s in enumerate(policy.services)}
    found = []
    for host, ids in claims.items():
        if len(ids) > 1:
            last = ids[-1]
            others = ", ".join(repr(i) for i in ids[:-1])
            found.append(
                Finding(
                    level="warning",
                    code="shared-host",
                    where=f"services[{index[last]}] (id {last!r}).hosts ({host})",
                    message=f"is also claimed by {others}: a tag from it without data-consent "
                    f"is gated as {last!r} only",
                    fix='mark each tag from this host with data-consent="...", or keep the host '
                    "in one service",
                )
            )
    return found


def _translation_gaps(policy: Policy) -> list[Finding]:
    """Texts without a version in one of the site's languages (when it names them)."""
    if not policy.languages or len(policy.languages) < 2:
        return []
    default = policy.default_language
    texts: list[tuple[str, Any]] = [("controller", policy.controller)]
    if policy.banner is not None:
        texts += [("banner.title", policy.banner.title), ("banner.text", policy.banner.text)]
    for i, category in enumerate(policy.categories):
        texts += [
            (f"categories[{i}].title", category.title),
            (f"categories[{i}].description", category.description),
        ]
    for i, service in enumerate(policy.services):
        texts += [
            (f"services[{i}].title", service.title),
            (f"services[{i}].description", service.description),
        ]
        texts += [
            (f"services[{i}].cookies[{j}].purpose", rule.purpose)
            for j, rule in enumerate(service.cookies)
        ]
    found = []
    for where, text in texts:
        if not text:
            continue
        have = set(text) if isinstance(text, dict) else {default}
        missing = [lang for lang in policy.languages if lang not in have]
        if missing:
            found.append(
                Finding(
                    level="warning",
                    code="untranslated",
                    where=where,
                    message=f"has no text in {', '.join(map(repr, missing))}",
                    fix=f"add the translations; until then those visitors read the {default!r} "
                    "text",
                )
            )
    return found
