"""A category: a purpose visitors consent to as a whole."""

from __future__ import annotations

from pydantic import model_validator

from consent.policy.base import PolicyModel, Slug
from consent.policy.google_consent_mode import GoogleType
from consent.policy.problems import RuleError
from consent.policy.text import Text

__all__ = ["Category"]


class Category(PolicyModel):
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
            raise RuleError(
                "a required category cannot be opted out of",
                "remove gpc_opt_out, or make the category optional",
                where="gpc_opt_out",
            )
        return self
