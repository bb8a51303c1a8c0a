"""Fuzz `POST /consent`: the body parsing in `consent.choices` and the whole route.

Properties (an `AssertionError` names the one that broke):

* `content_kind` and `parse_choice` raise nothing but `BadRequest` (400, 413 or 415);
  a parsed choice has a known action, known grant ids and a same-site `next`;
* the route, driven in-process through `ConsentMiddleware`, never answers 500 (no exception
  escapes) and answers only 200, 303, 400, 403, 413 or 415;
* a consent cookie is set exactly when the answer is 200 (JSON) or 303 (form), and then
  holds what the body's action asks for: everything for `accept_all`, nothing optional
  for `reject_all`, exactly the listed ids for `save`, as read from the body by
  `urllib.parse` / `json` here;
* a cross-site request (`Sec-Fetch-Site: cross-site`, or a foreign `Origin`) never sets it;
* a 303 goes to a path on this site.

Run: `.venv/bin/python -m fuzz.fuzz_request [libFuzzer options] [corpus dirs]`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from consent import ConsentMiddleware, ConsentState
from consent.choices import BadRequest, content_kind, parse_choice
from consent.signing import ConsentCodec
from consent.state import ACTIONS
from fuzz._common import KEY, POLICY, Reader, call_asgi, response_headers, run_fuzzer
from fuzz.fuzz_next import check_target

__all__ = ["check", "main"]

CONTENT_TYPES = [
    b"application/x-www-form-urlencoded",
    b"application/json",
    b"application/x-www-form-urlencoded; charset=utf-8",
    b"Application/JSON; charset=latin-1",
    b"application/ld+json",
    b"text/plain",
    b"multipart/form-data; boundary=x",
    b"",
]
ORIGINS: list[list[tuple[bytes, bytes]]] = [
    [],
    [(b"sec-fetch-site", b"same-origin")],
    [(b"origin", b"https://site.example")],
    [(b"referer", b"https://site.example/page")],
    [(b"sec-fetch-site", b"cross-site")],
    [(b"origin", b"https://evil.example")],
    [(b"sec-fetch-site", b"same-site"), (b"origin", b"https://site.example")],
    [(b"referer", b"https://evil.example/site.example")],
]
CROSS_SITE = frozenset({4, 5, 6, 7})
MAX_BODY = 64 * 1024
KNOWN = frozenset([c.id for c in POLICY.categories] + [s.id for s in POLICY.services])
CODEC = ConsentCodec(POLICY, KEY)
_ISSUED = datetime(2025, 1, 1, tzinfo=UTC)


async def _never(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("the consent route reached the application")


APP = ConsentMiddleware(_never, policy=POLICY, secret_key=KEY)


def asked_for(kind: str, body: bytes) -> tuple[str, frozenset[str]] | None:
    """(action, grant ids) as the body states them, read independently of requests.py;
    None when it does not state one action clearly."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if kind == "form":
        try:
            fields = parse_qs(text, keep_blank_values=True, max_num_fields=10_000)
        except ValueError:
            return None
        actions = fields.get("action", [])
        if len(actions) != 1:
            return None
        return actions[0], frozenset(fields.get("grant", []))
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("action"), str):
        return None
    grant = data.get("grant", [])
    return data["action"], frozenset(g for g in grant if isinstance(g, str))


def check_parsing(content_type: bytes, body: bytes) -> None:
    try:
        kind = content_kind(Headers(raw=[(b"content-type", content_type)]))
        choice = parse_choice(POLICY, kind, body)
    except BadRequest as exc:
        assert exc.status in (400, 413, 415), f"status {exc.status}"
        assert exc.message, "a BadRequest without a message"
        return
    assert choice.action in ACTIONS, choice
    assert choice.grant <= KNOWN, choice
    assert choice.is_json == (kind == "json")
    check_target(choice.next, choice.next)
    stated = asked_for(kind, body)
    assert stated is not None and stated[0] == choice.action, f"{body!r} parsed as {choice}"
    if choice.action == "save":
        assert stated[1] == choice.grant, f"{body!r} parsed as {choice}"


def check_route(reader: Reader, content_type: bytes, body: bytes) -> None:
    origin = reader.byte() % len(ORIGINS)
    headers = [*ORIGINS[origin]]
    if content_type:
        headers.append((b"content-type", content_type))
    length = reader.byte() % 4
    if length == 1:
        headers.append((b"content-length", str(len(body)).encode()))
    elif length == 2:
        headers.append((b"content-length", reader.take(reader.byte() % 8)))
    if reader.byte() & 1:
        headers.append((b"accept", b"application/json"))
    cuts = sorted({reader.u16() % (len(body) + 1) for _ in range(reader.byte() % 4)})
    chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    messages = call_asgi(APP, "POST", "/consent", headers, chunks)
    status = messages[0]["status"]
    assert status in (200, 303, 400, 403, 413, 415), f"status {status}"
    stored = [
        c.split(b";")[0].partition(b"=")[2]
        for c in response_headers(messages, b"set-cookie")
        if c.startswith(b"consent=")
    ]
    if status not in (200, 303):
        assert not stored, f"a consent cookie with status {status}"
        return
    assert origin not in CROSS_SITE, f"recorded a cross-site request: {ORIGINS[origin]}"
    assert len(body) <= MAX_BODY
    assert len(stored) == 1, f"{len(stored)} consent cookies"
    state = CODEC.decode(stored[0].decode("latin-1"))
    assert state.decided, "the cookie set does not decode"
    kind = "json" if status == 200 else "form"
    stated = asked_for(kind, body)
    assert stated is not None, f"recorded a choice from {body!r}"
    action, grant = stated
    assert action in ACTIONS and grant <= KNOWN, f"recorded {action!r} {grant!r}"
    expected = ConsentState.from_choice(
        POLICY,
        action,  # type: ignore[arg-type]  # checked against ACTIONS just above
        grant if action == "save" else (),
        issued_at=_ISSUED,
        receipt_id="x",
    )
    assert (state.granted, state.services) == (expected.granted, expected.services), (
        f"{body!r} stored {sorted(state.granted)} {sorted(state.services)}"
    )
    if status == 303:
        (location,) = response_headers(messages, b"location")
        check_target(location.decode("latin-1"), repr(body))


def check(data: bytes) -> None:
    reader = Reader(data)
    pick = reader.byte()
    if pick < 224:
        content_type = CONTENT_TYPES[pick % len(CONTENT_TYPES)]
    else:
        content_type = reader.take(reader.byte() % 40)
    route = reader.take(8)  # how the request is sent: origin headers, length, chunks
    body = reader.rest()
    check_parsing(content_type, body)
    check_route(Reader(route), content_type, body)


def main() -> None:
    run_fuzzer("fuzz.fuzz_request")


if __name__ == "__main__":
    main()
