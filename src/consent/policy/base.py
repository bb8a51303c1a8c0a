"""What every policy model shares: frozen, strict about unknown fields, and the id type."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from consent.policy.problems import RuleError

__all__ = ["PolicyModel", "Slug"]

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?")


class PolicyModel(BaseModel):
    """The base of every part of a policy: frozen, `extra="forbid"` so that a typo in a
    policy file is an error naming the field, and surrounding whitespace stripped."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise RuleError(
            f"{value!r} is not a valid id",
            "use lower-case letters, digits, '-' or '_' (at most 64, starting and ending with "
            "a letter or digit), e.g. 'analytics'",
        )
    return value


Slug = Annotated[str, AfterValidator(_slug)]
"""The id of a category or a service."""
