"""Fuzz the consent-cookie decoder: the codec, and the middleware's Cookie-header handling.

Properties (an `AssertionError` names the one that broke):

* decoding never raises, whatever the value;
* a value decodes to a decision only if it carries a valid signature by one of the keys,
  and then to exactly the grants its payload spells (checked against an independent
  reading of the documented format, with `hmac` from the standard library);
* a mutated valid cookie (bits flipped, bytes inserted, deleted or replaced) decodes to
  "no decision", unless the mutations cancelled out;
* through the middleware, a request sees a decision only when its Cookie header holds a
  validly signed value as a pair named exactly `consent` (RFC 6265: not inside another
  cookie's value), among at most nine copies, and never more than that value grants;
* a refused cookie's Set-Cookie passes only as a sure deletion, read as RFC 6265 (5.2)
  reads attributes: the last valid Max-Age, else the last valid Expires.

Run: `.venv/bin/python -m fuzz.fuzz_cookie [libFuzzer options] [corpus dirs]`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadSignature, Signer
from starlette.types import Receive, Scope, Send

from consent import ConsentMiddleware, ConsentState, get_consent
from consent.signing import BadConsentCookie, ConsentCodec
from fuzz._common import KEY, NOW, OLD_KEY, POLICY, Reader, call_asgi, run_fuzzer

__all__ = ["check", "main"]

CODEC = ConsentCodec(POLICY, [KEY, OLD_KEY])
FOREIGN_KEY = "someone-elses-key-0123456789abcdef-0123456789"
_KEYS = (KEY, OLD_KEY, FOREIGN_KEY)
_SALT = b"consent.cookie"
_FIELDS = re.compile(
    r"1\.([0-9a-f]{1,10})\.([0-9a-f]{1,8})\.([0-9a-f]{8})\.([A-Za-z0-9_-]{22})"
    r"\.([0-9a-f]{1,64})\.([0-9a-f]{1,64})"
)
_FINGERPRINT = POLICY.fingerprint[:8]
_CATEGORIES = [c.id for c in POLICY.categories]
_SERVICES = [s.id for s in POLICY.services]
_REQUIRED = POLICY.required_ids
_REQUIRED_SERVICES = frozenset(s.id for s in POLICY.services if s.category in _REQUIRED)
_RECEIPT = "AAAAAAAAAAAAAAAAAAAAAA"


@dataclass(frozen=True)
class Grants:
    categories: frozenset[str]
    services: frozenset[str]

    @classmethod
    def of(cls, state: ConsentState) -> Grants:
        return cls(state.granted, state.services)

    def within(self, other: Grants) -> bool:
        return self.categories <= other.categories and self.services <= other.services


# --- an independent reading of the cookie format (signing.py's docstring) -----------------


def _signature(payload: bytes, key: str) -> str:
    # itsdangerous' Signer with key_derivation="hmac": HMAC(key, salt) is the signing key.
    derived = hmac.new(key.encode(), _SALT, hashlib.sha256).digest()
    mac = hmac.new(derived, payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def signed_fields(value: str) -> re.Match[str] | None:
    """The payload's fields when `value` is in the documented layout and validly signed by
    one of our keys (whatever the revision or age)."""
    if len(value) > 512 or not value.isascii():
        return None
    payload, dot, signature = value.rpartition(".")
    if not dot or not any(
        hmac.compare_digest(signature, _signature(payload.encode(), key)) for key in (KEY, OLD_KEY)
    ):
        return None
    return _FIELDS.fullmatch(payload)


def expected_grants(value: str, now: float = NOW) -> Grants | None:
    """What `value` must decode to; None for "no decision"."""
    fields = signed_fields(value)
    if fields is None:
        return None
    issued, revision, fingerprint, _, cats, svcs = fields.groups()
    if int(revision, 16) != POLICY.revision or fingerprint != _FINGERPRINT:
        return None
    if not -300 <= now - int(issued, 16) <= POLICY.max_age_days * 86400:
        return None
    cat_bits, svc_bits = int(cats, 16), int(svcs, 16)
    if cat_bits >> len(_CATEGORIES) or svc_bits >> len(_SERVICES):
        return None
    return Grants(
        frozenset(c for i, c in enumerate(_CATEGORIES) if cat_bits >> i & 1) | _REQUIRED,
        frozenset(s for i, s in enumerate(_SERVICES) if svc_bits >> i & 1) | _REQUIRED_SERVICES,
    )


def sign(payload: bytes, key: str = KEY) -> str:
    signer = Signer(key, salt="consent.cookie", key_derivation="hmac", digest_method=hashlib.sha256)
    return signer.sign(payload).decode("latin-1")


# --- the properties -----------------------------------------------------------------------


def check_value(value: str) -> ConsentState:
    """Decode `value` and hold the codec to the independent reading."""
    state = CODEC.decode(value, now=NOW)
    expected = expected_grants(value)
    if expected is None:
        assert not state.decided, f"decided without a valid signature: {value!r}"
        assert Grants.of(state) == Grants.of(CODEC.undecided), "undecided but granting"
        try:
            CODEC.loads(value, now=NOW)
        except (BadSignature, BadConsentCookie):
            pass
        else:
            raise AssertionError(f"loads accepted {value!r}")
    else:
        assert state.decided, f"a valid cookie was refused: {value!r}"
        assert Grants.of(state) == expected, f"{value!r} decoded to {state}, not {expected}"
    again = CODEC.decode(value, now=NOW)  # now from the cache, if it was cached
    assert Grants.of(again) == Grants.of(state) and again.decided == state.decided
    # The receipt id is read from any genuinely signed cookie, expired or outdated too.
    fields = signed_fields(value)
    assert CODEC.receipt_id_of(value) == (None if fields is None else fields[4]), value
    return state


def valid_cookie(reader: Reader, now: float = NOW) -> tuple[str, Grants]:
    """A genuine cookie for grants the fuzzer picks, issued up to 227 days before `now`."""
    cats = reader.byte() % (1 << len(_CATEGORIES))
    svcs = reader.byte() % (1 << len(_SERVICES))
    # Some expired; never within 5 minutes of the limit (the middleware reads the clock).
    age = reader.u16() * 300 + 7
    state = ConsentState.from_grants(
        POLICY,
        (c for i, c in enumerate(_CATEGORIES) if cats >> i & 1),
        (s for i, s in enumerate(_SERVICES) if svcs >> i & 1),
        issued_at=datetime.fromtimestamp(int(now) - age, UTC),
        receipt_id=_RECEIPT,
    )
    value = CODEC.encode(state)
    expected = expected_grants(value, now)
    assert (expected is not None) == (age <= POLICY.max_age_days * 86400)
    return value, Grants.of(state)


def mutate(value: str, reader: Reader) -> str:
    """Flip bits in, insert, delete or replace characters of `value`, as the bytes say."""
    chars = list(value.encode("latin-1"))
    for _ in range(reader.byte() % 6 + 1):
        op, at, byte = reader.byte() % 4, reader.u16() % (len(chars) + 1), reader.byte()
        if op == 0 and at < len(chars):
            chars[at] ^= 1 << (byte % 8)
        elif op == 1:
            chars.insert(at, byte)
        elif op == 2 and at < len(chars):
            del chars[at]
        elif at < len(chars):
            chars[at] = byte
    return bytes(chars).decode("latin-1")


def structured_payload(reader: Reader) -> bytes:
    """A payload in the documented layout where each field is right or fuzzed."""
    fields = [b"1", b"%x" % int(NOW), b"%x" % POLICY.revision, _FINGERPRINT.encode()]
    fields += [_RECEIPT.encode(), b"7", b"f"]
    for index in range(len(fields)):
        if reader.byte() & 1:
            fields[index] = reader.take(reader.byte() % 12)
    return b".".join(fields)


async def _report(scope: Scope, receive: Receive, send: Send) -> None:
    state = get_consent(scope)
    body = json.dumps([state.decided, sorted(state.granted), sorted(state.services)]).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


APP = ConsentMiddleware(_report, policy=POLICY, secret_key=[KEY, OLD_KEY])


def check_header(reader: Reader) -> None:
    """Cookie headers built from pieces: the genuine cookie, mutated copies, other cookies
    and raw bytes; the app must see no more than the genuine cookie grants."""
    now = time.time()  # the middleware decodes with the real clock
    value, grants = valid_cookie(reader, now)
    pieces: list[bytes] = []
    for _ in range(reader.byte() % 5 + 1):
        kind = reader.byte() % 7
        if kind == 0:
            pieces.append(b"consent=" + value.encode())
        elif kind == 1:
            pieces.append(b"consent=" + mutate(value, reader).encode("latin-1"))
        elif kind == 2:
            pieces.append(b'consent="' + value.encode() + b'"')
        elif kind == 3:
            pieces.append(b"_ga=GA1.2.3; PHPSESSID=abc")
        elif kind == 4:
            pieces.append(reader.take(reader.byte() % 40))
        elif kind == 5:  # the genuine value inside another cookie's value
            glue = [b" ", b"\t", b",", b"x", b"=", b'"'][reader.byte() % 6]
            pieces.append(b"x=a" + glue + b"consent=" + value.encode())
        else:  # a flood of copies, as a sibling sub-domain plants them
            pieces.extend([b"consent=" + value.encode()] * (reader.byte() % 14))
    separator = [b"; ", b";", b" ; ", b","][reader.byte() % 4]
    header = separator.join(pieces)
    cut = reader.byte()
    headers = [(b"cookie", header)]
    if cut & 1:  # the same header in two fields, as HTTP/2 clients send it
        at = cut % (len(header) + 1)
        headers = [(b"cookie", header[:at]), (b"cookie", header[at:])]
    messages = call_asgi(APP, "GET", "/", headers, [])
    start, body = messages[0], messages[1]
    assert start["status"] == 200, f"status {start['status']} for cookie {header!r}"
    decided, granted, services = json.loads(body["body"])
    # RFC 6265: the header is `;`-separated pairs; a consent cookie is a pair whose
    # trimmed name is exactly "consent". More than nine of them: no decision.
    joined = b"; ".join(value for _, value in headers)
    copies = [
        pair.partition(b"=")[2].strip(b" \t")
        for pair in joined.split(b";")
        if b"=" in pair and pair.partition(b"=")[0].strip(b" \t") == b"consent"
    ]
    genuine = any(c.strip(b'"') == value.encode() for c in copies) and len(copies) <= 9
    genuine = genuine and expected_grants(value, now) is not None
    assert not decided or genuine, f"decided without a genuine cookie: {header!r}"
    if decided:
        assert Grants(frozenset(granted), frozenset(services)).within(grants), header
    for set_cookie in (v for k, v in start["headers"] if k == b"set-cookie"):
        stored = set_cookie.split(b";", 1)[0].partition(b"=")[2].strip(b'"')
        if set_cookie.startswith(b"consent=") and stored:
            again = CODEC.decode(stored.decode("latin-1"), now=NOW)
            assert Grants.of(again).within(grants), f"widened to {again} by {header!r}"


_ATTRIBUTES = [b"Max-Age", b"max-age", b" MAX-AGE ", b"Expires", b"expires", b"Path", b"Domain"]
_VALUES = [
    b"0",
    b"-1",
    b"63072000",
    b"+5",
    b"1e3",
    b"",
    b" 7 ",
    b"0x10",
    b"99999999999999999999999",
]
_DATES = [b"Thu, 01 Jan 1970 00:00:00 GMT", b"Fri, 01 Jan 2100 00:00:00 GMT", b"garbage"]


def check_set_cookie(reader: Reader) -> None:
    """A Set-Cookie header of a refused cookie, with attributes built from pieces: it may
    pass only as a sure deletion, by RFC 6265 5.2's reading (the last valid Max-Age, else
    the last valid Expires)."""
    attributes: list[tuple[bytes, bytes]] = []
    for _ in range(reader.byte() % 6):
        name = _ATTRIBUTES[reader.byte() % len(_ATTRIBUTES)]
        pick = reader.byte()
        if b"xpires" in name.lower():
            text = _DATES[pick % 3] if pick & 0x80 else reader.take(pick % 30)
        else:
            text = _VALUES[pick % len(_VALUES)] if pick & 0x80 else reader.take(pick % 8)
        attributes.append((name, text))
    header = b"_ga=GA1.1" + b"".join(b"; " + n + b"=" + t for n, t in attributes)
    start = call_asgi(SET_COOKIE_APP, "GET", "/", [(b"x-set-cookie", header)], [])[0]
    passed = any(k == b"set-cookie" for k, _ in start["headers"])
    if re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", header):
        assert not passed, f"a header browsers ignore passed as a deletion: {header!r}"
        return
    max_ages = [
        t.strip(b" \t")
        for n, t in attributes
        if n.strip().lower() == b"max-age" and re.fullmatch(rb"-?[0-9]+", t.strip(b" \t"))
    ]
    dates = [t for n, t in attributes if n.lower() == b"expires"]
    if max_ages:
        assert passed is (int(max_ages[-1]) <= 0), f"{header!r}: passed={passed}"
    elif not dates:
        assert not passed, f"a refused cookie passed without any expiry: {header!r}"
    elif all(d in _DATES for d in dates):  # only dates known here are judged exactly
        valid = [d for d in dates if d != b"garbage"]
        assert passed is (bool(valid) and valid[-1] == _DATES[0]), f"{header!r}: {passed}"


async def _echo_set_cookie(scope: Scope, receive: Receive, send: Send) -> None:
    header = next(v for k, v in scope["headers"] if k == b"x-set-cookie")
    headers = [(b"content-type", b"text/plain"), (b"set-cookie", header)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


SET_COOKIE_APP = ConsentMiddleware(_echo_set_cookie, policy=POLICY, secret_key=KEY)


def check(data: bytes) -> None:
    reader = Reader(data)
    mode = reader.byte() % 7
    if mode == 6:
        check_set_cookie(reader)
        return
    if mode == 0:  # any bytes, as a latin-1 string (what the middleware hands over)
        check_value(reader.rest().decode("latin-1"))
    elif mode == 1:  # any text
        check_value(reader.rest().decode("utf-8", "replace"))
    elif mode == 2:  # any payload, validly signed by a chosen key: the parser behind the MAC
        key = _KEYS[reader.byte() % 3]
        check_value(sign(reader.rest(), key))
    elif mode == 3:  # the documented layout with some fields fuzzed
        check_value(sign(structured_payload(reader)))
    elif mode == 4:  # mutations of a genuine cookie
        value, grants = valid_cookie(reader)
        mutated = mutate(value, reader)
        state = check_value(mutated)
        if mutated != value:
            assert not state.decided, f"mutated {value!r} to {mutated!r} and it still decodes"
        elif expected_grants(value) is not None:
            assert Grants.of(state) == grants
    else:
        check_header(reader)


def main() -> None:
    run_fuzzer("fuzz.fuzz_cookie")


if __name__ == "__main__":
    main()
