"""Google Consent Mode v2 on the server (checklist E1, E2, E3, E4, F1)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from jinja2 import DictLoader, Environment
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.testclient import TestClient

from consent import ConsentMiddleware, Policy, PolicyError
from consent.consent_mode import (
    AD_TYPES,
    CONSENT_TYPES,
    category_types,
    commands,
    consent_values,
    service_types,
)
from consent.jinja import context_processor
from consent.policy import validate_policy
from consent.signing import new_receipt_id
from consent.state import ConsentState
from examples.app import app
from tests.conftest import POLICY_DATA, SECRET

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


def head_app(policy: Policy) -> Starlette:
    """A site whose page has `consent.head()` in its head, as a site's templates do."""
    templates = Jinja2Templates(
        env=Environment(
            loader=DictLoader({"p.html": "<head>{{ consent.head() }}</head><p>page</p>"}),
            autoescape=True,
        ),
        context_processors=[context_processor],
    )

    async def render(request: Request) -> Response:
        return templates.TemplateResponse(request, "p.html")

    return Starlette(
        routes=[Route("/", render)],
        middleware=[Middleware(ConsentMiddleware, policy=policy, secret_key=SECRET)],
    )


def service_only(policy: Policy, *services: str) -> ConsentState:
    """A choice that allows these services alone, not their categories."""
    return ConsentState.from_choice(
        policy, "save", services, issued_at=ConsentState.now(), receipt_id=new_receipt_id()
    )


def with_services(services: list[dict[str, Any]], mode: bool = True) -> Policy:
    data = copy.deepcopy(POLICY_DATA)
    data["services"] = [s for s in data["services"] if s["id"] != "google-analytics"]
    data["services"] += services
    if mode:
        data["google_consent_mode"] = {}
    return Policy.model_validate(data)


def test_a_service_allowed_alone_grants_its_types() -> None:
    """E3 consent mode: a visitor who allows the Google Analytics service, not its whole
    category, gets the tag loaded (it is gated by the service) with analytics_storage
    granted, in the server's update and in the types gcm.js uses for later changes."""
    policy = with_services(
        [
            {
                "id": "ga",
                "category": "analytics",
                "title": "GA",
                "google_consent": ["analytics_storage"],
            }
        ]
    )
    state = service_only(policy, "ga")
    assert state.allows("ga") and not state.allows("analytics")
    found = commands(policy, state)
    assert found is not None
    assert found["update"] == DENIED_BUT_SECURITY | {"analytics_storage": "granted"}
    assert found["types"]["ga"] == ["analytics_storage"]
    assert found["types"]["analytics"] == ["analytics_storage"]
    assert "matomo" not in found["types"]  # services without types are left out
    # Matomo alone grants nothing: it lists no type, and its category is not granted.
    matomo = commands(policy, service_only(policy, "matomo"))
    assert matomo is not None and matomo["update"] == DENIED_BUT_SECURITY
    assert found["default"] == [DENIED_BUT_SECURITY]  # E2: the default is unchanged


def test_the_google_presets_carry_their_types() -> None:
    """E3 consent mode: a service made from a Google preset grants that preset's types;
    its own google_consent wins."""
    policy = with_services(
        [
            {"id": "ga", "preset": "google-analytics"},
            {"id": "ads", "preset": "google-ads", "category": "marketing"},
            {"id": "ads2", "preset": "doubleclick", "category": "marketing", "google_consent": []},
        ]
    )
    assert service_types(policy.service("ga")) == ("analytics_storage",)
    assert service_types(policy.service("ads")) == AD_TYPES
    assert service_types(policy.service("ads2")) == ()
    assert service_types(policy.service("matomo")) == ()
    update = commands(policy, service_only(policy, "ads"))
    assert update is not None and update["update"] is not None
    assert [update["update"][k] for k in AD_TYPES] == ["granted"] * 3
    with_gpc = commands(policy, service_only(policy, "ga", "ads").with_gpc())
    assert with_gpc is not None and with_gpc["update"]["ad_storage"] == "denied"


def test_listing_types_turns_consent_mode_on() -> None:
    """E1 consent mode: a category or service listing google_consent types turns Consent
    Mode on without a [google_consent_mode] table; defaults by id or preset do not."""
    data = copy.deepcopy(POLICY_DATA)
    assert not Policy.model_validate(data).uses_consent_mode
    data["categories"][1]["google_consent"] = ["analytics_storage"]
    policy = Policy.model_validate(data)
    assert policy.uses_consent_mode
    found = commands(policy, ConsentState.undecided(policy))
    assert found is not None and found["default"] == [DENIED_BUT_SECURITY]  # no options
    service = with_services(
        [
            {
                "id": "ga",
                "category": "analytics",
                "title": "GA",
                "google_consent": ["analytics_storage"],
            }
        ],
        mode=False,
    )
    assert service.uses_consent_mode
    preset_only = with_services([{"id": "ga", "preset": "google-analytics"}], mode=False)
    assert not preset_only.uses_consent_mode
    assert commands(preset_only, ConsentState.undecided(preset_only)) is None


def test_a_policy_without_the_table_renders_the_snippet() -> None:
    """E1, E3 consent mode: the head snippet (data block and gcm.js) comes from the types a
    category lists; a later page carries the update of a service allowed alone."""
    data = copy.deepcopy(POLICY_DATA)
    data["services"][3]["google_consent"] = ["analytics_storage"]  # google-analytics
    policy = Policy.model_validate(data)
    assert policy.google_consent_mode is None
    client = TestClient(head_app(policy))
    html = client.get("/").text
    block = re.search(r'<script type="application/json" id="consent-gcm">(.*?)</script>', html)
    assert block is not None and "/consent/static/gcm.js" in html
    first = json.loads(block[1])
    assert first["default"] == [DENIED_BUT_SECURITY] and first["update"] is None
    assert first["types"]["google-analytics"] == ["analytics_storage"]
    client.post("/consent", json={"action": "save", "grant": ["google-analytics"]})
    later = re.search(r'id="consent-gcm">(.*?)</script>', client.get("/").text)
    assert later is not None
    assert json.loads(later[1])["update"] == DENIED_BUT_SECURITY | {"analytics_storage": "granted"}
    plain = TestClient(head_app(Policy.model_validate(POLICY_DATA))).get("/").text
    assert "consent-gcm" not in plain


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("analytics", "write 'analytics_storage'"),
        ("ad_user", "write 'ad_user_data'"),
        ("Analytics_Storage", "write 'analytics_storage'"),
        ("everything", "use some of 'ad_storage'"),
    ],
)
def test_an_unknown_type_is_named_with_the_nearest(given: str, message: str) -> None:
    """The policy check names an unknown Consent Mode type and the one meant, wherever it
    is listed (category, service, region default)."""
    for place in ("category", "service", "region"):
        data = copy.deepcopy(POLICY_DATA)
        if place == "category":
            data["categories"][1]["google_consent"] = [given]
        elif place == "service":
            data["services"][3]["google_consent"] = [given]
        else:
            data["google_consent_mode"] = {"regions": [{"region": ["US"], "granted": [given]}]}
        with pytest.raises(PolicyError) as caught:
            validate_policy(data, "consent.toml")
        text = str(caught.value)
        assert f"{given!r} is not a Google Consent Mode type" in text and message in text
        assert "google_consent" in text or "granted" in text
