"""Reading a policy file: TOML or JSON, parsed, then validated with errors that name the
file, the field and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from consent.policy.document import Policy
from consent.policy.problems import PolicyError, Problem, problems_from_validation

__all__ = ["load_policy", "read_policy_data", "validate_policy"]


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
            [
                Problem(
                    "(file)",
                    f"unknown file type {suffix or '(none)'!r}",
                    "name it *.toml or *.json",
                )
            ],
        )
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(
            str(path),
            [
                Problem(
                    "(file)", f"cannot be read: {exc}", "check the path and that it is UTF-8 text"
                )
            ],
        ) from None
    data: dict[str, Any] = _parse(path, suffix, raw)
    return data


def validate_policy(data: dict[str, Any], path: str | Path) -> Policy:
    """`Policy.model_validate(data)`, with errors naming `path`, the field and the fix."""
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(str(path), problems_from_validation(exc, data, Policy)) from None


def _parse(path: Path, suffix: str, raw: str) -> Any:
    if suffix == ".toml":
        import tomllib

        try:
            return tomllib.loads(raw)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(
                str(path),
                [
                    Problem(
                        "(syntax)",
                        f"is not valid TOML: {exc}",
                        "correct the TOML syntax at that line",
                    )
                ],
            ) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PolicyError(
            str(path),
            [
                Problem(
                    "(syntax)", f"is not valid JSON: {exc}", "correct the JSON syntax at that line"
                )
            ],
        ) from None
    if not isinstance(data, dict):
        raise PolicyError(
            str(path), [Problem("(top level)", "must be an object", "wrap the policy in {...}")]
        )
    return data
