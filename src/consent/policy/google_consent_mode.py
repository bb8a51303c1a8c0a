"""Google Consent Mode v2 in a policy: the seven consent types and the regional defaults.

What the middleware emits from these settings is `consent.consent_mode`'s business.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Field, field_validator

from consent.policy.base import PolicyModel
from consent.policy.problems import RuleError

__all__ = ["CONSENT_TYPES", "ConsentType", "GoogleConsentMode", "GoogleType", "RegionDefault"]

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
        raise RuleError(
            f"{value!r} is not a Google Consent Mode type",
            f"write {near[0]!r} (the types are {known})" if near else f"use some of {known}",
        )
    return value


GoogleType = Annotated[ConsentType, BeforeValidator(_consent_type)]
_REGION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")


class RegionDefault(PolicyModel):
    """A Consent Mode default for some regions: the listed types start granted there."""

    region: tuple[str, ...] = Field(min_length=1)
    granted: tuple[GoogleType, ...] = ()

    @field_validator("region")
    @classmethod
    def _check_region(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not _REGION.fullmatch(code):
                raise RuleError(
                    f"{code!r} is not an ISO 3166 region code",
                    "write a country such as 'US' or a subdivision such as 'US-CA'",
                )
        return value


class GoogleConsentMode(PolicyModel):
    """Google Consent Mode v2 for the site's Google tags (`consent.head()` emits it)."""

    wait_for_update: int | None = Field(default=None, ge=1, le=60_000)
    regions: tuple[RegionDefault, ...] = ()
