"""The consent-cookie codec: a compact, versioned payload signed with HMAC-SHA256.

Cookie value (version 1), all in cookie-safe characters::

    1.<issued-at>.<revision>.<fingerprint>.<receipt id>.<categories>.<services>.<signature>

issued-at, revision and the two bit masks are lower-case hex; the fingerprint is the first
8 hex digits of `Policy.fingerprint`; the receipt id is 22 URL-safe base64 characters.

The two bit masks refer to positions in the policy (category order, service order).
That is safe because the fingerprint covers the order: a policy whose order changed
no longer accepts the cookie. The signature is itsdangerous' ``Signer`` with SHA-256 and
HMAC key derivation under the salt ``consent.cookie``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from itsdangerous import BadSignature, Signer

from consent.policy import Policy
from consent.state import ConsentState

__all__ = [
    "MAX_COOKIE_LENGTH",
    "BadConsentCookie",
    "ConsentCodec",
    "Current",
    "ExpiredConsent",
    "OutdatedConsent",
    "new_receipt_id",
]

MAX_COOKIE_LENGTH = 512
"""Longer values are refused before any cryptography runs."""
MIN_SECRET_LENGTH = 32
CLOCK_SKEW = 300
"""Seconds an issued-at may lie in the future (clocks of several app servers differ)."""

_PAYLOAD = re.compile(
    rb"1\.([0-9a-f]{1,10})\.([0-9a-f]{1,8})\.([0-9a-f]{8})\.([A-Za-z0-9_-]{22})"
    rb"\.([0-9a-f]{1,64})\.([0-9a-f]{1,64})"
)


_LAST_SECOND = 253402300799
"""9999-12-31T23:59:59Z, the last issued-at that `datetime` can hold."""

# 32 bytes in unpadded base64url: 43 characters, the last carrying 4 bits and two zero bits.
_SIGNATURE = re.compile(rb"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")


class BadConsentCookie(Exception):
    """The cookie is well signed but not usable, or not a consent cookie at all."""


class ExpiredConsent(BadConsentCookie):
    """The choice is older than the policy's `max_age_days`."""


class OutdatedConsent(BadConsentCookie):
    """The choice was made under another policy revision or fingerprint."""


def new_receipt_id() -> str:
    """A random 128-bit id, URL-safe base64 without padding (22 characters).

    An id never starts with `-`, so it can be pasted after `consent log show` without being
    taken for an option (this costs 0.02 bits of the 128).
    """
    while True:
        receipt_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
        if receipt_id[0] != "-":
            return receipt_id


def check_secret_keys(secret_key: str | Sequence[str] | None) -> list[str]:
    """The keys as a list (first signs), or ValueError explaining what is wrong."""
    keys = [secret_key] if isinstance(secret_key, str) else list(secret_key or ())
    if not keys:
        raise ValueError(
            "ConsentMiddleware needs secret_key: a random string of at least 32 characters "
            "(e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), the "
            "same on every server. Pass a list to rotate keys: the first signs, all verify."
        )
    for index, key in enumerate(keys):
        if not isinstance(key, str) or len(key) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"secret_key[{index}] is too short or not a string: consent cookies need at least "
                f"{MIN_SECRET_LENGTH} random characters per key"
            )
    return keys


class Current(NamedTuple):
    """A current consent cookie's state, and the Unix seconds between which it holds."""

    state: ConsentState
    since: float
    until: float

    def holds(self, now: float) -> bool:
        """Whether the cookie holds at `now` (issued, less the clock skew, and not expired)."""
        return self.since <= now <= self.until


class ConsentCodec:
    """Encodes a ConsentState into a signed cookie value and back.

    `decode` never raises: anything wrong is "undecided". Verified values are cached
    (bounded), so a returning visitor costs one dictionary look-up and an expiry check.
    """

    def __init__(
        self,
        policy: Policy,
        secret_key: str | Sequence[str],
        *,
        salt: str = "consent.cookie",
        cache_size: int = 4096,
    ) -> None:
        keys = check_secret_keys(secret_key)
        # itsdangerous signs with the last key; our contract says the first one signs.
        self._signer = Signer(
            list(reversed(keys)), salt=salt, key_derivation="hmac", digest_method=hashlib.sha256
        )
        self.policy = policy
        self.max_age = policy.max_age_days * 86400
        self._fingerprint = policy.fingerprint[:8].encode()
        self._language = policy.default_language
        self._undecided = ConsentState.undecided(policy).in_language(self._language)
        self._undecided_gpc = self._undecided.with_gpc()
        self._undecided_in: dict[tuple[str, bool], ConsentState] = {}
        self._cache: OrderedDict[str, tuple[int, ConsentState | None]] = OrderedDict()
        self._lock = threading.Lock()  # sync endpoints decode from worker threads
        self._cache_size = cache_size

    def __repr__(self) -> str:
        return f"<ConsentCodec revision={self.policy.revision} keys=***>"

    @property
    def cached(self) -> int:
        """How many verified cookie values the codec remembers: at most `cache_size`, the
        oldest forgotten first, and only genuinely signed values (garbage costs no memory)."""
        return len(self._cache)

    @property
    def undecided(self) -> ConsentState:
        """The shared "no decision" state for this policy."""
        return self._undecided

    def undecided_in(self, language: str, gpc: bool) -> ConsentState:
        """The shared "no decision" state shown in `language`, with or without GPC."""
        if language == self._language:
            return self._undecided_gpc if gpc else self._undecided
        found = self._undecided_in.get((language, gpc))
        if found is None:
            base = self._undecided_gpc if gpc else self._undecided
            found = self._undecided_in[(language, gpc)] = base.in_language(language)
        return found

    def encode(self, state: ConsentState) -> str:
        """The signed cookie value for a decided `state`."""
        if not state.decided or state.issued_at is None or state.receipt_id is None:
            raise ValueError("only a decided state with issued_at and receipt_id can be stored")
        policy = self.policy
        cats = sum(1 << i for i, c in enumerate(policy.categories) if c.id in state.granted)
        svcs = sum(1 << i for i, s in enumerate(policy.services) if s.id in state.services)
        payload = (
            f"1.{int(state.issued_at.timestamp()):x}.{policy.revision:x}."
            f"{self._fingerprint.decode()}.{state.receipt_id}.{cats:x}.{svcs:x}"
        )
        return self._signer.sign(payload).decode("ascii")

    def decode(self, value: str, now: float | None = None) -> ConsentState:
        """The state stored in `value`, or the undecided state if anything is wrong."""
        # The common case (a cached, current, unexpired cookie) is answered here directly.
        hit = self._cache.get(value)
        if hit is not None and hit[1] is not None:
            elapsed = (time.time() if now is None else now) - hit[0]
            if -CLOCK_SKEW <= elapsed <= self.max_age:
                return hit[1]
        try:
            return self.loads(value, now)
        except (BadSignature, BadConsentCookie):
            return self._undecided

    def loads(self, value: str, now: float | None = None) -> ConsentState:
        """Like `decode`, but raises a specific exception saying why a value is refused."""
        now = time.time() if now is None else now
        issued, result = self._verified(value)
        if result is None:
            raise OutdatedConsent("made under another policy revision or fingerprint")
        if issued > now + CLOCK_SKEW:
            raise BadConsentCookie("issued in the future")
        if now - issued > self.max_age:
            raise ExpiredConsent(f"issued more than {self.policy.max_age_days} days ago")
        return result

    def current(self, value: str) -> Current | None:
        """The state in a genuinely signed cookie of the current policy revision, with the
        times (Unix seconds) between which `decode` returns it: from its issue, less the
        allowed clock skew, to its expiry. None for anything else."""
        try:
            issued, state = self._verified(value)
        except (BadSignature, BadConsentCookie):
            return None
        if state is None:
            return None
        # (Floats: the middleware compares them with `time.time()`.)
        return Current(state, float(issued - CLOCK_SKEW), float(issued + self.max_age))

    def receipt_id_of(self, value: str) -> str | None:
        """The receipt id in a genuinely signed cookie, even an expired or outdated one:
        a new decision's receipt links to the one it replaces. None for anything else."""
        try:
            raw = value.encode("ascii")
            if len(raw) > MAX_COOKIE_LENGTH or not _SIGNATURE.fullmatch(raw, raw.rfind(b".") + 1):
                return None
            match = _PAYLOAD.fullmatch(self._signer.unsign(raw))
        except (UnicodeEncodeError, BadSignature):
            return None
        return match[4].decode() if match else None

    def _verified(self, value: str) -> tuple[int, ConsentState | None]:
        """(issued at, state or None if outdated) of a well-signed value, cached."""
        hit = self._cache.get(value)
        return hit if hit is not None else self._verify(value)

    def _verify(self, value: str) -> tuple[int, ConsentState | None]:
        if len(value) > MAX_COOKIE_LENGTH:
            raise BadConsentCookie("oversized")
        try:
            raw = value.encode("ascii")
        except UnicodeEncodeError:
            raise BadConsentCookie("not ASCII") from None
        # base64 decoding forgives stray characters, so the signature's shape is checked
        # first: one valid cookie has exactly one spelling.
        if not _SIGNATURE.fullmatch(raw, raw.rfind(b".") + 1):
            raise BadConsentCookie("malformed signature")
        result = self._parse(self._signer.unsign(raw))
        # Only well-signed values are cached, so nobody can fill the cache with garbage
        # cheaply; outdated ones are cached too, as they keep coming until re-asked.
        with self._lock:
            self._cache[value] = result
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def _parse(self, payload: bytes) -> tuple[int, ConsentState | None]:
        match = _PAYLOAD.fullmatch(payload)
        if match is None:
            raise BadConsentCookie("unknown payload version or layout")
        iat, rev, fp, rid, cats, svcs = match.groups()
        issued = int(iat, 16)
        if int(rev, 16) != self.policy.revision or fp != self._fingerprint:
            return issued, None  # outdated
        if issued > _LAST_SECOND:  # ten hex digits reach year 36812; datetime stops at 9999
            raise BadConsentCookie("issued at a time past the year 9999")
        cat_bits, svc_bits = int(cats, 16), int(svcs, 16)
        categories, services = self.policy.categories, self.policy.services
        if cat_bits >> len(categories) or svc_bits >> len(services):
            raise BadConsentCookie("refers to categories or services the policy lacks")
        state = ConsentState.from_grants(
            self.policy,
            (c.id for i, c in enumerate(categories) if cat_bits >> i & 1),
            (s.id for i, s in enumerate(services) if svc_bits >> i & 1),
            issued_at=datetime.fromtimestamp(issued, UTC),
            receipt_id=rid.decode(),
        ).in_language(self._language)
        return issued, state
