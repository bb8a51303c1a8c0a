"""A cookie a service sets, as the policy declares it: name or prefix, lifetime, scope."""

from __future__ import annotations

import re

from pydantic import field_validator

from consent.policy.base import PolicyModel
from consent.policy.problems import RuleError
from consent.policy.text import Text

__all__ = ["CookieRule"]

# RFC 6265 cookie-name token characters, plus a single trailing '*' for a prefix rule.
_COOKIE_NAME = re.compile(r"[!#$%&'+\-.^_`|~0-9A-Za-z]+\*?")
_DURATION = re.compile(r"(?P<n>[1-9][0-9]{0,5}) (?P<unit>minute|hour|day|month|year)s?")
_DOMAIN = re.compile(r"\.?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_UNIT_SECONDS = {
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}


class CookieRule(PolicyModel):
    """One cookie a service sets. `name` is exact, or a prefix when it ends with `*`."""

    name: str
    purpose: Text = ""
    duration: str = "session"
    path: str = "/"
    domain: str | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if value == "*" or not _COOKIE_NAME.fullmatch(value):
            raise RuleError(
                f"{value!r} is not a cookie name",
                "use the exact name (letters, digits and !#$%&'+-.^_`|~), or a prefix ending in "
                "'*' such as 'wordpress_logged_in_*'",
            )
        return value

    @field_validator("duration")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        value = " ".join(value.lower().split())
        if value != "session" and not _DURATION.fullmatch(value):
            raise RuleError(
                f"{value!r} is not a duration",
                "write 'session' or '<n> minutes|hours|days|months|years', e.g. '30 days'",
            )
        return value

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/") or any(c in value for c in ";, \t\r\n"):
            raise RuleError(f"{value!r} is not a cookie path", "start it with '/', e.g. '/'")
        return value

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str | None) -> str | None:
        if value is not None and not _DOMAIN.fullmatch(value):
            raise RuleError(f"{value!r} is not a domain", "write a host name such as 'example.com'")
        return value

    @property
    def is_prefix(self) -> bool:
        """True when the rule matches every cookie whose name starts with `name` minus `*`."""
        return self.name.endswith("*")

    def matches(self, cookie_name: str) -> bool:
        """Whether a cookie called `cookie_name` is covered by this rule."""
        if self.is_prefix:
            return cookie_name.startswith(self.name[:-1])
        return cookie_name == self.name

    @property
    def max_age_seconds(self) -> int | None:
        """The declared lifetime in seconds; None for a session cookie."""
        match = _DURATION.fullmatch(self.duration)
        if match is None:
            return None
        return int(match["n"]) * _UNIT_SECONDS[match["unit"]]
