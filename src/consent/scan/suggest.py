"""`consent scan --suggest`: policy entries, in the policy file's TOML, for what the scan saw
but the policy does not declare.

One `[[services]]` entry per platform the catalog knows (its prefix rules become `name*`),
one per cookie domain or storage origin for the rest. Categories are a guess, purposes
are left empty on purpose: `consent check` then asks for each one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from consent.catalog import KnownCookie, known_cookies
from consent.policy import CookieRule, Policy
from consent.scan.classify import Classifier
from consent.scan.model import PHASES, ScanResult, SeenCookie, SeenStorage, host_of

__all__ = ["duration_text", "suggest"]

_UNITS = (
    ("year", 365 * 86400),
    ("month", 30 * 86400),
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
)


def duration_text(seconds: float | None) -> str:
    """A lifetime in the policy's grammar (`session`, `30 minutes`, `13 months`).

    The largest unit that fits a whole number within 3% (a cookie read a few seconds after
    it was set has a little less than its year left); failing that, the largest unit that
    gives at least two, rounded up.
    """
    if seconds is None:
        return "session"
    seconds = max(float(seconds), 60.0)
    choice = next(
        (
            (unit, round(seconds / size))
            for unit, size in _UNITS
            if seconds / size >= 0.97
            and abs(seconds / size - round(seconds / size)) <= 0.03 * seconds / size
        ),
        None,
    )
    if choice is None:
        unit, size = next((u, s) for u, s in _UNITS if seconds >= 2 * s)
        choice = (unit, -(-int(seconds) // size))
    unit, n = choice[0], min(choice[1], 999_999)
    return f"{n} {unit}{'s' if n != 1 else ''}"


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64].strip("-")
    return slug or "service"


@dataclass
class _Entry:
    title: str
    category: str
    note: str
    cookies: dict[str, str] = field(default_factory=dict)  # rule name -> its TOML line


def _category_for(known: KnownCookie | None, policy: Policy | None) -> str:
    """The policy category a catalog category most likely maps to: the one of the same name,
    the required one for what keeps a site working (Necessary, Security, Functional: a guess
    to check), else the first one visitors can refuse."""
    ids = [c.id for c in policy.categories] if policy else ["essential", "analytics", "marketing"]
    required = [c.id for c in policy.categories if c.required] if policy else ["essential"]
    optional = [i for i in ids if i not in required]
    if known is not None:
        wanted = known.category.lower()
        if wanted in ids:
            return wanted
        if wanted in ("necessary", "security", "functional") and required:
            return required[0]
    return optional[0] if optional else ids[0]


def suggest(result: ScanResult, classifier: Classifier, now: float) -> str:
    """Ready-to-paste `[[services]]` entries for the undeclared cookies and storage keys
    (every one seen, without a policy); '' when there is nothing to declare.

    `now` (a Unix time, normally when the scan ran) turns expiry dates into durations.
    """
    policy = classifier.policy
    taken = {c.id for c in policy.categories} | {s.id for s in policy.services} if policy else set()
    entries: dict[str, _Entry] = {}
    skipped: list[str] = []
    seen: list[SeenCookie | SeenStorage] = []
    for phase in PHASES:
        seen += result.phases[phase].cookies
        seen += result.phases[phase].storage
    for item in seen:
        is_cookie = isinstance(item, SeenCookie)
        name = item.name if isinstance(item, SeenCookie) else item.key
        verdict = classifier.name(name, cookie=is_cookie)
        if verdict.declared is not None or verdict.consent_cookie:
            continue
        entry_known = known_cookies().lookup(name)
        if entry_known is not None:
            group = f"platform:{entry_known.platform}"
            title = entry_known.platform
            note = f"{title}: known to the catalog as {entry_known.category}"
            if entry_known.category == "Functional":
                note += " (not always strictly necessary: check the category)"
            rule_name = entry_known.name + "*" if entry_known.wildcard else name
        else:
            where = (
                item.domain.lstrip(".") if isinstance(item, SeenCookie) else host_of(item.origin)
            )
            group, title = f"host:{where}", where
            note = f"{where}: unknown to the catalog; check the category"
            rule_name = name
        entry = entries.setdefault(group, _Entry(title, _category_for(entry_known, policy), note))
        if rule_name in entry.cookies:
            continue
        try:
            CookieRule(name=rule_name)
        except ValidationError:
            skipped.append(name)
            continue
        if isinstance(item, SeenCookie):
            lifetime = None if item.expires is None else item.expires - now
            how = f"set by {item.set_by}" + (f" {item.source}" if item.source else "")
        else:
            # Storage has no expiry: it stays until removed. A year is a placeholder.
            lifetime = None if item.area == "sessionStorage" else 365 * 86400.0
            how = f"{item.area} of {item.origin}"
        line = (
            f'  {{ name = {json.dumps(rule_name)}, purpose = "", '
            f"duration = {json.dumps(duration_text(lifetime))} }},  # {how}"
        )
        entry.cookies[rule_name] = line
    if not entries and not skipped:
        return ""
    lines = [
        f"# Suggested by `consent scan` for what {result.url} stores without a declaration.",
        "# Check each category, write each purpose (and how long storage keys are kept),",
        "# then paste the entries into the policy file.",
    ]
    for entry in entries.values():
        if not entry.cookies:
            continue
        service_id = _slug(entry.title)
        n = 2
        while service_id in taken:
            service_id, n = f"{_slug(entry.title)[:60]}-{n}", n + 1
        taken.add(service_id)
        lines += [
            "",
            f"# {entry.note}.",
            "[[services]]",
            f"id = {json.dumps(service_id)}",
            f"category = {json.dumps(entry.category)}",
            f"title = {json.dumps(entry.title)}",
            "cookies = [",
            *entry.cookies.values(),
            "]",
        ]
    for name in dict.fromkeys(skipped):
        lines.append(f"# Not a valid cookie name, declare it by hand: {name!r}")
    return "\n".join(lines) + "\n"
