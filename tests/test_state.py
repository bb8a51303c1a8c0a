"""ConsentState: what a choice grants (DESIGN.md "Semantics worth stating").

Checklist items: A1 and B9 (no choice means only required categories are allowed; doing
nothing is not consent), A4 (reject-all gates exactly like no choice yet), C6 groundwork
(the state JSON that page scripts can read carries no receipt id).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from consent import ConsentState, Policy
from consent.signing import new_receipt_id
from consent.state import ACTIONS, Action
from tests.conftest import POLICY_DATA

POLICY = Policy.model_validate(POLICY_DATA)
CATEGORIES = ("essential", "analytics", "marketing")
SERVICES = ("php-session", "wordpress", "matomo", "google-analytics", "youtube")
ESSENTIAL_SERVICES = frozenset({"php-session", "wordpress"})
ALL_IDS = ", ".join(CATEGORIES + SERVICES)
WHEN = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def choose(action: Action, *grant: str, policy: Policy = POLICY) -> ConsentState:
    return ConsentState.from_choice(
        policy, action, grant, issued_at=WHEN, receipt_id=new_receipt_id()
    )


def test_actions_are_the_three_documented_ones() -> None:
    assert ACTIONS == ("accept_all", "reject_all", "save")


# --- undecided: A1, B9 ------------------------------------------------------------------------


def test_undecided_allows_only_required() -> None:
    """A1/B9: before a choice only the required category and its services are allowed."""
    state = ConsentState.undecided(POLICY)
    assert state.decided is False
    assert state.granted == {"essential"}
    assert state.services == ESSENTIAL_SERVICES
    assert state.issued_at is None and state.receipt_id is None
    assert state.revision == POLICY.revision
    allowed = {id for id in CATEGORIES + SERVICES if state.allows(id)}
    assert allowed == {"essential", "php-session", "wordpress"}


def test_undecided_refuses_nothing_explicitly() -> None:
    """Nothing was asked yet, so nothing is listed as refused (it is just not granted)."""
    state = ConsentState.undecided(POLICY)
    assert state.refused == frozenset()
    assert state.refused_services == frozenset()


def test_undecided_without_required_categories_allows_nothing() -> None:
    policy = Policy.model_validate(
        {
            "categories": [{"id": "analytics", "title": "A"}],
            "services": [{"id": "matomo", "category": "analytics", "title": "M"}],
        }
    )
    state = ConsentState.undecided(policy)
    assert state.granted == frozenset() and state.services == frozenset()
    assert not state.allows("analytics") and not state.allows("matomo")


# --- from_choice: the semantics table -------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "grant", "categories", "services"),
    [
        pytest.param(
            "accept_all",
            (),
            set(CATEGORIES),
            set(SERVICES),
            id="accept-all",
        ),
        pytest.param("reject_all", (), {"essential"}, ESSENTIAL_SERVICES, id="reject-all"),
        # reject_all ignores any grant that came along with it
        pytest.param(
            "reject_all",
            ("analytics", "youtube"),
            {"essential"},
            ESSENTIAL_SERVICES,
            id="reject-all-ignores-grant",
        ),
        # A category id grants the category and all its services.
        pytest.param(
            "save",
            ("analytics",),
            {"essential", "analytics"},
            ESSENTIAL_SERVICES | {"matomo", "google-analytics"},
            id="save-category",
        ),
        pytest.param(
            "save",
            ("analytics", "marketing"),
            set(CATEGORIES),
            set(SERVICES),
            id="save-every-category",
        ),
        # A granted category with some of its services listed grants only those.
        pytest.param(
            "save",
            ("analytics", "matomo"),
            {"essential", "analytics"},
            ESSENTIAL_SERVICES | {"matomo"},
            id="save-category-with-one-service",
        ),
        pytest.param(
            "save",
            ("analytics", "matomo", "google-analytics"),
            {"essential", "analytics"},
            ESSENTIAL_SERVICES | {"matomo", "google-analytics"},
            id="save-category-with-all-services",
        ),
        # ... and that narrowing is per category: marketing keeps all its services.
        pytest.param(
            "save",
            ("analytics", "google-analytics", "marketing"),
            set(CATEGORIES),
            ESSENTIAL_SERVICES | {"google-analytics", "youtube"},
            id="save-narrowing-is-per-category",
        ),
        # A service id alone grants that service, not its category.
        pytest.param(
            "save",
            ("youtube",),
            {"essential"},
            ESSENTIAL_SERVICES | {"youtube"},
            id="save-service-alone",
        ),
        pytest.param(
            "save",
            ("matomo", "youtube"),
            {"essential"},
            ESSENTIAL_SERVICES | {"matomo", "youtube"},
            id="save-services-of-two-categories",
        ),
        # A service of one category does not narrow another granted category.
        pytest.param(
            "save",
            ("analytics", "youtube"),
            {"essential", "analytics"},
            ESSENTIAL_SERVICES | {"matomo", "google-analytics", "youtube"},
            id="save-category-and-foreign-service",
        ),
        # Nothing listed: everything optional refused; required stays granted.
        pytest.param("save", (), {"essential"}, ESSENTIAL_SERVICES, id="save-nothing"),
        # A service of the required category cannot narrow it: required is always whole.
        pytest.param(
            "save",
            ("essential", "php-session"),
            {"essential"},
            ESSENTIAL_SERVICES,
            id="save-required-narrowed",
        ),
        pytest.param(
            "save", ("php-session",), {"essential"}, ESSENTIAL_SERVICES, id="save-required-service"
        ),
        # Repeated ids are harmless.
        pytest.param(
            "save",
            ("matomo", "matomo"),
            {"essential"},
            ESSENTIAL_SERVICES | {"matomo"},
            id="save-duplicates",
        ),
    ],
)
def test_from_choice_semantics(
    action: Action, grant: tuple[str, ...], categories: set[str], services: set[str]
) -> None:
    state = choose(action, *grant)
    assert state.decided is True
    assert state.granted == categories
    assert state.services == services
    assert state.refused == set(CATEGORIES) - categories
    assert state.refused_services == set(SERVICES) - services
    for id in CATEGORIES:
        assert state.allows(id) is (id in categories)
    for id in SERVICES:
        assert state.allows(id) is (id in services)


def test_from_choice_service_alone_does_not_grant_its_category() -> None:
    state = choose("save", "youtube")
    assert state.allows("youtube")
    assert not state.allows("marketing")
    assert state.refused == {"analytics", "marketing"}


def test_from_choice_required_is_always_granted_and_never_refused() -> None:
    for action in ACTIONS:
        state = choose(action)  # type: ignore[arg-type]
        assert "essential" in state.granted
        assert ESSENTIAL_SERVICES <= state.services
        assert "essential" not in state.refused
        assert not ESSENTIAL_SERVICES & state.refused_services


def test_from_choice_records_when_and_receipt() -> None:
    receipt = new_receipt_id()
    state = ConsentState.from_choice(
        POLICY, "save", ["analytics"], issued_at=WHEN, receipt_id=receipt
    )
    assert state.issued_at == WHEN
    assert state.receipt_id == receipt
    assert state.revision == POLICY.revision


def test_from_choice_save_accepts_any_iterable() -> None:
    state = ConsentState.from_choice(
        POLICY, "save", iter(["analytics", "matomo"]), issued_at=WHEN, receipt_id="r" * 22
    )
    assert state.services == ESSENTIAL_SERVICES | {"matomo"}


@pytest.mark.parametrize("grant", [("nope",), ("analytics", "nope"), ("Analytics",), ("",)])
def test_from_choice_unknown_id_raises_key_error_naming_known_ids(grant: tuple[str, ...]) -> None:
    with pytest.raises(KeyError) as caught:
        choose("save", *grant)
    message = caught.value.args[0]
    assert "unknown consent id" in message
    assert message.endswith(f"known ids: {ALL_IDS}")


def test_from_grants_adds_required_categories_and_services() -> None:
    state = ConsentState.from_grants(POLICY, [], ["youtube"], issued_at=WHEN, receipt_id="r" * 22)
    assert state.decided
    assert state.granted == {"essential"}
    assert state.services == ESSENTIAL_SERVICES | {"youtube"}


# --- A4: reject and no choice yet gate identically ------------------------------------------


def test_reject_all_gates_like_undecided() -> None:
    """A4: the only difference between "rejected" and "not asked yet" is `decided`."""
    rejected = choose("reject_all")
    undecided = ConsentState.undecided(POLICY)
    for id in CATEGORIES + SERVICES:
        assert rejected.allows(id) is undecided.allows(id), id
    assert rejected.granted == undecided.granted
    assert rejected.services == undecided.services
    assert rejected.decided and not undecided.decided


def test_save_nothing_equals_reject_all() -> None:
    saved, rejected = choose("save"), choose("reject_all")
    assert (saved.granted, saved.services) == (rejected.granted, rejected.services)


# --- allows ------------------------------------------------------------------------------------


@pytest.mark.parametrize("id", ["nope", "ESSENTIAL", "", "_ga", "PHPSESSID"])
def test_allows_unknown_id_raises_key_error_naming_known_ids(id: str) -> None:
    for state in (ConsentState.undecided(POLICY), choose("accept_all")):
        with pytest.raises(KeyError) as caught:
            state.allows(id)
        message = caught.value.args[0]
        assert f"unknown consent id {id!r}" in message
        assert message.endswith(f"known ids: {ALL_IDS}")


# --- data shape ----------------------------------------------------------------------------


def test_state_is_frozen() -> None:
    state = choose("reject_all")
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.decided = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.granted = frozenset(CATEGORIES)  # type: ignore[misc]
    assert isinstance(state.granted, frozenset) and isinstance(state.services, frozenset)


def test_now_is_utc_whole_seconds() -> None:
    now = ConsentState.now()
    assert now.tzinfo is UTC
    assert now.microsecond == 0
    assert abs((datetime.now(UTC) - now).total_seconds()) < 5


# --- to_json -------------------------------------------------------------------------------


def test_to_json_of_a_partial_choice() -> None:
    state = choose("save", "analytics", "matomo")
    assert state.to_json() == {
        "decided": True,
        "granted": ["essential", "analytics"],
        "services": ["php-session", "wordpress", "matomo"],
        "refused": ["marketing"],
        "refused_services": ["google-analytics", "youtube"],
        "issued_at": "2025-03-01T12:00:00+00:00",
        "revision": POLICY.revision,
        "fingerprint": POLICY.fingerprint,
        "gpc": False,
        "language": None,
    }


def test_to_json_lists_ids_in_policy_order() -> None:
    data = choose("accept_all").to_json()
    assert data["granted"] == list(CATEGORIES)
    assert data["services"] == list(SERVICES)
    assert data["refused"] == [] and data["refused_services"] == []


def test_to_json_of_undecided() -> None:
    data = ConsentState.undecided(POLICY).to_json()
    assert data["decided"] is False
    assert data["granted"] == ["essential"]
    assert data["services"] == ["php-session", "wordpress"]
    assert data["refused"] == [] and data["refused_services"] == []
    assert data["issued_at"] is None


@pytest.mark.parametrize("action", ACTIONS)
def test_to_json_has_no_receipt_id(action: Action) -> None:
    """Page scripts (third-party ones included) can read the state JSON: no receipt id."""
    state = choose(action)
    assert state.receipt_id is not None
    data = state.to_json()
    text = json.dumps(data)  # JSON-ready as it is
    assert state.receipt_id not in text
    assert not any("receipt" in key or key == "rid" for key in data)
