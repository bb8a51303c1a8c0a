"""A posted choice, read and checked: body size and type, then the choice's fields.

Every function here turns bad input into a `BadRequest` carrying the HTTP status and a
message that says what is allowed. Nothing here raises anything else on network input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import NamedTuple, cast
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import Receive

from consent._mime import parse_mime
from consent.origin import safe_next
from consent.policy import Policy
from consent.state import ACTIONS, Action

__all__ = ["BadRequest", "Choice", "content_kind", "parse_choice", "read_body"]

_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"
_MAX_FIELDS = 1000


class BadRequest(Exception):
    """Input the consent route refuses, with the status to answer."""

    def __init__(self, status: int, message: str, allowed: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.allowed = allowed


@dataclass(frozen=True)
class Choice:
    """A parsed, validated decision."""

    action: Action
    grant: frozenset[str]
    next: str
    is_json: bool
    gpc: bool = False  # the page's script saw navigator.globalPrivacyControl
    lang: str | None = None  # the language the choice was offered in, as the page says


async def read_body(headers: Headers, receive: Receive, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes with 413."""
    declared = headers.get("content-length")
    if declared is not None:
        declared = declared.strip()
        if not (declared.isascii() and declared.isdigit()):  # "²".isdigit() is True
            raise BadRequest(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise BadRequest(413, f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest(400, "the client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, f"the body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def content_kind(headers: Headers) -> str:
    """'form' or 'json' from Content-Type; 415 for anything else."""
    mime = parse_mime(headers.get("content-type", ""))  # the one Content-Type parser
    media = "" if mime is None else mime.essence
    if media == _FORM:
        return "form"
    if media == _JSON or (media.startswith("application/") and media.endswith("+json")):
        return "json"
    raise BadRequest(415, f"send {_FORM} or {_JSON}", [_FORM, _JSON])


def parse_choice(policy: Policy, kind: str, body: bytes) -> Choice:
    """Parse and validate `action`, `grant` and `next` from a form or JSON body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "the body is not UTF-8") from None
    action, grants, next_value, lang, gpc = (
        _json_fields(text) if kind == "json" else _form_fields(text)
    )
    if action not in ACTIONS:
        raise BadRequest(400, f"action must be one of {', '.join(ACTIONS)}", list(ACTIONS))
    grant = frozenset(grants)
    known = [c.id for c in policy.categories] + [s.id for s in policy.services]
    unknown = sorted(grant - set(known))
    if unknown:
        raise BadRequest(400, f"unknown grant id(s) {', '.join(map(repr, unknown))}", known)
    # `grant` is ignored for accept_all / reject_all: the preferences form sends its
    # ticked boxes with whichever button was pressed.
    return Choice(
        action=cast(Action, action),
        grant=grant,
        next=safe_next(next_value),
        is_json=kind == "json",
        gpc=gpc,
        lang=lang or None,
    )


class Fields(NamedTuple):
    """A choice's fields as found in the body, not yet validated."""

    action: object
    grant: list[str]
    next: str | None
    lang: str | None
    gpc: bool = False  # (JSON only: the page's script saw navigator.globalPrivacyControl)


def _form_fields(text: str) -> Fields:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except ValueError:
        raise BadRequest(400, f"the form has more than {_MAX_FIELDS} fields") from None
    fields: dict[str, str] = {}
    grants: list[str] = []
    for key, value in pairs:
        if key == "grant":
            grants.append(value)
        elif key in ("action", "next", "lang"):
            if key in fields:
                raise BadRequest(400, f"{key} is given more than once")
            fields[key] = value
    return Fields(fields.get("action"), grants, fields.get("next"), fields.get("lang"))


def _json_fields(text: str) -> Fields:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest(400, 'send a JSON object such as {"action": "reject_all"}')
    fields = ["action", "grant", "next", "gpc", "lang"]
    extra = sorted(set(data) - set(fields))
    if extra:
        raise BadRequest(400, f"unknown field(s) {', '.join(map(repr, extra))}", fields)
    gpc = data.get("gpc", False)
    if not isinstance(gpc, bool):
        raise BadRequest(400, "gpc must be true or false")
    grant = data.get("grant", [])
    if not isinstance(grant, list) or not all(isinstance(g, str) for g in grant):
        raise BadRequest(400, "grant must be a list of category or service ids")
    next_value = data.get("next")
    if next_value is not None and not isinstance(next_value, str):
        raise BadRequest(400, "next must be a string")
    lang = data.get("lang")
    if lang is not None and not isinstance(lang, str):
        raise BadRequest(400, "lang must be a language tag such as 'de'")
    return Fields(data.get("action"), grant, next_value, lang, gpc)
