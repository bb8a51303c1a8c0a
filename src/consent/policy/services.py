"""A service: a tool or vendor inside a category, its cookies and hosts, maybe from a preset."""

from __future__ import annotations

import re
from typing import Any

from pydantic import field_validator, model_validator

from consent.policy.base import PolicyModel, Slug
from consent.policy.cookie_rules import CookieRule
from consent.policy.google_consent_mode import GoogleType
from consent.policy.problems import RuleError
from consent.policy.text import Text

__all__ = ["Service"]

_HOST = re.compile(
    r"(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


class Service(PolicyModel):
    """A tool or vendor inside a category, with the cookies it sets.

    `google_consent`: the Consent Mode types allowing this service grants, whether or not
    its whole category is granted (a visitor who allows Google Analytics alone grants
    `analytics_storage`). None takes the types of its preset, if any (see
    `consent.consent_mode`). Types listed here turn Consent Mode on.
    """

    id: Slug
    category: Slug
    title: Text
    description: Text = ""
    cookies: tuple[CookieRule, ...] = ()
    hosts: tuple[str, ...] = ()
    preset: str | None = None
    google_consent: tuple[GoogleType, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """`preset = "name"` fills in title, category, description, cookies and hosts from
        the catalog; the service's own fields win, and its own cookies replace the preset's
        of the same name."""
        if not isinstance(data, dict) or data.get("preset") is None:
            return data
        from consent.catalog import presets

        name = data["preset"]
        known = presets()
        if not isinstance(name, str) or name not in known:
            raise RuleError(
                f"preset {name!r} is unknown",
                f"use one of {', '.join(sorted(known))}, or declare the cookies yourself",
            )
        base = known[name]
        merged: dict[str, Any] = {
            k: base[k] for k in ("title", "category", "description") if k in base
        }
        merged.update(data)
        own = data.get("cookies", [])
        if isinstance(own, list):
            names = {c.get("name") for c in own if isinstance(c, dict)}
            inherited = [c for c in base.get("cookies", []) if c["name"] not in names]
            merged["cookies"] = inherited + own
        hosts = data.get("hosts", [])
        if isinstance(hosts, list):
            merged["hosts"] = list(dict.fromkeys([*base.get("hosts", []), *hosts]))
        return merged

    @field_validator("hosts")
    @classmethod
    def _check_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for host in value:
            if not _HOST.fullmatch(host):
                raise RuleError(
                    f"{host!r} is not a host name",
                    "write a host such as 'www.googletagmanager.com', or '*.example.com' for "
                    "every sub-domain (no scheme, no path)",
                )
        return tuple(h.lower() for h in value)
