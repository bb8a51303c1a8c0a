"""The consent-cookie codec. Checklist items C1 (signed), C3 (server-side expiry),
C5 (re-prompt on change), C6 (minimal payload)."""

from __future__ import annotations

import copy
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import BadSignature

from consent import ConsentState, Policy
from consent.signing import (
    MAX_COOKIE_LENGTH,
    BadConsentCookie,
    ConsentCodec,
    ExpiredConsent,
    OutdatedConsent,
    new_receipt_id,
)
from consent.state import Action
from tests.conftest import OTHER_SECRET, POLICY_DATA, SECRET

POLICY = Policy.model_validate(POLICY_DATA)
DAY = 86400


def state(
    policy: Policy = POLICY,
    action: Action = "save",
    grant: tuple[str, ...] = ("analytics",),
    issued: float | None = None,
) -> ConsentState:
    when = datetime.fromtimestamp(int(issued if issued is not None else time.time()), UTC)
    return ConsentState.from_choice(
        policy,
        action,
        grant,
        issued_at=when,
        receipt_id=new_receipt_id(),
    )


def codec(policy: Policy = POLICY, key: str | list[str] = SECRET, **kw: Any) -> ConsentCodec:
    return ConsentCodec(policy, key, **kw)


def test_round_trip_keeps_every_field() -> None:
    original = state(grant=("analytics", "youtube"))
    decoded = codec().decode(codec().encode(original))
    assert decoded.decided
    assert decoded.granted == original.granted == {"essential", "analytics"}
    assert decoded.services == original.services
    assert decoded.receipt_id == original.receipt_id
    assert decoded.issued_at == original.issued_at
    assert decoded.revision == POLICY.revision


def test_per_service_refusal_inside_a_granted_category_survives() -> None:
    original = state(grant=("analytics", "matomo"))
    decoded = codec().decode(codec().encode(original))
    assert decoded.allows("analytics") and decoded.allows("matomo")
    assert not decoded.allows("google-analytics")


def test_every_single_character_change_is_undecided() -> None:
    """C1: flip any one character: never a grant, never an exception."""
    value = codec().encode(state(action="accept_all", grant=()))
    for index in range(len(value)):
        for replacement in ("A", "0", "."):
            if value[index] == replacement:
                continue
            tampered = value[:index] + replacement + value[index + 1 :]
            result = codec().decode(tampered)
            assert not result.decided, (index, tampered)
            assert result.granted == POLICY.required_ids


def test_payload_and_signature_swapped_between_cookies_is_undecided() -> None:
    """C1: a signature belongs to its own payload only."""
    accept = codec().encode(state(action="accept_all", grant=()))
    reject = codec().encode(state(action="reject_all", grant=()))
    forged = accept.rsplit(".", 1)[0] + "." + reject.rsplit(".", 1)[1]
    assert not codec().decode(forged).decided


def test_foreign_key_is_undecided() -> None:
    value = codec(key=OTHER_SECRET).encode(state())
    assert not codec().decode(value).decided
    with pytest.raises(BadSignature):
        codec().loads(value)


def test_key_rotation_first_signs_all_verify() -> None:
    old = codec(key=OTHER_SECRET).encode(state())
    rotated = codec(key=[SECRET, OTHER_SECRET])
    assert rotated.decode(old).decided  # old cookies keep working
    fresh = rotated.encode(state())
    assert codec(key=SECRET).decode(fresh).decided  # new ones use the first key
    assert not codec(key=OTHER_SECRET).decode(fresh).decided


def test_expired_choice_is_undecided_even_when_cached() -> None:
    """C3: the server checks the signed issue time against max_age_days."""
    now = time.time()
    c = codec()
    value = c.encode(state(issued=now - 10 * DAY))
    assert c.decode(value, now=now).decided  # cached now
    later = now - 10 * DAY + POLICY.max_age_days * DAY + 1
    assert not c.decode(value, now=later).decided
    with pytest.raises(ExpiredConsent):
        c.loads(value, now=later)


def test_choice_from_the_future_is_refused() -> None:
    now = time.time()
    value = codec().encode(state(issued=now + 3600))
    assert not codec().decode(value, now=now).decided
    assert codec().decode(value, now=now + 3600).decided


def changed_policy(**changes: Any) -> Policy:
    content = copy.deepcopy(POLICY_DATA)
    content.update(changes)
    return Policy.model_validate(content)


@pytest.mark.parametrize(
    "newer",
    [
        changed_policy(revision=2),
        changed_policy(categories=[*POLICY_DATA["categories"], {"id": "functional", "title": "F"}]),
        changed_policy(services=POLICY_DATA["services"][:-1]),
    ],
    ids=["revision", "new-category", "removed-service"],
)
def test_outdated_policy_is_undecided(newer: Policy) -> None:
    """C5: a new revision or fingerprint re-asks everyone; nobody keeps a stale grant."""
    value = codec().encode(state(action="accept_all", grant=()))
    assert not codec(newer).decode(value).decided
    with pytest.raises(OutdatedConsent):
        codec(newer).loads(value)
    with pytest.raises(OutdatedConsent):  # and again from the cache
        codec(newer).loads(value)


@pytest.mark.parametrize(
    "value",
    ["", "garbage", "1.2.3", "é" * 20, "x" * (MAX_COOKIE_LENGTH + 1), "1." * 300, "\x00\x01"],
)
def test_garbage_is_undecided(value: str) -> None:
    assert not codec().decode(value).decided
    with pytest.raises((BadSignature, BadConsentCookie)):
        codec().loads(value)


def test_payload_holds_only_choice_data() -> None:
    """C6: version, issue time, revision, fingerprint, receipt id, two bit masks, signature."""
    value = codec().encode(state())
    parts = value.split(".")
    assert len(parts) == 8
    version, issued, revision, fingerprint, receipt, cats, svcs, _sig = parts
    assert version == "1"
    assert abs(int(issued, 16) - time.time()) < 5
    assert int(revision, 16) == POLICY.revision
    assert fingerprint == POLICY.fingerprint[:8]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", receipt)
    assert int(cats, 16) == 0b011  # essential + analytics
    assert re.fullmatch(r"[0-9a-f]+", svcs)


def test_receipt_ids_are_random_128_bit() -> None:
    ids = {new_receipt_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids)


def test_cookie_stays_small_for_a_large_policy() -> None:
    """The documented bound: 10 categories and 30 services fit in 110 characters."""
    big = Policy.model_validate(
        {
            "categories": [
                {"id": f"category-{i}", "title": "t", "required": i == 0} for i in range(10)
            ],
            "services": [
                {"id": f"service-{i}", "category": f"category-{i % 10}", "title": "s"}
                for i in range(30)
            ],
        }
    )
    value = codec(big).encode(state(big, action="accept_all", grant=()))
    assert len(value) <= 110


@pytest.mark.parametrize("key", [None, "", "short", ["x" * 40, "short"], [], [123]])
def test_missing_or_short_secret_is_refused(key: Any) -> None:
    with pytest.raises(ValueError, match=r"secret_key|32"):
        ConsentCodec(POLICY, key)


def test_repr_hides_the_secret() -> None:
    assert SECRET not in repr(codec())
    assert SECRET not in repr(codec().__dict__.get("_signer"))


def test_cache_is_bounded() -> None:
    c = codec(cache_size=10)
    for _ in range(50):
        assert c.decode(c.encode(state())).decided
    assert len(c._cache) == 10


def test_encoding_an_undecided_state_is_an_error() -> None:
    with pytest.raises(ValueError, match="decided"):
        codec().encode(ConsentState.undecided(POLICY))


VALID = codec().encode(state(action="accept_all", grant=()))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_raises_and_never_grants(value: str) -> None:
    result = codec().decode(value)
    assert not result.decided
    assert result.granted == POLICY.required_ids


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(VALID) - 1), st.text(min_size=1, max_size=3), st.integers(0, 3))
def test_mutations_of_a_valid_cookie_never_grant(at: int, insert: str, drop: int) -> None:
    mutated = VALID[:at] + insert + VALID[at + drop :]
    if mutated == VALID:
        return
    assert not codec().decode(mutated).decided
