"""Policy errors that name the file, the field and the fix."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

Problem = tuple[str, str, str]
"""(where, what is wrong, how to fix it)."""

_TEXT_FIELDS = {"title", "description", "purpose", "controller", "text"}
_FIELDS: dict[tuple[str, ...], tuple[str, ...]] = {
    (): (
        "revision",
        "max_age_days",
        "default_language",
        "controller",
        "privacy_policy_url",
        "banner",
        "categories",
        "services",
    ),
    ("banner",): ("title", "text"),
    ("categories",): ("id", "title", "description", "required"),
    ("services",): ("id", "category", "title", "description", "cookies", "hosts", "preset"),
    ("services", "cookies"): ("name", "purpose", "duration", "path", "domain"),
}
_TYPE_FIXES = {
    "int_parsing": "write a whole number, e.g. 1",
    "int_type": "write a whole number, e.g. 1",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "string_type": "write text in quotes",
    "tuple_type": "write a list: [...] (or [[...]] tables in TOML)",
    "list_type": "write a list: [...] (or [[...]] tables in TOML)",
    "model_type": "write a table / object with the fields of this entry",
    "too_short": "declare at least one entry",
    "too_long": "split the policy: the consent cookie holds at most 256 of these",
    "greater_than_equal": "raise the number",
    "less_than_equal": "lower the number",
}


class PolicyError(ValueError):
    """A policy file that cannot be used. `problems` holds (where, what, fix) triples."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        lines = [f"{file}: {where}: {what}. Fix: {fix}" for where, what, fix in problems]
        head = f"{file}: {len(problems)} problem(s) in the consent policy"
        super().__init__("\n".join([head, *lines]))


def invalid(message: str, fix: str, *, where: str | None = None) -> PydanticCustomError:
    """A validation error carrying its fix (and, for cross-field rules, its location)."""
    return PydanticCustomError(
        "policy", "{message}. Fix: {fix}", {"message": message, "fix": fix, "where": where or ""}
    )


def problems_from_validation(exc: ValidationError, data: Any) -> list[Problem]:
    """Turn pydantic's errors into readable (where, what, fix) triples, one per field."""
    problems: dict[str, Problem] = {}
    for error in exc.errors(include_url=False):
        loc = _clean(error["loc"])
        ctx = error.get("ctx") or {}
        given = error.get("input")
        if error["type"] == "too_short" and isinstance(given, list | tuple):
            if len(given) >= ctx.get("min_length", 0):
                continue  # pydantic counts only the valid items; the others are reported

        where = ctx.get("where") or _where(loc, data)
        if error["type"] == "policy":
            problem = (where, ctx["message"], ctx["fix"])
        elif where in problems:
            # A text field reports once per union member (str, mapping); say it once.
            if loc and loc[-1] in _TEXT_FIELDS:
                problems[where] = (
                    where,
                    "must be text or a mapping of language -> text",
                    'write title = "..." or title = { en = "...", de = "..." }',
                )
            continue
        else:
            problem = (where, *_describe(error, loc))
        problems[where] = problem
    return list(problems.values())


def _clean(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # Union members appear in the location ('str', 'dict[str,str]', 'function-after[...]').
    return tuple(
        part
        for part in loc
        if isinstance(part, int) or (part.isidentifier() and part not in {"str", "dict"})
    )


def _where(loc: tuple[int | str, ...], data: Any) -> str:
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                out += f" (id {node['id']!r})"
        else:
            out += f".{part}" if out else part
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(top level)"


def _describe(error: Any, loc: tuple[int | str, ...]) -> tuple[str, str]:
    kind = error["type"]
    field = str(loc[-1]) if loc else ""
    owner = tuple(p for p in loc[:-1] if isinstance(p, str))
    if kind == "missing":
        return "is missing", f"add {field} = ... to this entry"
    if kind == "extra_forbidden":
        allowed = _FIELDS.get(owner, ())
        close = difflib.get_close_matches(field, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return "is not a known field", f"{hint}remove it or use one of: {', '.join(allowed)}"
    message = str(error["msg"])
    if field in _TEXT_FIELDS and kind in ("string_type", "dict_type"):
        return "must be text or a mapping of language -> text", 'write "..." or { en = "..." }'
    return message[:1].lower() + message[1:], _TYPE_FIXES.get(kind, "see the policy file reference")
