"""What an observed cookie, storage key or host is: by the policy (declared) and by the
catalog (known).

The rule the findings apply: before a choice and after "Reject all", only what the policy
declares in a required category may be there (and the consent cookie itself). Without a
policy, the catalog is all there is: then only what it knows as analytics or marketing
counts against the site.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from consent.catalog import known_cookies, presets
from consent.policy import CookieRule, Policy, Service

__all__ = ["Classifier", "Declared", "Known", "Verdict", "host_matches"]

# Preset categories that can never be essential (the catalog's TRACKING, in preset words).
_TRACKING_PRESETS = frozenset({"analytics", "marketing"})


@dataclass(frozen=True)
class Declared:
    """The policy entry that covers an item: its service, category and matching rule."""

    service: str
    category: str
    required: bool
    rule: str


@dataclass(frozen=True)
class Known:
    """What the catalog (cookie names) or the presets (hosts) know about an item."""

    category: str
    platform: str
    tracking: bool


@dataclass(frozen=True)
class Verdict:
    """The classification of one item.

    `allowed`: may be present before a choice and after a refusal. `contradiction`: the
    catalog entry that contradicts a required declaration (`_ga` declared essential).
    """

    declared: Declared | None
    known: Known | None
    allowed: bool
    consent_cookie: bool = False
    contradiction: Known | None = None
    host: bool = False

    @property
    def label(self) -> str:
        """A short description for tables: `analytics (matomo)`, `undeclared; known ...`."""
        if self.consent_cookie:
            return "essential (the consent cookie)"
        known = f"known: {self.known.category} ({self.known.platform})" if self.known else ""
        if self.declared is None:
            text = "not in the policy" if self.host else "undeclared"
            return f"{text}; {known}" if known else text
        text = f"{self.declared.category} ({self.declared.service})"
        return f"{text}; {known}" if self.contradiction and known else text

    @property
    def phrase(self) -> str:
        """The classification inside a sentence: `declared analytics by service 'stats'`."""
        if self.declared is None:
            known = self.known
            also = f", known as {known.category} ({known.platform})" if known else ""
            return ("not in the policy" if self.host else "undeclared") + also
        return f"declared {self.declared.category} by service {self.declared.service!r}"


def host_matches(pattern: str, host: str) -> bool:
    """Whether `host` is covered by a policy or preset host (`*.example.com`: sub-domains)."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


@cache
def _preset_hosts() -> tuple[tuple[str, Known], ...]:
    found = []
    for data in presets().values():
        category = str(data.get("category", ""))
        known = Known(category.capitalize(), str(data["title"]), category in _TRACKING_PRESETS)
        found += [(str(host).lower(), known) for host in data.get("hosts", [])]
    return tuple(found)


def _trusted(service: Service, rule: CookieRule) -> bool:
    """A cookie taken from an essential preset: catalog names clash across platforms
    (Django's `sessionid` is also an Instagram cookie), as in the policy lint."""
    preset = presets().get(service.preset or "", {})
    names = {c["name"] for c in preset.get("cookies", [])}
    return preset.get("category") == "essential" and rule.name in names


class Classifier:
    """Classifies names and hosts against one policy (or none) and the catalog."""

    def __init__(self, policy: Policy | None, *, consent_cookie: str = "consent") -> None:
        self.policy = policy
        self.consent_cookie = consent_cookie
        rules = list(policy.cookie_rules()) if policy else []
        # Exact names before prefixes, longer prefixes before shorter ones.
        self._rules = sorted(rules, key=lambda sr: (sr[1].is_prefix, -len(sr[1].name)))
        required = policy.required_ids if policy else frozenset()
        self._required = required
        self._hosts = [
            (host, service)
            for service in (policy.services if policy else ())
            for host in service.hosts
        ]

    def rule_for(self, name: str) -> tuple[Service, CookieRule] | None:
        """The policy's rule for a cookie or storage key called `name`, if any."""
        return next(((s, r) for s, r in self._rules if r.matches(name)), None)

    def name(self, name: str, *, cookie: bool = True) -> Verdict:
        """Classify a cookie (or, with `cookie=False`, a storage key) by its name."""
        if cookie and name == self.consent_cookie:
            return Verdict(None, None, allowed=True, consent_cookie=True)
        entry = known_cookies().lookup(name)
        known = Known(entry.category, entry.platform, entry.tracking) if entry else None
        found = self.rule_for(name)
        if found is None:
            allowed = self.policy is None and not (known and known.tracking)
            return Verdict(None, known, allowed=allowed)
        service, rule = found
        required = service.category in self._required
        declared = Declared(service.id, service.category, required, rule.name)
        contradiction = None
        if required and not _trusted(service, rule):
            tracking = known_cookies().tracking(name)
            if tracking:
                contradiction = Known(tracking[0].category, tracking[0].platform, True)
                known = contradiction
        return Verdict(declared, known, allowed=required, contradiction=contradiction)

    def host(self, host: str) -> Verdict:
        """Classify a host that the site's pages sent requests to."""
        host = host.lower()
        known = next((k for pattern, k in _preset_hosts() if host_matches(pattern, host)), None)
        service = next((s for pattern, s in self._hosts if host_matches(pattern, host)), None)
        if service is None:
            return Verdict(None, known, allowed=not (known and known.tracking), host=True)
        required = service.category in self._required
        pattern = next(p for p in service.hosts if host_matches(p, host))
        declared = Declared(service.id, service.category, required, pattern)
        contradiction = known if required and known and known.tracking else None
        return Verdict(declared, known, allowed=required, contradiction=contradiction, host=True)
