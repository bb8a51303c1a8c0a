"""Google Consent Mode v2 on the server (checklist E1, E2, E3, E4, F1)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent import Policy, PolicyError
from consent.consent_mode import CONSENT_TYPES, category_types, commands, consent_values
from consent.policy import validate_policy
from consent.signing import new_receipt_id
from consent.state import ConsentState
from examples.app import app
from tests.conftest import POLICY_DATA

DATA = copy.deepcopy(POLICY_DATA)
DATA["categories"].append({"id": "functional", "title": "Preferences", "description": "UI."})
DATA["categories"][2]["gpc_opt_out"] = True
DATA["google_consent_mode"] = {
    "wait_for_update": 500,
    "regions": [{"region": ["US-CA", "US"], "granted": ["analytics_storage"]}],
}
POLICY = Policy.model_validate(DATA)
DENIED_BUT_SECURITY = {kind: "denied" for kind in CONSENT_TYPES} | {"security_storage": "granted"}


def decided(*grant: str) -> ConsentState:
    return ConsentState.from_choice(
        POLICY, "save", grant, issued_at=ConsentState.now(), receipt_id=new_receipt_id()
    )


def test_default_types_by_category_id() -> None:
    by_id = {c.id: category_types(c) for c in POLICY.categories}
    assert by_id == {
        "essential": (),
        "analytics": ("analytics_storage",),
        "marketing": ("ad_storage", "ad_user_data", "ad_personalization"),
        "functional": ("functionality_storage", "personalization_storage"),
    }


def test_a_category_can_name_its_own_types() -> None:
    data = copy.deepcopy(DATA)
    data["categories"][1]["google_consent"] = ["analytics_storage", "ad_user_data"]
    policy = Policy.model_validate(data)
    assert category_types(policy.category("analytics")) == ("analytics_storage", "ad_user_data")
    data["categories"][1]["google_consent"] = ["analytics"]
    with pytest.raises(PolicyError, match="google_consent"):
        validate_policy(data, "consent.toml")


def test_values_always_carry_all_seven_types() -> None:
    """E2: every key, denied unless granted; security_storage always granted."""
    assert consent_values(POLICY, ()) == DENIED_BUT_SECURITY
    everything = consent_values(POLICY, [c.id for c in POLICY.categories])
    assert everything == {kind: "granted" for kind in CONSENT_TYPES}
    assert list(everything) == list(CONSENT_TYPES)


def test_gpc_forces_the_advertising_types_off() -> None:
    """F1: with the signal, the three ad types are denied whatever was granted."""
    values = consent_values(POLICY, ["analytics", "marketing"], gpc=True)
    assert values["analytics_storage"] == "granted"
    assert [values[k] for k in ("ad_storage", "ad_user_data", "ad_personalization")] == [
        "denied"
    ] * 3


def test_commands_region_defaults_first_then_the_global_one() -> None:
    """E2, E4: region-scoped default before the global fallback, both with
    wait_for_update; no update before a choice."""
    found = commands(POLICY, ConsentState.undecided(POLICY))
    assert found is not None
    region, fallback = found["default"]
    assert region["region"] == ["US-CA", "US"]
    assert region["analytics_storage"] == "granted"
    assert region["ad_storage"] == "denied"
    assert fallback == DENIED_BUT_SECURITY | {"wait_for_update": 500}
    assert "region" not in fallback
    assert found["update"] is None


def test_commands_update_from_a_stored_choice() -> None:
    """E3: a later page gets the update from the cookie, right after the defaults."""
    found = commands(POLICY, decided("analytics"))
    assert found is not None
    assert found["update"] == DENIED_BUT_SECURITY | {"analytics_storage": "granted"}
    with_gpc = commands(POLICY, decided("analytics", "marketing").with_gpc())
    assert with_gpc is not None
    assert with_gpc["update"]["ad_storage"] == "denied"
    assert all(d["ad_storage"] == "denied" for d in with_gpc["default"])


def test_no_consent_mode_no_commands() -> None:
    policy = Policy.model_validate(POLICY_DATA)
    assert commands(policy, ConsentState.undecided(policy)) is None


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ({"wait_for_update": 0}, "wait_for_update"),
        ({"wait_for_update": 120_000}, "wait_for_update"),
        ({"regions": [{"region": ["california"]}]}, "not an ISO 3166 region code"),
        ({"regions": [{"region": []}]}, "region"),
        ({"regions": [{"region": ["US"], "granted": ["everything"]}]}, "granted"),
    ],
)
def test_bad_consent_mode_settings_are_named(mode: dict[str, Any], message: str) -> None:
    data = copy.deepcopy(POLICY_DATA)
    data["google_consent_mode"] = mode
    with pytest.raises(PolicyError, match=message) as caught:
        validate_policy(data, "consent.toml")
    assert "google_consent_mode" in str(caught.value)


def _page(client: TestClient, path: str = "/", **headers: str) -> str:
    return client.get(path, headers=headers).text


def test_the_default_comes_before_any_google_tag() -> None:
    """E1: the data block and gcm.js precede the (gated) Google tag; gcm.js is a plain
    synchronous script, so it has run before any later tag."""
    html = _page(TestClient(app))
    data = html.index('id="consent-gcm"')
    loader = html.index("/consent/static/gcm.js")
    tag = html.index("/static/gtag.js")
    assert data < loader < tag
    gcm_tag = re.search(r"<script src=\"/consent/static/gcm\.js[^>]*>", html)
    assert gcm_tag is not None
    assert "async" not in gcm_tag[0] and "defer" not in gcm_tag[0]
    block = re.search(r'<script type="application/json" id="consent-gcm">(.*?)</script>', html)
    assert block is not None
    data_block = json.loads(block[1])
    assert data_block["default"] == [DENIED_BUT_SECURITY | {"wait_for_update": 500}]
    assert data_block["update"] is None


def test_a_later_page_carries_the_update() -> None:
    """E3: after a choice, every page's data block holds the update."""
    client = TestClient(app)
    client.post("/consent", json={"action": "save", "grant": ["analytics"]})
    block = re.search(r'id="consent-gcm">(.*?)</script>', _page(client))
    assert block is not None
    update = json.loads(block[1])["update"]
    assert update == DENIED_BUT_SECURITY | {"analytics_storage": "granted"}


def test_gpc_shows_in_the_data_block() -> None:
    client = TestClient(app)
    client.post("/consent", json={"action": "accept_all"})
    block = re.search(r'id="consent-gcm">(.*?)</script>', _page(client, **{"sec-gpc": "1"}))
    assert block is not None
    update = json.loads(block[1])["update"]
    assert update["ad_storage"] == "denied" and update["analytics_storage"] == "granted"


def test_gcm_script_is_served_and_versioned() -> None:
    client = TestClient(app)
    html = _page(client)
    src = re.search(r'src="(/consent/static/gcm\.js\?v=[^"]+)"', html)
    assert src is not None
    answer = client.get(src[1])
    assert answer.status_code == 200
    assert "consent-gcm" in answer.text
    assert answer.headers["cache-control"] == "public, max-age=31536000"
