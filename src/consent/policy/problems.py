"""Policy errors that name the file, the field and the fix.

Pydantic's validation errors are turned into one `Problem` per field. An unknown field
gets a "did you mean" hint drawn from the fields the models themselves declare, so a new
field is offered as soon as it exists.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable
from typing import Any, NamedTuple, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

__all__ = ["PolicyError", "Problem", "RuleError", "field_names", "problems_from_validation"]


class Problem(NamedTuple):
    """One thing wrong with a policy: where, what is wrong, and how to fix it."""

    where: str
    what: str
    fix: str


class Description(NamedTuple):
    """What is wrong with a field and how to fix it (a Problem without its place)."""

    what: str
    fix: str


_TEXT_FIELDS = {"title", "description", "purpose", "controller", "text"}
_TEXT_PROBLEM = Description(
    "must be text or a mapping of language -> text", 'write "..." or { en = "..." }'
)
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
    """A policy file that cannot be used.

    Attributes:
        file: the file's name, as given.
        problems: one Problem per broken field, a named tuple that also unpacks as
            `where, what, fix`.
    """

    def __init__(self, file: str, problems: Iterable[tuple[str, str, str]]) -> None:
        self.file = file
        self.problems: list[Problem] = [Problem(*problem) for problem in problems]
        lines = [f"{file}: {p.where}: {p.what}. Fix: {p.fix}" for p in self.problems]
        head = f"{file}: {len(self.problems)} problem(s) in the consent policy"
        super().__init__("\n".join([head, *lines]))


class RuleError(PydanticCustomError):
    """A rule of the policy that a value breaks, with its fix (and, for a rule across
    fields, the place to report). Raised inside the models' validators; reported as a
    Problem."""

    def __new__(cls, message: str, fix: str, *, where: str | None = None) -> RuleError:
        context = {"message": message, "fix": fix, "where": where or ""}
        return super().__new__(cls, "policy", "{message}. Fix: {fix}", context)

    def __init__(self, message: str, fix: str, *, where: str | None = None) -> None:
        # Everything is set in __new__: pydantic-core's error takes no such arguments here.
        pass


def problems_from_validation(
    exc: ValidationError, data: Any, model: type[BaseModel]
) -> list[Problem]:
    """Turn pydantic's errors into readable problems, one per field.

    Args:
        exc: what `model.model_validate(data)` raised.
        data: the data that was validated (to name entries by their id).
        model: the model that was validated; its fields are the hints for unknown ones.
    """
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
            problem = Problem(where, ctx["message"], ctx["fix"])
        elif where in problems:
            # A text field reports once per union member (str, mapping); say it once.
            if loc and loc[-1] in _TEXT_FIELDS:
                problems[where] = Problem(
                    where,
                    _TEXT_PROBLEM.what,
                    'write title = "..." or title = { en = "...", de = "..." }',
                )
            continue
        else:
            problem = Problem(where, *_describe(error, loc, model))
        problems[where] = problem
    return list(problems.values())


def field_names(model: type[BaseModel]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """The fields a policy file may write, per place: `()` for the top level,
    `("services", "cookies")` for a service's cookie rules, and so on.

    Read from the models' own fields (by the name a file writes: the alias when there is
    one), following every field whose type holds another model.
    """
    places: dict[tuple[str, ...], tuple[str, ...]] = {}

    def walk(owner: type[BaseModel], place: tuple[str, ...]) -> None:
        if place in places:
            return
        places[place] = tuple(info.alias or name for name, info in owner.model_fields.items())
        for name, info in owner.model_fields.items():
            for inner in _models_in(info.annotation):
                walk(inner, (*place, info.alias or name))

    walk(model, ())
    return places


def _models_in(annotation: Any) -> Iterable[type[BaseModel]]:
    """The models inside a type: `Banner | None`, `tuple[Category, ...]` and the like."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType) or isinstance(origin, type):
        for argument in get_args(annotation):
            yield from _models_in(argument)


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


def _describe(
    error: ErrorDetails, loc: tuple[int | str, ...], model: type[BaseModel]
) -> Description:
    kind = error["type"]
    field = str(loc[-1]) if loc else ""
    owner = tuple(p for p in loc[:-1] if isinstance(p, str))
    if kind == "missing":
        return Description("is missing", f"add {field} = ... to this entry")
    if kind == "extra_forbidden":
        allowed = field_names(model).get(owner, ())
        close = difflib.get_close_matches(field, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return Description(
            "is not a known field", f"{hint}remove it or use one of: {', '.join(allowed)}"
        )
    message = str(error["msg"])
    if field in _TEXT_FIELDS and kind in ("string_type", "dict_type"):
        return _TEXT_PROBLEM
    return Description(
        message[:1].lower() + message[1:], _TYPE_FIXES.get(kind, "see the policy file reference")
    )
