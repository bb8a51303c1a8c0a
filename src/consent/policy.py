"""The consent policy: categories -> services -> cookies.

A policy is what a site declares and what visitors consent to. It is plain data,
validated once when it is loaded, and framework-free: nothing here imports Starlette
or Jinja2.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from consent._errors import PolicyError, invalid, problems_from_validation

__all__ = [
    "CONSENT_TYPES",
    "Banner",
    "Category",
    "ConsentType",
    "CookieRule",
    "GoogleConsentMode",
    "Policy",
    "PolicyError",
    "RegionDefault",
    "Service",
    "Text",
    "load_policy",
]

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?")
# RFC 6265 cookie-name token characters, plus a single trailing '*' for a prefix rule.
_COOKIE_NAME = re.compile(r"[!#$%&'+\-.^_`|~0-9A-Za-z]+\*?")
_DURATION = re.compile(r"(?P<n>[1-9][0-9]{0,5}) (?P<unit>minute|hour|day|month|year)s?")
_DOMAIN = re.compile(r"\.?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_HOST = re.compile(
    r"(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
_LANG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_UNIT_SECONDS = {
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise invalid(
            f"{value!r} is not a valid id",
            "use lower-case letters, digits, '-' or '_' (at most 64, starting and ending with "
            "a letter or digit), e.g. 'analytics'",
        )
    return value


def _text(value: str | dict[str, str]) -> str | dict[str, str]:
    if isinstance(value, dict):
        if not value:
            raise invalid("is an empty mapping", "give at least one language, e.g. {en = '...'}")
        for lang in value:
            if not _LANG.fullmatch(lang):
                raise invalid(
                    f"{lang!r} is not a language tag", "use a code such as 'en' or 'pt-BR'"
                )
    return value


Slug = Annotated[str, AfterValidator(_slug)]
Text = Annotated[str | dict[str, str], AfterValidator(_text)]
"""A visitor-facing text: a plain string, or a mapping of language tag -> string."""


def localize(text: Text, lang: str, default: str = "en") -> str:
    """Pick the best string of `text` for `lang`, falling back to `default`, then any."""
    if isinstance(text, str):
        return text
    for candidate in (lang, lang.split("-")[0], default):
        if candidate in text:
            return text[candidate]
    return next(iter(text.values()))


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class CookieRule(_Model):
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
            raise invalid(
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
            raise invalid(
                f"{value!r} is not a duration",
                "write 'session' or '<n> minutes|hours|days|months|years', e.g. '30 days'",
            )
        return value

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/") or any(c in value for c in ";, \t\r\n"):
            raise invalid(f"{value!r} is not a cookie path", "start it with '/', e.g. '/'")
        return value

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str | None) -> str | None:
        if value is not None and not _DOMAIN.fullmatch(value):
            raise invalid(f"{value!r} is not a domain", "write a host name such as 'example.com'")
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


# Google Consent Mode v2: the seven consent types, in Google's order.
ConsentType = Literal[
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
]
CONSENT_TYPES: tuple[str, ...] = get_args(ConsentType)


def _consent_type(value: Any) -> Any:
    """A consent type other than the seven gets a message naming the nearest one."""
    if isinstance(value, str) and value not in CONSENT_TYPES:
        near = difflib.get_close_matches(value.strip().lower(), CONSENT_TYPES, n=1, cutoff=0.5)
        known = ", ".join(map(repr, CONSENT_TYPES))
        raise invalid(
            f"{value!r} is not a Google Consent Mode type",
            f"write {near[0]!r} (the types are {known})" if near else f"use some of {known}",
        )
    return value


GoogleType = Annotated[ConsentType, BeforeValidator(_consent_type)]
_REGION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")


class Category(_Model):
    """A purpose visitors consent to as a whole (essential, analytics, marketing, ...).

    `gpc_opt_out`: a Global Privacy Control signal (`Sec-GPC: 1`) denies this category,
    even over a stored grant. `google_consent`: the Consent Mode types this category
    grants; None takes the default for well-known ids (see `consent.consent_mode`). Types
    listed here turn Consent Mode on, with or without a `[google_consent_mode]` table.
    """

    id: Slug
    title: Text
    description: Text = ""
    required: bool = False
    gpc_opt_out: bool = False
    google_consent: tuple[GoogleType, ...] | None = None

    @model_validator(mode="after")
    def _check_gpc(self) -> Category:
        if self.required and self.gpc_opt_out:
            raise invalid(
                "a required category cannot be opted out of",
                "remove gpc_opt_out, or make the category optional",
                where="gpc_opt_out",
            )
        return self


class RegionDefault(_Model):
    """A Consent Mode default for some regions: the listed types start granted there."""

    region: tuple[str, ...] = Field(min_length=1)
    granted: tuple[GoogleType, ...] = ()

    @field_validator("region")
    @classmethod
    def _check_region(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not _REGION.fullmatch(code):
                raise invalid(
                    f"{code!r} is not an ISO 3166 region code",
                    "write a country such as 'US' or a subdivision such as 'US-CA'",
                )
        return value


class GoogleConsentMode(_Model):
    """Google Consent Mode v2 for the site's Google tags (`consent.head()` emits it)."""

    wait_for_update: int | None = Field(default=None, ge=1, le=60_000)
    regions: tuple[RegionDefault, ...] = ()


class Service(_Model):
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
            raise invalid(
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
                raise invalid(
                    f"{host!r} is not a host name",
                    "write a host such as 'www.googletagmanager.com', or '*.example.com' for "
                    "every sub-domain (no scheme, no path)",
                )
        return tuple(h.lower() for h in value)


class Banner(_Model):
    """The site's own words for the first layer (defaults come with the UI strings)."""

    title: Text | None = None
    text: Text | None = None
    gpc_note: bool = True


class Policy(_Model):
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
                    raise invalid(
                        f"{item.id!r} is already used by {seen[item.id]}",
                        "ids must be unique across categories and services; rename one of them",
                        where=f"{where}.id",
                    )
                seen[item.id] = where
        category_ids = [c.id for c in self.categories]
        cookie_owner: dict[str, str] = {}
        for index, service in enumerate(self.services):
            if service.category not in category_ids:
                raise invalid(
                    f"{service.category!r} is not a category",
                    f"use one of {', '.join(repr(c) for c in category_ids)}, or declare it",
                    where=f"services[{index}].category",
                )
            for cookie in service.cookies:
                other = cookie_owner.setdefault(cookie.name, service.id)
                if other != service.id:
                    raise invalid(
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
                raise invalid(
                    f"{lang!r} is not a built-in language",
                    f"use some of {', '.join(LANGUAGES)}",
                    where=f"languages[{index}]",
                )
        if self.default_language not in self.languages:
            raise invalid(
                f"the default language {self.default_language!r} is not in languages",
                f"add {self.default_language!r} to languages, or change default_language",
                where="languages",
            )
        return self

    @field_validator("default_language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        if not _LANG.fullmatch(value):
            raise invalid(f"{value!r} is not a language tag", "use a code such as 'en'")
        return value

    @field_validator("privacy_policy_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"(https?://|/)", value):
            raise invalid(f"{value!r} is not a link", "use 'https://...' or a path '/...'")
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

    def cookie_rules(self) -> Iterator[tuple[Service, CookieRule]]:
        """Every declared cookie rule with the service that owns it."""
        for service in self.services:
            for rule in service.cookies:
                yield service, rule

    def declaration(self) -> dict[str, Any]:
        """The policy as JSON-ready data, for `GET /consent/policy.json` and exports."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["fingerprint"] = self.fingerprint
        return data

    @staticmethod
    def _unknown(id: str, known: list[str]) -> str:
        return f"unknown consent id {id!r}; known ids: {', '.join(known) or '(none)'}"


def load_policy(path: str | Path) -> Policy:
    """Read a policy from a TOML (``.toml``) or JSON (``.json``) file.

    Raises:
        PolicyError: the file is missing, unreadable, not valid TOML/JSON, or breaks a rule.
            Its message names the file, the field and the fix.
    """
    return validate_policy(read_policy_data(path), path)


def read_policy_data(path: str | Path) -> dict[str, Any]:
    """The parsed but unvalidated content of a policy file (for tools such as the lint)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise PolicyError(
            str(path),
            [("(file)", f"unknown file type {suffix or '(none)'!r}", "name it *.toml or *.json")],
        )
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(
            str(path),
            [("(file)", f"cannot be read: {exc}", "check the path and that it is UTF-8 text")],
        ) from None
    data: dict[str, Any] = _parse(path, suffix, raw)
    return data


def validate_policy(data: dict[str, Any], path: str | Path) -> Policy:
    """`Policy.model_validate(data)`, with errors naming `path`, the field and the fix."""
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(str(path), problems_from_validation(exc, data)) from None


def _parse(path: Path, suffix: str, raw: str) -> Any:
    if suffix == ".toml":
        import tomllib

        try:
            return tomllib.loads(raw)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(
                str(path),
                [("(syntax)", f"is not valid TOML: {exc}", "correct the TOML syntax at that line")],
            ) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PolicyError(
            str(path),
            [("(syntax)", f"is not valid JSON: {exc}", "correct the JSON syntax at that line")],
        ) from None
    if not isinstance(data, dict):
        raise PolicyError(
            str(path), [("(top level)", "must be an object", "wrap the policy in {...}")]
        )
    return data
