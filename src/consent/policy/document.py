"""The whole policy: categories -> services -> cookies, their cross-references, the
lookups the middleware needs, and the fingerprint of what visitors consent to."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from functools import cached_property
from typing import Any, Literal, NamedTuple

from pydantic import Field, field_validator, model_validator

from consent.policy.base import PolicyModel
from consent.policy.categories import Category
from consent.policy.cookie_rules import CookieRule
from consent.policy.google_consent_mode import GoogleConsentMode
from consent.policy.problems import RuleError
from consent.policy.services import Service
from consent.policy.text import LANGUAGE_TAG, Banner, Text

__all__ = ["Policy", "ServiceCookie"]


class ServiceCookie(NamedTuple):
    """A declared cookie rule and the service that owns it."""

    service: Service
    rule: CookieRule


class Policy(PolicyModel):
    """What the site declares: its categories, their services and the services' cookies.

    `revision` and the `fingerprint` of the consent-relevant structure together decide
    whether a visitor's stored choice is still current.
    """

    revision: int = Field(default=1, ge=1)
    max_age_days: int = Field(default=180, ge=1, le=3650)
    default_language: str = "en"
    # The languages the site offers; None offers every built-in one.
    languages: tuple[str, ...] | None = None
    controller: Text | None = None
    privacy_policy_url: str | None = None
    banner: Banner | None = None
    google_consent_mode: GoogleConsentMode | None = None
    # The consent cookie stores one bit per category and per service, 256 of each at most.
    categories: tuple[Category, ...] = Field(min_length=1, max_length=256)
    services: tuple[Service, ...] = Field(default=(), max_length=256)

    @model_validator(mode="after")
    def _check_references(self) -> Policy:
        seen: dict[str, str] = {}
        groups: tuple[tuple[str, tuple[Category | Service, ...]], ...] = (
            ("categories", self.categories),
            ("services", self.services),
        )
        for kind, items in groups:
            for index, item in enumerate(items):
                where = f"{kind}[{index}]"
                if item.id in seen:
                    raise RuleError(
                        f"{item.id!r} is already used by {seen[item.id]}",
                        "ids must be unique across categories and services; rename one of them",
                        where=f"{where}.id",
                    )
                seen[item.id] = where
        category_ids = [c.id for c in self.categories]
        cookie_owner: dict[str, str] = {}
        for index, service in enumerate(self.services):
            if service.category not in category_ids:
                raise RuleError(
                    f"{service.category!r} is not a category",
                    f"use one of {', '.join(repr(c) for c in category_ids)}, or declare it",
                    where=f"services[{index}].category",
                )
            for cookie in service.cookies:
                other = cookie_owner.setdefault(cookie.name, service.id)
                if other != service.id:
                    raise RuleError(
                        f"{cookie.name!r} is also declared by service {other!r}",
                        "a cookie belongs to exactly one service; keep one of the entries",
                        where=f"services[{index}].cookies",
                    )
        return self

    @model_validator(mode="after")
    def _check_languages(self) -> Policy:
        from consent.i18n import LANGUAGES

        if self.languages is None:
            return self
        for index, lang in enumerate(self.languages):
            if lang not in LANGUAGES:
                raise RuleError(
                    f"{lang!r} is not a built-in language",
                    f"use some of {', '.join(LANGUAGES)}",
                    where=f"languages[{index}]",
                )
        if self.default_language not in self.languages:
            raise RuleError(
                f"the default language {self.default_language!r} is not in languages",
                f"add {self.default_language!r} to languages, or change default_language",
                where="languages",
            )
        return self

    @field_validator("default_language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        if not LANGUAGE_TAG.fullmatch(value):
            raise RuleError(f"{value!r} is not a language tag", "use a code such as 'en'")
        return value

    @field_validator("privacy_policy_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"(https?://|/)", value):
            raise RuleError(f"{value!r} is not a link", "use 'https://...' or a path '/...'")
        return value

    # Derived lookups, computed once per policy (the model is frozen).
    @cached_property
    def _by_id(self) -> dict[str, Category | Service]:
        items: list[Category | Service] = [*self.categories, *self.services]
        return {item.id: item for item in items}

    @cached_property
    def required_ids(self) -> frozenset[str]:
        """Ids of the categories that are always granted."""
        return frozenset(c.id for c in self.categories if c.required)

    @cached_property
    def uses_consent_mode(self) -> bool:
        """Whether `consent.head()` emits Google Consent Mode: a `[google_consent_mode]`
        table, or a category or service that lists `google_consent` types itself."""
        listed: list[Category | Service] = [*self.categories, *self.services]
        return self.google_consent_mode is not None or any(i.google_consent for i in listed)

    @cached_property
    def gpc_ids(self) -> frozenset[str]:
        """Categories that a Global Privacy Control signal denies, with their services."""
        categories = {c.id for c in self.categories if c.gpc_opt_out}
        return frozenset(categories | {s.id for s in self.services if s.category in categories})

    @cached_property
    def fingerprint(self) -> str:
        """A hash of what visitors consent to: ids, required flags, services, cookie names.

        Prose (titles, descriptions, purposes) is left out, so fixing a typo does not
        re-ask everyone; adding a cookie or moving a service to another category does.
        The order is included because stored choices refer to positions.
        """
        shape = [
            [
                c.id,
                c.required,
                [[s.id, sorted(r.name for r in s.cookies)] for s in self.services_of(c.id)],
            ]
            for c in self.categories
        ]
        shape.append([s.id for s in self.services])
        return hashlib.sha256(json.dumps(shape, separators=(",", ":")).encode()).hexdigest()

    def category(self, id: str) -> Category:
        """The category called `id`; KeyError naming the known ids otherwise."""
        item = self._by_id.get(id)
        if not isinstance(item, Category):
            raise KeyError(self._unknown(id, [c.id for c in self.categories]))
        return item

    def service(self, id: str) -> Service:
        """The service called `id`; KeyError naming the known ids otherwise."""
        item = self._by_id.get(id)
        if not isinstance(item, Service):
            raise KeyError(self._unknown(id, [s.id for s in self.services]))
        return item

    @cached_property
    def _kinds(self) -> dict[str, Literal["category", "service"]]:
        kinds: dict[str, Literal["category", "service"]] = {
            c.id: "category" for c in self.categories
        }
        kinds.update((s.id, "service") for s in self.services)
        return kinds

    def kind_of(self, id: str) -> Literal["category", "service"]:
        """Whether `id` names a category or a service; KeyError naming all ids otherwise."""
        kind = self._kinds.get(id)
        if kind is None:
            raise KeyError(self._unknown(id, list(self._by_id)))
        return kind

    def services_of(self, category_id: str) -> tuple[Service, ...]:
        """The services of one category, in policy order."""
        return tuple(s for s in self.services if s.category == category_id)

    def cookie_rules(self) -> Iterator[ServiceCookie]:
        """Every declared cookie rule with the service that owns it."""
        for service in self.services:
            for rule in service.cookies:
                yield ServiceCookie(service, rule)

    def declaration(self) -> dict[str, Any]:
        """The policy as JSON-ready data, for `GET /consent/policy.json` and exports."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["fingerprint"] = self.fingerprint
        return data

    @staticmethod
    def _unknown(id: str, known: list[str]) -> str:
        return f"unknown consent id {id!r}; known ids: {', '.join(known) or '(none)'}"
