"""Checks on incoming consent requests: origin, `next`, body size and type, choice fields.

Every function here turns bad input into a `BadRequest` carrying the HTTP status and a
message that says what is allowed. Nothing here raises anything else on network input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import cast
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import Headers
from starlette.types import Receive

from consent._mime import parse_mime
from consent.policy import Policy
from consent.state import ACTIONS, Action

__all__ = ["BadRequest", "Choice", "is_same_origin", "parse_choice", "read_body", "safe_next"]

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


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_key(netloc: str) -> tuple[str, int | None] | None:
    # Used when the request's scheme is unknown (a scope without "scheme"): ports 80 and
    # 443 then count as "no port", as either scheme may be the request's.
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname, None if port in (80, 443) else port


def _endpoint(netloc: str, scheme: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, the default port of the scheme filled in, as
    the URL Standard compares origins; None when `netloc` is no host."""
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or scheme not in _DEFAULT_PORTS:
        return None
    return scheme, parts.hostname, _DEFAULT_PORTS[scheme] if port is None else port


def is_same_origin(headers: Headers, trusted: frozenset[str], scheme: str | None = None) -> bool:
    """The Fetch Metadata rule: `Sec-Fetch-Site`, else `Origin`, else `Referer`.

    A request with none of the three comes from a non-browser client and passes.
    Origins in `trusted` pass too (sibling sub-domains sharing the cookie).

    Args:
        headers: the request's headers.
        trusted: other origins allowed, as `normalize_origins` gives them.
        scheme: the request's scheme (the ASGI scope's `"scheme"`; behind a proxy, what
            its forwarded headers say). When known, an Origin or Referer of another scheme
            is another origin (`http://host` posting to `https://host` is refused), and
            ports are compared with the scheme's default filled in. None: unknown, the
            host and port alone are compared (80 and 443 count as no port).
    """
    origin = headers.get("origin")
    site = headers.get("sec-fetch-site")
    if site is not None:
        if site.strip().lower() in ("same-origin", "none"):
            return True
        return origin is not None and origin.strip().lower() in trusted
    if origin is None:
        referer = headers.get("referer")
        if referer is None:
            return True
        try:
            parts = urlsplit(referer.strip())
        except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 host)
            return False
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "null"
    origin = origin.strip().lower()
    if origin in trusted:
        return True
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    host = headers.get("host")
    if parts.scheme not in ("http", "https") or host is None:
        return False
    if scheme is None:
        key = _host_key(parts.netloc)
        return key is not None and key == _host_key(host.strip())
    theirs = _endpoint(parts.netloc, parts.scheme)
    return theirs is not None and theirs == _endpoint(host.strip(), scheme.lower())


def safe_next(value: str | None) -> str:
    """`value` if it is a path on this origin, else `/` (no open redirects)."""
    if not value or len(value) > 2048 or not value.startswith("/"):
        return "/"
    if value.startswith(("//", "/\\")) or any(ord(c) < 0x21 or c in "\\\x7f" for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


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
        _json_fields(text) if kind == "json" else (*_form_fields(text), False)
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
        cast(Action, action), grant, safe_next(next_value), kind == "json", gpc, lang or None
    )


_Fields = tuple[object, list[str], str | None, str | None]
"""(action, grant ids, next, lang) as found in the body, not yet validated."""


def _form_fields(text: str) -> _Fields:
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
    return fields.get("action"), grants, fields.get("next"), fields.get("lang")


def _json_fields(text: str) -> tuple[object, list[str], str | None, str | None, bool]:
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
    return data.get("action"), grant, next_value, lang, gpc
