"""Google Consent Mode and Global Privacy Control in Chromium, read from `window.dataLayer`
(checklist E1, E2, E3, E5, F1, F3, F4, F6)."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Page, expect

from consent.consent_mode import AD_TYPES, CONSENT_TYPES
from tests.browser.conftest import NewPage
from tests.browser.test_journey import banner_button, cookie_names

TYPES = CONSENT_TYPES
ADS = AD_TYPES
GPC_PROPERTY = (
    "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true })"
)


def data_layer(page: Page) -> list[list[Any]]:
    """The data layer's entries as lists (gtag pushes Arguments objects)."""
    entries: list[list[Any]] = page.evaluate(
        "(window.dataLayer || []).map(e => Array.from(e).map(v => v instanceof Date ? 'date' : v))"
    )
    return entries


def consent_commands(page: Page) -> list[tuple[str, dict[str, Any]]]:
    return [(e[1], e[2]) for e in data_layer(page) if e[0] == "consent"]


def index_of(entries: list[list[Any]], *head: str) -> int:
    return next(i for i, e in enumerate(entries) if tuple(e[: len(head)]) == head)


def wait_for(page: Page, expression: str, timeout: float = 5) -> None:
    """Poll in Python: wait_for_function with a string is refused under a strict CSP."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.05)


def values(**granted: bool) -> dict[str, str]:
    on = {kind for kind, yes in granted.items() if yes} | {"security_storage"}
    return {kind: "granted" if kind in on else "denied" for kind in TYPES}


# The example site has no "functional" category: those two types stay denied.
EVERYTHING = values(
    ad_storage=True, ad_user_data=True, ad_personalization=True, analytics_storage=True
)


def test_first_visit_denies_everything_and_loads_no_google_tag(page: Page, server: str) -> None:
    """E1, E2, E5: the default (all denied but security, wait_for_update) is the first
    entry; no update without a choice; basic mode: the tag itself is not loaded."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(server + "/")
    layer = data_layer(page)
    assert layer[0] == ["consent", "default", {**values(), "wait_for_update": 500}]
    assert [kind for kind, _ in consent_commands(page)] == ["default"]
    assert page.evaluate("window.exampleGoogleTag === undefined")
    assert not any("/static/gtag.js" in url for url in requests)
    assert "_ga" not in cookie_names(page)


def test_accept_all_sends_one_update_before_the_tag_runs(page: Page, server: str) -> None:
    """E3: the choice pushes one update with all seven types; the Google tag starts after
    it, so its first look at consent already sees the grant."""
    page.goto(server + "/")
    banner_button(page, "Accept all").click()
    wait_for(page, "window.exampleGoogleTag && window.exampleGoogleTag.loaded")
    commands = consent_commands(page)
    assert [kind for kind, _ in commands] == ["default", "update"]
    assert commands[1][1] == EVERYTHING
    layer = data_layer(page)
    assert index_of(layer, "consent", "update") < index_of(layer, "js")
    assert index_of(layer, "js") < index_of(layer, "config")
    assert page.evaluate("window.exampleGoogleTag.consent.analytics_storage") == "granted"
    assert "_ga" in cookie_names(page)


def test_a_later_page_gets_default_then_update_from_the_cookie(page: Page, server: str) -> None:
    """E3: consent mode keeps nothing; the server sends the stored choice on every page,
    right after the default and before the tag."""
    page.goto(server + "/")
    banner_button(page, "Accept all").click()
    wait_for(page, "window.exampleGoogleTag && window.exampleGoogleTag.loaded")
    page.goto(server + "/articles/india-japan-vision")
    wait_for(page, "window.exampleGoogleTag && window.exampleGoogleTag.loaded")
    layer = data_layer(page)
    assert layer[0][:2] == ["consent", "default"]
    assert layer[1] == ["consent", "update", EVERYTHING]
    assert index_of(layer, "js") > 1


def test_reject_all_updates_to_denied_and_loads_nothing(page: Page, server: str) -> None:
    page.goto(server + "/")
    banner_button(page, "Reject all").click()
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    assert consent_commands(page)[-1] == ("update", values())
    time.sleep(0.2)
    assert page.evaluate("window.exampleGoogleTag === undefined")


def test_global_privacy_control_keeps_advertising_off(new_page: NewPage, server: str) -> None:
    """F1, F4, F6: with the header, the banner still asks (marketing shown as off, with the
    note); "Accept all" grants analytics but not marketing, and the update denies the
    three ad types."""
    page = new_page(extra_http_headers={"Sec-GPC": "1"})
    page.add_init_script(GPC_PROPERTY)
    page.goto(server + "/")
    banner = page.locator("[data-consent-banner]")
    expect(banner).to_be_visible()
    expect(banner.locator("[data-consent-gpc]")).to_contain_text(
        "Opt-out preference signal honoured"
    )
    marketing = page.locator("dialog[data-consent-dialog] #consent-c-marketing")
    expect(marketing).to_be_disabled()
    expect(marketing).not_to_be_checked()
    banner_button(page, "Accept all").click()
    wait_for(page, "window.exampleGoogleTag && window.exampleGoogleTag.loaded")
    assert consent_commands(page)[-1] == (
        "update",
        values(analytics_storage=True),
    )
    state = page.evaluate("window.consent.state()")
    assert state["granted"] == ["essential", "analytics"]
    assert state["gpc"] is True


def test_the_page_script_honours_the_property_alone(new_page: NewPage, server: str) -> None:
    """F3: a browser that exposes navigator.globalPrivacyControl without sending the header
    (an extension, say): consent.js tells the server, which keeps marketing off."""
    page = new_page()
    page.add_init_script(GPC_PROPERTY)
    page.goto(server + "/")
    banner_button(page, "Accept all").click()
    wait_for(page, "window.exampleGoogleTag && window.exampleGoogleTag.loaded")
    stored = page.evaluate("fetch('/consent/state').then(r => r.json())")
    assert stored["granted"] == ["essential", "analytics"]
    update = consent_commands(page)[-1][1]
    assert all(update[kind] == "denied" for kind in ADS)
    assert page.evaluate("window.consent.allows('youtube')") is False


def test_the_property_alone_keeps_a_stored_grant_off_the_ad_types(
    new_page: NewPage, server: str
) -> None:
    """F3 with E3: a stored "Accept all" meets a browser that now exposes
    navigator.globalPrivacyControl without the header: the update gcm.js builds from the
    cookie denies the three ad types and keeps analytics granted."""
    page = new_page()
    page.goto(server + "/")
    banner_button(page, "Accept all").click()
    wait_for(page, "window.exampleGoogleTag && window.exampleGoogleTag.loaded")
    page.add_init_script(GPC_PROPERTY)
    page.goto(server + "/articles/india-japan-vision")
    layer = data_layer(page)
    assert layer[0] == ["consent", "default", {**values(), "wait_for_update": 500}]
    assert layer[1] == ["consent", "update", values(analytics_storage=True)]


def test_google_analytics_allowed_alone_grants_analytics_storage(page: Page, server: str) -> None:
    """E3 consent mode, A2: the visitor allows the Google Analytics service, not its whole
    category: the tag (gated by the service, absent before the choice) loads, and the
    update gcm.js pushes grants analytics_storage, so the tag measures (here: it sets
    `_ga`); a later page gets the same update from the cookie."""
    page.goto(server + "/")
    assert page.evaluate("window.exampleGoogleTag === undefined")
    page.locator("[data-consent-banner] [data-consent-open]").click()
    dialog = page.locator("dialog[data-consent-dialog]")
    dialog.locator("[data-consent-category='analytics'] summary").click()
    dialog.locator("#consent-s-google-analytics").check()
    dialog.get_by_role("button", name="Save choices").click()
    wait_for(page, "window.exampleGoogleTag && window.exampleGoogleTag.loaded")
    state = page.evaluate("window.consent.state()")
    assert "analytics" not in state["granted"] and "google-analytics" in state["services"]
    assert consent_commands(page)[-1] == ("update", values(analytics_storage=True))
    wait_for(page, "document.cookie.indexOf('_ga=') >= 0")
    page.goto(server + "/articles/india-japan-vision")
    assert data_layer(page)[1] == ["consent", "update", values(analytics_storage=True)]
