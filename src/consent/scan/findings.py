"""From three inventories to findings: violations, undeclared and misclassified items,
stale declarations, and choices that could not be made."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from consent.scan.classify import Classifier, Verdict
from consent.scan.model import PHASES, Phase, ScanResult, SeenCookie, SeenRequest, SeenStorage

__all__ = ["LEVELS", "Finding", "Level", "count_levels", "exit_code", "find"]

Level = Literal["violation", "error", "warning"]
LEVELS: tuple[Level, ...] = ("violation", "error", "warning")
Kind = Literal["cookie", "storage", "request", "control"]


@dataclass(frozen=True)
class Finding:
    """One thing to fix. `subject` is the cookie name, storage key, host or control."""

    code: str
    level: Level
    kind: Kind
    subject: str
    phase: Phase | None
    message: str
    fix: str
    evidence: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_levels(findings: Iterable[Finding]) -> dict[Level, int]:
    """How many findings of each level, every level present (zeros kept)."""
    counts = dict.fromkeys(LEVELS, 0)
    for finding in findings:
        counts[finding.level] += 1
    return counts


def exit_code(findings: Iterable[Finding], fail_on: Level = "violation") -> int:
    """1 when a finding is at `fail_on` or more severe, else 0."""
    worst = LEVELS.index(fail_on)
    return int(any(LEVELS.index(f.level) <= worst for f in findings))


def _cookie_evidence(cookie: SeenCookie) -> str:
    source = f" {cookie.source}" if cookie.source else ""
    return f"{cookie.domain}{cookie.path}, set by {cookie.set_by}{source}, seen on {cookie.page}"


def _gate_fix(verdict: Verdict, what: str) -> str:
    if verdict.declared is None:
        return (
            f"declare the {what} (in a required category only if it is strictly necessary), "
            "and create it only once the visitor agrees"
        )
    return (
        f"create the {what} only once the visitor allows {verdict.declared.category!r}: "
        "gate the code that sets it (data-consent)"
    )


def _violations(result: ScanResult, classifier: Classifier, phase: Phase) -> list[Finding]:
    inventory = result.phases[phase]
    before = phase == "before"
    code = "before-consent" if before else "after-refusal"
    found: list[Finding] = []
    for cookie in inventory.cookies:
        verdict = classifier.name(cookie.name)
        if verdict.allowed:
            continue
        if before:
            message = f"cookie {cookie.name!r} ({verdict.phrase}) is set before any choice"
            fix = _gate_fix(verdict, "cookie")
        elif cookie.survived:
            message = f'cookie {cookie.name!r} ({verdict.phrase}) is still there after "Reject all"'
            fix = "delete it when the visitor refuses (expire it in the reply to the refusal)"
        else:
            message = f'cookie {cookie.name!r} ({verdict.phrase}) is set after "Reject all"'
            fix = _gate_fix(verdict, "cookie")
        evidence = _cookie_evidence(cookie)
        found.append(
            Finding(code, "violation", "cookie", cookie.name, phase, message, fix, evidence)
        )
    for item in inventory.storage:
        verdict = classifier.name(item.key, cookie=False)
        if verdict.allowed:
            continue
        where = f"{item.area} key {item.key!r} ({verdict.phrase})"
        if before:
            message, fix = f"{where} is written before any choice", _gate_fix(verdict, "key")
        elif item.survived:
            message = f'{where} is still there after "Reject all"'
            fix = "remove it when the visitor refuses"
        else:
            message, fix = f'{where} is written after "Reject all"', _gate_fix(verdict, "key")
        evidence = f"{item.origin}, seen on {item.page}"
        found.append(Finding(code, "violation", "storage", item.key, phase, message, fix, evidence))
    by_host: dict[str, list[SeenRequest]] = {}
    for request in inventory.requests:
        by_host.setdefault(request.host, []).append(request)
    for host, requests in by_host.items():
        verdict = classifier.host(host)
        if verdict.allowed:
            continue
        total = sum(r.count for r in requests)
        when = "before any choice" if before else 'after "Reject all"'
        message = f"{total} request(s) to {host} ({verdict.phrase}) {when}"
        if verdict.declared:
            fix = (
                f"load it only once the visitor allows {verdict.declared.category!r} "
                "(data-consent on the script or iframe)"
            )
        else:
            fix = "load it only after consent, and declare the service with its hosts"
        first = requests[0]
        evidence = f"first {first.url} ({first.resource_type}) from {first.page}"
        found.append(Finding(code, "violation", "request", host, phase, message, fix, evidence))
    return found


def _seen_names(result: ScanResult) -> dict[tuple[str, str], list[SeenCookie | SeenStorage]]:
    """Every cookie name and storage key seen in any phase that ran, with its sightings."""
    seen: dict[tuple[str, str], list[SeenCookie | SeenStorage]] = {}
    for phase in PHASES:
        inventory = result.phases[phase]
        for cookie in inventory.cookies:
            seen.setdefault(("cookie", cookie.name), []).append(cookie)
        for item in inventory.storage:
            seen.setdefault(("storage", item.key), []).append(item)
    return seen


def _phases_of(result: ScanResult, kind: str, name: str) -> str:
    phases = []
    for phase in PHASES:
        inventory = result.phases[phase]
        names = (
            {c.name for c in inventory.cookies}
            if kind == "cookie"
            else {s.key for s in inventory.storage}
        )
        if name in names:
            phases.append(phase)
    return ", ".join(phases)


def _declaration_findings(result: ScanResult, classifier: Classifier) -> list[Finding]:
    found: list[Finding] = []
    seen = _seen_names(result)
    for (kind, name), sightings in seen.items():
        verdict = classifier.name(name, cookie=kind == "cookie")
        first = sightings[0]
        if isinstance(first, SeenCookie):
            evidence = _cookie_evidence(first)
        else:
            evidence = f"{first.area} of {first.origin}, seen on {first.page}"
        evidence += f"; phases: {_phases_of(result, kind, name)}"
        what = "cookie" if kind == "cookie" else "storage key"
        if (
            classifier.policy is not None
            and verdict.declared is None
            and not verdict.consent_cookie
        ):
            known = (
                f", known as {verdict.known.category} ({verdict.known.platform})"
                if verdict.known
                else ""
            )
            found.append(
                Finding(
                    "undeclared",
                    "error",
                    "cookie" if kind == "cookie" else "storage",
                    name,
                    None,
                    f"{what} {name!r} is not declared in the policy{known}",
                    "declare it under the service that sets it (`consent scan --suggest`)",
                    evidence,
                )
            )
        if verdict.contradiction and verdict.declared:
            c = verdict.contradiction
            found.append(
                Finding(
                    "misclassified",
                    "error",
                    "cookie" if kind == "cookie" else "storage",
                    name,
                    None,
                    f"{what} {name!r} is declared in the required category "
                    f"{verdict.declared.category!r} but known as {c.category} ({c.platform})",
                    "move its service to a category visitors can refuse",
                    evidence,
                )
            )
    hosts = {r.host for phase in PHASES for r in result.phases[phase].requests}
    for host in sorted(hosts):
        verdict = classifier.host(host)
        if verdict.contradiction and verdict.declared:
            c = verdict.contradiction
            found.append(
                Finding(
                    "misclassified",
                    "error",
                    "request",
                    host,
                    None,
                    f"host {host} is declared by {verdict.declared.service!r} in the required "
                    f"category {verdict.declared.category!r} but known as {c.category} "
                    f"({c.platform})",
                    "move the service to a category visitors can refuse",
                    f"declared as {verdict.declared.rule!r}",
                )
            )
    if classifier.policy is not None and result.phases["accept"].ran:
        names = [name for _, name in seen]
        for service, rule in classifier.policy.cookie_rules():
            if not any(rule.matches(name) for name in names):
                found.append(
                    Finding(
                        "stale-declaration",
                        "warning",
                        "cookie",
                        rule.name,
                        None,
                        f"{rule.name!r} (service {service.id!r}) was declared but never seen, "
                        'not even after "Accept all"',
                        "remove it if the site no longer sets it; keep it if it is set only "
                        "where the scan cannot go (after a log-in, on pages not crawled)",
                        f"service {service.id!r}, category {service.category!r}",
                    )
                )
    return found


def _controls(result: ScanResult) -> list[Finding]:
    found = []
    choices: tuple[tuple[Phase, str], ...] = (("reject", "Reject all"), ("accept", "Accept all"))
    for phase, label in choices:
        if not result.phases[phase].ran:
            found.append(
                Finding(
                    f"no-{phase}-control",
                    "error",
                    "control",
                    label,
                    phase,
                    f'no "{label}" control was found on {result.url}, so that phase did not run',
                    f"give --{phase}-selector for a banner other than asgi-consent's",
                    "; ".join(result.phases[phase].notes),
                )
            )
    return found


def find(result: ScanResult, classifier: Classifier) -> list[Finding]:
    """Every finding of a scan, the most severe first, then by phase and subject."""
    found: list[Finding] = []
    audited: tuple[Phase, ...] = ("before", "reject")
    for phase in audited:
        if result.phases[phase].ran:
            found += _violations(result, classifier, phase)
    found += _controls(result)
    found += _declaration_findings(result, classifier)
    return sorted(
        found,
        key=lambda f: (
            LEVELS.index(f.level),
            PHASES.index(f.phase) if f.phase else -1,
            f.code,
            f.kind,
            f.subject,
        ),
    )
