"""The consent-cookie codec.

Checklist items: C1 (signed and tamper-evident: any change means "no decision"),
C3 (server-side expiry of the signed issue time), C5 (a revision bump or a changed
fingerprint re-asks), C6 (the value holds only choice data, nothing personal).
DESIGN.md "Rules that hold everywhere": a tampered, expired, foreign-key or outdated cookie
means "no decision", never an exception and never "granted".
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import string
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from itsdangerous import BadSignature, Signer

from consent import ConsentState, Policy
from consent.signing import (
    CLOCK_SKEW,
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
NOW = 1_750_000_000.0  # a fixed clock; every time-dependent test passes `now=`
IDS = [c.id for c in POLICY.categories] + [s.id for s in POLICY.services]
B64 = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
COOKIE_ALPHABET = B64 + "."


def make_state(
    policy: Policy = POLICY,
    action: Action = "save",
    grant: tuple[str, ...] = ("analytics",),
    issued: float = NOW,
    receipt_id: str | None = None,
) -> ConsentState:
    return ConsentState.from_choice(
        policy,
        action,
        grant,
        issued_at=datetime.fromtimestamp(int(issued), UTC),
        receipt_id=receipt_id or new_receipt_id(),
    )


def make_codec(
    policy: Policy = POLICY, key: str | list[str] = SECRET, **options: Any
) -> ConsentCodec:
    return ConsentCodec(policy, key, **options)


def changed_policy(**changes: Any) -> Policy:
    content = copy.deepcopy(POLICY_DATA)
    content.update(changes)
    return Policy.model_validate(content)


def sign(payload: str, key: str = SECRET) -> str:
    """Sign an arbitrary payload the way the module docstring documents the format."""
    signer = Signer(key, salt="consent.cookie", key_derivation="hmac", digest_method=hashlib.sha256)
    return signer.sign(payload).decode()


def payload_of(policy: Policy = POLICY, *, cats: str = "7", svcs: str = "1f") -> str:
    return f"1.{int(NOW):x}.{policy.revision:x}.{policy.fingerprint[:8]}.{'A' * 22}.{cats}.{svcs}"


def assert_undecided(state: ConsentState, policy: Policy = POLICY) -> None:
    """The "no decision" state: only required categories and their services."""
    assert state.decided is False
    assert state.granted == policy.required_ids
    assert state.services == {s.id for s in policy.services if s.category in policy.required_ids}
    assert state.receipt_id is None


CODEC = make_codec()
# Fixed receipt ids: these cookies appear in test ids, which must be the same in every
# process (pytest-xdist compares the workers' collections).
ACCEPTED = CODEC.encode(
    make_state(action="accept_all", grant=(), receipt_id="Fixedreceiptid00000001")
)
REJECTED = CODEC.encode(
    make_state(action="reject_all", grant=(), receipt_id="Fixedreceiptid00000002")
)


# --- round trip ------------------------------------------------------------------------------


def test_decode_round_trip_keeps_every_field() -> None:
    original = make_state(grant=("analytics", "youtube"))
    decoded = make_codec().decode(make_codec().encode(original), now=NOW)
    assert decoded.decided
    assert decoded.granted == original.granted == {"essential", "analytics"}
    assert decoded.services == original.services
    assert decoded.receipt_id == original.receipt_id
    assert decoded.issued_at == original.issued_at
    assert decoded.revision == POLICY.revision
    assert decoded == original


def test_decode_keeps_a_refused_service_inside_a_granted_category() -> None:
    decoded = CODEC.decode(CODEC.encode(make_state(grant=("analytics", "matomo"))), now=NOW)
    assert decoded.allows("analytics") and decoded.allows("matomo")
    assert not decoded.allows("google-analytics")
    assert decoded.refused_services == {"google-analytics", "youtube"}


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(IDS)))
def test_decode_round_trip_of_any_choice(grant: set[str]) -> None:
    original = make_state(grant=tuple(sorted(grant)))
    decoded = CODEC.decode(CODEC.encode(original), now=NOW)
    assert decoded.decided
    assert (decoded.granted, decoded.services) == (original.granted, original.services)


def test_encode_is_deterministic_for_one_state() -> None:
    state = make_state()
    assert CODEC.encode(state) == make_codec().encode(state)


def test_encode_matches_the_documented_construction() -> None:
    """The value is itsdangerous' Signer (SHA-256, HMAC key derivation, salt consent.cookie)."""
    value = CODEC.encode(make_state(action="accept_all", grant=()))
    payload = value.rsplit(".", 1)[0]
    assert sign(payload) == value


def test_encode_refuses_an_undecided_state() -> None:
    with pytest.raises(ValueError, match="decided"):
        CODEC.encode(ConsentState.undecided(POLICY))
    no_receipt = ConsentState(POLICY, True, frozenset({"essential"}), frozenset(), None, None)
    with pytest.raises(ValueError, match="receipt_id"):
        CODEC.encode(no_receipt)


# --- C1: tampering ---------------------------------------------------------------------------


def test_decode_any_single_character_changed_is_undecided() -> None:
    """C1: change any one character of the value to any other cookie-safe character.

    Every result must be "no decision": never a grant, never an exception. This includes the
    last character of the signature, whose two low bits base64 does not use.
    """
    codec = make_codec()
    accepted = codec.encode(make_state(action="accept_all", grant=()))
    still_valid = []
    for index, original in enumerate(accepted):
        for replacement in COOKIE_ALPHABET + "=+/ %":
            if replacement == original:
                continue
            tampered = accepted[:index] + replacement + accepted[index + 1 :]
            result = codec.decode(tampered, now=NOW)
            if result.decided:
                still_valid.append((index, original, replacement))
            else:
                assert_undecided(result)
    assert still_valid == [], f"{len(accepted)=}: still accepted after the change: {still_valid}"


def test_decode_signature_swapped_between_cookies_is_undecided() -> None:
    """C1: a signature belongs to its own payload only, both ways round."""
    accept_payload, accept_sig = ACCEPTED.rsplit(".", 1)
    reject_payload, reject_sig = REJECTED.rsplit(".", 1)
    assert accept_payload != reject_payload
    for forged in (f"{accept_payload}.{reject_sig}", f"{reject_payload}.{accept_sig}"):
        assert_undecided(CODEC.decode(forged, now=NOW))
        with pytest.raises(BadSignature):
            CODEC.loads(forged, now=NOW)


def test_decode_grants_copied_into_another_cookie_are_undecided() -> None:
    """C1: the bit masks of an accept-all cookie pasted into a reject-all one."""
    accept = ACCEPTED.split(".")
    reject = REJECTED.split(".")
    forged = ".".join([*reject[:5], accept[5], accept[6], reject[7]])
    assert forged != REJECTED
    assert_undecided(CODEC.decode(forged, now=NOW))


def test_decode_foreign_key_is_undecided() -> None:
    value = make_codec(key=OTHER_SECRET).encode(make_state(action="accept_all", grant=()))
    assert_undecided(CODEC.decode(value, now=NOW))
    with pytest.raises(BadSignature):
        CODEC.loads(value, now=NOW)


def test_decode_foreign_salt_is_undecided() -> None:
    """The salt separates signing contexts: a value signed for another purpose is refused."""
    value = make_codec(salt="something.else").encode(make_state(action="accept_all", grant=()))
    assert_undecided(CODEC.decode(value, now=NOW))
    assert make_codec(salt="something.else").decode(value, now=NOW).decided


def test_decode_key_rotation_old_cookies_verify() -> None:
    old = make_codec(key=OTHER_SECRET).encode(make_state(action="accept_all", grant=()))
    assert make_codec(key=[SECRET, OTHER_SECRET]).decode(old, now=NOW).decided
    assert make_codec(key=[OTHER_SECRET, SECRET]).decode(old, now=NOW).decided
    # Once the old key is retired, its cookies are "no decision".
    assert_undecided(make_codec(key=SECRET).decode(old, now=NOW))


def test_encode_key_rotation_signs_with_the_first_key() -> None:
    state = make_state(action="accept_all", grant=())
    fresh = make_codec(key=[SECRET, OTHER_SECRET]).encode(state)
    assert fresh == make_codec(key=SECRET).encode(state)
    assert make_codec(key=[SECRET]).decode(fresh, now=NOW).decided
    assert_undecided(make_codec(key=[OTHER_SECRET]).decode(fresh, now=NOW))


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        pytest.param(payload_of().replace("1.", "2.", 1), "version", id="version-2"),
        pytest.param(payload_of(cats="f"), "lacks", id="category-bit-beyond-policy"),
        pytest.param(payload_of(svcs="3f"), "lacks", id="service-bit-beyond-policy"),
        pytest.param(payload_of(cats="7", svcs="1F"), "layout", id="upper-case-hex"),
        pytest.param(payload_of() + ".0", "layout", id="extra-field"),
        pytest.param(payload_of().replace("A" * 22, "A" * 21), "layout", id="short-receipt"),
        pytest.param(payload_of().replace("A" * 22, "A" * 21 + "="), "layout", id="bad-receipt"),
        pytest.param(payload_of(cats=""), "layout", id="empty-mask"),
        pytest.param(f"1.{'f' * 11}" + payload_of()[10:], "layout", id="issued-too-long"),
    ],
)
def test_decode_well_signed_but_unusable_payload_is_undecided(payload: str, why: str) -> None:
    """Defence in depth: even a correctly signed value must have the exact layout."""
    value = sign(payload)
    assert_undecided(CODEC.decode(value, now=NOW))
    with pytest.raises(BadConsentCookie, match=why):
        CODEC.loads(value, now=NOW)


def test_decode_required_category_granted_even_if_its_bit_is_clear() -> None:
    """Required categories cannot be refused, whatever a (well-signed) cookie says."""
    state = CODEC.decode(sign(payload_of(cats="0", svcs="0")), now=NOW)
    assert state.decided
    assert state.granted == {"essential"}
    assert state.services == {"php-session", "wordpress"}


# --- garbage -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        ".",
        "1.2.3",
        "1." * 7 + "x",
        "é" * 20,
        "\x00\x01",
        "x" * (MAX_COOKIE_LENGTH + 1),
        "1." * 300,
        ACCEPTED + " ",
        " " + ACCEPTED,
        ACCEPTED + "=",
        ACCEPTED + ".",
        ACCEPTED + "." + ACCEPTED.rsplit(".", 1)[1],
        ACCEPTED.rsplit(".", 1)[0],  # no signature
        ACCEPTED.rsplit(".", 1)[0] + ".",  # empty signature
        ACCEPTED[:-1],  # truncated signature
        ACCEPTED.upper(),
        ACCEPTED.replace(".", ":"),
        '"' + ACCEPTED + '"',  # quoted cookie value
        ACCEPTED + "é",  # non-ASCII
        ACCEPTED + "\u200b",  # zero-width space
        ACCEPTED + "." * (MAX_COOKIE_LENGTH - len(ACCEPTED) + 1),  # oversized
    ],
)
def test_decode_garbage_is_undecided(value: str) -> None:
    assert_undecided(CODEC.decode(value, now=NOW))
    with pytest.raises((BadSignature, BadConsentCookie)):
        CODEC.loads(value, now=NOW)


def test_loads_oversized_is_refused_by_length() -> None:
    with pytest.raises(BadConsentCookie, match="oversized"):
        CODEC.loads("x" * (MAX_COOKIE_LENGTH + 1))
    with pytest.raises(BadConsentCookie, match="not ASCII"):
        CODEC.loads("é" * 20)


# --- C3: expiry ----------------------------------------------------------------------------


def test_decode_expired_choice_is_undecided() -> None:
    """C3: the server checks the signed issue time, whatever the browser's Max-Age did."""
    max_age = POLICY.max_age_days * DAY
    value = CODEC.encode(make_state(issued=NOW))
    assert make_codec().decode(value, now=NOW + max_age).decided  # the last valid second
    assert_undecided(make_codec().decode(value, now=NOW + max_age + 1))
    with pytest.raises(ExpiredConsent, match=f"{POLICY.max_age_days} days"):
        make_codec().loads(value, now=NOW + max_age + 1)


def test_decode_expiry_follows_max_age_days() -> None:
    short = changed_policy(max_age_days=1)
    codec = make_codec(short)
    value = codec.encode(make_state(short, issued=NOW))
    assert codec.decode(value, now=NOW + DAY - 1).decided
    assert_undecided(codec.decode(value, now=NOW + DAY + 1), short)


def test_decode_expired_choice_is_undecided_even_when_cached() -> None:
    """C3: the fast path for cached values checks the expiry too."""
    codec = make_codec()
    value = codec.encode(make_state(issued=NOW))
    assert codec.decode(value, now=NOW).decided  # verified and cached
    assert codec.cached == 1
    later = NOW + POLICY.max_age_days * DAY + 1
    assert_undecided(codec.decode(value, now=later))
    with pytest.raises(ExpiredConsent):
        codec.loads(value, now=later)
    assert codec.decode(value, now=NOW + 10).decided  # the cache entry itself is intact


@pytest.mark.parametrize("ahead", [CLOCK_SKEW + 1, 3600, 10 * 365 * DAY])
def test_decode_issued_in_the_future_is_undecided(ahead: int) -> None:
    codec = make_codec()
    value = codec.encode(make_state(issued=NOW + ahead))
    assert_undecided(codec.decode(value, now=NOW))
    with pytest.raises(BadConsentCookie, match="future"):
        codec.loads(value, now=NOW)
    # ... and also once it sits in the cache.
    assert codec.decode(value, now=NOW + ahead).decided
    assert_undecided(codec.decode(value, now=NOW))


@pytest.mark.parametrize("issued", ["3afff4417f", "3afff44180", "ffffffffff"])
def test_decode_issued_past_year_9999_is_undecided(issued: str) -> None:
    """Found by fuzz/fuzz_cookie.py: a well-signed issued-at beyond datetime's range raised
    ValueError out of `decode` (a 500). 3afff4417f is 9999-12-31T23:59:59Z, still in range."""
    fields = payload_of().split(".")
    value = sign(".".join([fields[0], issued, *fields[2:]]))
    assert_undecided(CODEC.decode(value, now=NOW))
    with pytest.raises(BadConsentCookie, match=r"future|9999"):
        CODEC.loads(value, now=NOW)


def test_decode_small_clock_skew_is_tolerated() -> None:
    """Several app servers' clocks differ a little; a cookie from a server ahead still counts."""
    value = CODEC.encode(make_state(issued=NOW + CLOCK_SKEW))
    assert make_codec().decode(value, now=NOW).decided


def test_decode_without_now_uses_the_clock() -> None:
    value = CODEC.encode(make_state(issued=time.time()))
    assert make_codec().decode(value).decided
    old = CODEC.encode(make_state(issued=time.time() - (POLICY.max_age_days + 1) * DAY))
    assert_undecided(make_codec().decode(old))


def test_current_gives_the_state_of_a_valid_cookie_and_when_it_holds() -> None:
    """C1, C3: `current` (what the middleware keeps per Cookie header) agrees with
    `decode`: the same state, valid exactly while `decode` accepts it; nothing for a
    tampered, garbage or outdated value."""
    value = CODEC.encode(make_state(issued=NOW))
    codec = make_codec()
    found = codec.current(value)
    assert found is not None
    state, since, until = found
    assert state == codec.decode(value, now=NOW) and state.decided
    assert (since, until) == (int(NOW) - CLOCK_SKEW, int(NOW) + POLICY.max_age_days * DAY)
    for moment in (since - 1, since, until, until + 1):
        assert codec.decode(value, now=moment).decided == (since <= moment <= until)
    outdated = make_codec(changed_policy(revision=2))
    for codec_, bad in [
        (codec, value[:-1] + ("A" if value[-1] != "A" else "B")),
        (codec, "garbage"),
        (outdated, value),
    ]:
        assert codec_.current(bad) is None


# --- C5: re-prompt on change ----------------------------------------------------------------

NEWER_POLICIES = [
    pytest.param(changed_policy(revision=2), id="revision-bump"),
    pytest.param(
        changed_policy(categories=[*POLICY_DATA["categories"], {"id": "functional", "title": "F"}]),
        id="category-added",
    ),
    pytest.param(changed_policy(services=POLICY_DATA["services"][:-1]), id="service-removed"),
    pytest.param(
        changed_policy(
            categories=[POLICY_DATA["categories"][i] for i in (0, 2, 1)],
        ),
        id="categories-reordered",
    ),
    pytest.param(
        changed_policy(
            services=[
                *POLICY_DATA["services"][:4],
                {**POLICY_DATA["services"][4], "category": "analytics"},
            ]
        ),
        id="service-moved",
    ),
    pytest.param(
        changed_policy(
            services=[
                *POLICY_DATA["services"][:3],
                {**POLICY_DATA["services"][3], "cookies": [{"name": "_ga"}, {"name": "_gid"}]},
                POLICY_DATA["services"][4],
            ]
        ),
        id="cookie-added",
    ),
]


@pytest.mark.parametrize("newer", NEWER_POLICIES)
def test_decode_outdated_policy_is_undecided(newer: Policy) -> None:
    """C5: a new revision or fingerprint re-asks everyone; nobody keeps a stale grant."""
    assert (newer.revision, newer.fingerprint) != (POLICY.revision, POLICY.fingerprint)
    codec = make_codec(newer)
    assert_undecided(codec.decode(ACCEPTED, now=NOW), newer)
    with pytest.raises(OutdatedConsent):
        codec.loads(ACCEPTED, now=NOW)
    with pytest.raises(OutdatedConsent):  # and again, now from the cache
        codec.loads(ACCEPTED, now=NOW)
    assert_undecided(codec.decode(ACCEPTED, now=NOW), newer)


def test_decode_prose_change_keeps_the_choice() -> None:
    """Fixing a typo in a title does not re-ask (the fingerprint ignores prose)."""
    content = copy.deepcopy(POLICY_DATA)
    content["categories"][1]["title"] = "Statistics"
    content["services"][2]["cookies"][0]["purpose"] = "Counts visits."
    reworded = Policy.model_validate(content)
    assert make_codec(reworded).decode(ACCEPTED, now=NOW).decided


# --- C6: what the value holds ----------------------------------------------------------------


def test_encode_value_holds_only_choice_data() -> None:
    """C6: version, issued-at, revision, fingerprint, receipt id, two bit masks, signature."""
    state = make_state(grant=("analytics", "matomo"))
    value = CODEC.encode(state)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", value)  # cookie-safe, no quoting needed
    parts = value.split(".")
    assert len(parts) == 8
    version, issued, revision, fingerprint, receipt, cats, svcs, signature = parts
    assert version == "1"
    assert int(issued, 16) == int(NOW)
    assert int(revision, 16) == POLICY.revision
    assert fingerprint == POLICY.fingerprint[:8]
    assert receipt == state.receipt_id
    # Bits in policy order: essential, analytics (marketing refused).
    assert int(cats, 16) == 0b011
    # php-session, wordpress, matomo (google-analytics and youtube refused).
    assert int(svcs, 16) == 0b00111
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", signature)  # 32 bytes of HMAC-SHA256
    assert len(base64.urlsafe_b64decode(signature + "=")) == 32


def test_encode_value_depends_only_on_the_choice() -> None:
    """Two visitors making the same choice at the same second differ only in the receipt id."""
    first, second = (CODEC.encode(make_state()).split(".") for _ in range(2))
    differing = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b]
    assert differing == [4, 7]  # receipt id, and so the signature


def test_new_receipt_id_is_22_url_safe_chars_and_random() -> None:
    ids = [new_receipt_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids[:50])  # 128 bits
    # Spread over the alphabet: 2000 first characters cover nearly all 64 symbols.
    assert len({i[0] for i in ids}) > 50


def test_encode_cookie_for_a_large_policy_stays_small() -> None:
    """10 categories and 30 services, everything granted: at most 130 characters."""
    big = Policy.model_validate(
        {
            "revision": 4095,
            "categories": [
                {"id": f"category-{i}", "title": "t", "required": i == 0} for i in range(10)
            ],
            "services": [
                {"id": f"service-{i}", "category": f"category-{i % 10}", "title": "s"}
                for i in range(30)
            ],
        }
    )
    state = make_state(big, action="accept_all", grant=())
    value = make_codec(big).encode(state)
    assert len(state.granted) == 10 and len(state.services) == 30
    assert len(value) <= 130
    assert make_codec(big).decode(value, now=NOW).services == state.services


# --- secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "needs secret_key: a random string of at least 32 characters"),
        ("", r"secret_key\[0\] is too short"),
        ([], "needs secret_key"),
        ("short", r"secret_key\[0\] is too short or not a string"),
        ("x" * 31, r"secret_key\[0\] is too short"),
        (["x" * 40, "short"], r"secret_key\[1\] is too short"),
        ([123], r"secret_key\[0\] is too short or not a string"),
        ([b"x" * 40], r"secret_key\[0\] is too short or not a string"),
    ],
)
def test_codec_missing_or_short_secret_is_a_clear_error(key: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        ConsentCodec(POLICY, key)
    assert "32" in str(caught.value)


@pytest.mark.parametrize("key", ["x" * 32, ["x" * 32, "y" * 64], ("x" * 32,)])
def test_codec_accepts_32_characters_and_sequences(key: Any) -> None:
    codec = ConsentCodec(POLICY, key)
    assert codec.decode(codec.encode(make_state()), now=NOW).decided


def test_codec_repr_hides_the_secret() -> None:
    codec = make_codec(key=[SECRET, OTHER_SECRET])
    for text in (repr(codec), str(codec)):
        assert SECRET not in text and OTHER_SECRET not in text
        assert SECRET[:8] not in text
    assert "***" in repr(codec)


def test_codec_undecided_property() -> None:
    assert_undecided(CODEC.undecided)
    assert CODEC.undecided == ConsentState.undecided(POLICY)


# --- the verified-value cache -------------------------------------------------------------


def test_codec_cache_is_bounded() -> None:
    codec = make_codec(cache_size=10)
    values = [codec.encode(make_state()) for _ in range(50)]
    for value in values:
        assert codec.decode(value, now=NOW).decided
        assert codec.cached <= 10
    assert codec.cached == 10
    # The first value was forgotten to make room: it is verified again, and still holds.
    assert codec.decode(values[0], now=NOW).decided
    assert codec.cached == 10


def test_codec_cache_holds_no_garbage() -> None:
    """Only well-signed values are cached, so nobody can flood the cache with junk cheaply."""
    codec = make_codec(cache_size=10)
    foreign = make_codec(key=OTHER_SECRET)
    for _ in range(30):
        assert_undecided(codec.decode(foreign.encode(make_state()), now=NOW))
        assert_undecided(codec.decode(new_receipt_id(), now=NOW))
    assert codec.cached == 0


def test_codec_cache_keeps_outdated_values_outdated() -> None:
    newer = make_codec(changed_policy(revision=2))
    for _ in range(3):
        assert_undecided(newer.decode(ACCEPTED, now=NOW))
    assert newer.cached == 1  # remembered once, as outdated


# --- hypothesis: anything from the network -----------------------------------------------


def _sibling_spelling(value: str) -> str:
    """The same value with the last signature character's unused low bit flipped."""
    return value[:-1] + B64[B64.index(value[-1]) ^ 1]


@settings(max_examples=250, deadline=None)
@given(st.text(max_size=200))
def test_decode_random_text_never_raises_and_never_grants(value: str) -> None:
    assert_undecided(CODEC.decode(value, now=NOW))
    with pytest.raises((BadSignature, BadConsentCookie)):
        CODEC.loads(value, now=NOW)


@settings(max_examples=250, deadline=None)
@given(st.binary(max_size=600).map(lambda raw: raw.decode("latin-1")))
def test_decode_random_bytes_never_raise_and_never_grant(value: str) -> None:
    assert_undecided(CODEC.decode(value, now=NOW))


@settings(max_examples=150, deadline=None)
@given(
    st.from_regex(
        r"\A1\.[0-9a-f]{1,10}\.[0-9a-f]{1,8}\.[0-9a-f]{8}\.[A-Za-z0-9_-]{22}"
        r"\.[0-9a-f]{1,64}\.[0-9a-f]{1,64}\.[A-Za-z0-9_-]{43}\Z"
    )
)
def test_decode_well_shaped_forgery_never_grants(value: str) -> None:
    """Values with the exact layout but no valid signature: still no decision."""
    assert_undecided(CODEC.decode(value, now=NOW))


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, len(ACCEPTED)),
    st.text(alphabet=COOKIE_ALPHABET + "=é ", max_size=3),
    st.integers(0, 3),
)
@example(len(ACCEPTED) - 1, _sibling_spelling(ACCEPTED)[-1], 1)
def test_decode_mutations_of_a_valid_cookie_never_grant(at: int, insert: str, drop: int) -> None:
    """C1: insert, delete or replace a few characters anywhere in a valid cookie."""
    mutated = ACCEPTED[:at] + insert + ACCEPTED[at + drop :]
    if mutated == ACCEPTED:
        assert CODEC.decode(mutated, now=NOW).decided
        return
    assert_undecided(CODEC.decode(mutated, now=NOW))
