"""ConsentState: what a choice grants (DESIGN.md "Semantics worth stating")."""

from __future__ import annotations

import pytest

from consent import ConsentState, Policy
from consent.signing import new_receipt_id
from consent.state import Action
from tests.conftest import POLICY_DATA

POLICY = Policy.model_validate(POLICY_DATA)
ESSENTIAL_SERVICES = {"php-session", "wordpress"}


def choose(action: Action, *grant: str) -> ConsentState:
    return ConsentState.from_choice(
        POLICY, action, grant, issued_at=ConsentState.now(), receipt_id=new_receipt_id()
    )


def test_undecided_allows_only_required() -> None:
    state = ConsentState.undecided(POLICY)
    assert not state.decided
    assert state.granted == {"essential"}
    assert state.services == ESSENTIAL_SERVICES
    assert state.allows("essential") and state.allows("wordpress")
    assert not state.allows("analytics") and not state.allows("matomo")
    assert state.refused == frozenset()  # nothing was refused: nothing was asked yet


@pytest.mark.parametrize(
    ("action", "grant", "categories", "services"),
    [
        (
            "accept_all",
            (),
            {"essential", "analytics", "marketing"},
            ESSENTIAL_SERVICES | {"matomo", "google-analytics", "youtube"},
        ),
        ("reject_all", (), {"essential"}, ESSENTIAL_SERVICES),
        ("reject_all", ("analytics",), {"essential"}, ESSENTIAL_SERVICES),
        # A category id grants the category and all its services.
        (
            "save",
            ("analytics",),
            {"essential", "analytics"},
            ESSENTIAL_SERVICES | {"matomo", "google-analytics"},
        ),
        # A category with some of its services grants only those.
        (
            "save",
            ("analytics", "matomo"),
            {"essential", "analytics"},
            ESSENTIAL_SERVICES | {"matomo"},
        ),
        # A service alone grants that service, not its category.
        ("save", ("youtube",), {"essential"}, ESSENTIAL_SERVICES | {"youtube"}),
        # Required categories cannot be refused.
        ("save", (), {"essential"}, ESSENTIAL_SERVICES),
        ("save", ("php-session",), {"essential"}, ESSENTIAL_SERVICES),
    ],
)
def test_choice_semantics(
    action: Action, grant: tuple[str, ...], categories: set[str], services: set[str]
) -> None:
    state = choose(action, *grant)
    assert state.decided
    assert state.granted == categories
    assert state.services == services
    assert state.allows("essential")


def test_refusals_are_explicit() -> None:
    state = choose("save", "analytics", "matomo")
    assert state.refused == {"marketing"}
    assert state.refused_services == {"google-analytics", "youtube"}


def test_unknown_ids_raise_naming_known_ids() -> None:
    with pytest.raises(KeyError, match="analytics"):
        choose("save", "nope")
    with pytest.raises(KeyError, match="essential, analytics, marketing, php-session"):
        ConsentState.undecided(POLICY).allows("nope")


def test_json_has_no_receipt_id() -> None:
    state = choose("accept_all")
    data = state.to_json()
    assert data["decided"] is True
    assert data["granted"] == ["essential", "analytics", "marketing"]
    assert data["refused"] == []
    assert data["fingerprint"] == POLICY.fingerprint
    assert state.receipt_id is not None and state.receipt_id not in str(data)
