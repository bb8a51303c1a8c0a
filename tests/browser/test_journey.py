"""The visitor's journey in Chromium: banner, choices, activation without reload, settings.

Checklist items: A1, A2, A4, A5, A6, B1, B2, B5, B9, B12, B13, B15, G8 (status message).
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import NewPage

NON_ESSENTIAL = ("_pk_id", "_pk_ses", "_ga", "_gcl_au", "YSC", "VISITOR_INFO1_LIVE")


def cookie_names(page: Page) -> set[str]:
    return {str(c.get("name", "")) for c in page.context.cookies()}


def non_essential(page: Page) -> set[str]:
    return {n for n in cookie_names(page) if n.startswith(NON_ESSENTIAL)}


def mark_document(page: Page) -> None:
    """Put a marker on the window: if the page reloads, the marker is gone."""
    page.evaluate("window.__sameDocument = true")


def same_document(page: Page) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))


def analytics_ran(page: Page) -> bool:
    return bool(page.evaluate("!!(window.exampleAnalytics && window.exampleAnalytics.loaded)"))


def banner_button(page: Page, name: str) -> Any:
    return page.locator("[data-consent-banner]").get_by_role("button", name=name, exact=True)


def test_first_visit_shows_banner_and_runs_nothing(page: Page, server: str) -> None:
    """A1, A2, B1, B2: banner with both buttons, no gated script, no optional cookie."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(server + "/articles/india-japan-vision")
    banner = page.locator("[data-consent-banner]")
    expect(banner).to_be_visible()
    expect(banner_button(page, "Accept all")).to_be_visible()
    expect(banner_button(page, "Reject all")).to_be_visible()
    assert not analytics_ran(page)
    assert non_essential(page) == set()
    assert "consent" not in cookie_names(page)
    assert not any("/static/analytics.js" in url or "/embed/video" in url for url in requests)
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0


def test_reject_all_hides_banner_without_reload_and_runs_nothing(page: Page, server: str) -> None:
    """A4, B2, C4: reject leaves the page in the same state as no choice, minus the banner."""
    page.goto(server + "/")
    mark_document(page)
    banner_button(page, "Reject all").click()
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    expect(page.locator("[data-consent-status]")).to_have_text("Privacy settings saved")
    assert same_document(page)
    assert not analytics_ran(page)
    assert non_essential(page) == set()
    assert "consent" in cookie_names(page)
    page.reload()
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    assert not analytics_ran(page)


def test_accept_all_activates_gated_script_without_reload(page: Page, server: str) -> None:
    """A6: the statistics tag runs right after the grant, in the same document."""
    page.goto(server + "/")
    mark_document(page)
    page.evaluate(
        "document.addEventListener('consent:change', e => { window.__changed = e.detail })"
    )
    banner_button(page, "Accept all").click()
    page.wait_for_function("window.exampleAnalytics && window.exampleAnalytics.loaded")
    assert same_document(page)
    detail = page.evaluate("window.__changed")
    assert detail["decided"] is True
    assert "analytics" in detail["granted"]
    assert any(name.startswith("_pk_id") for name in cookie_names(page))


def test_scroll_escape_and_navigation_grant_nothing(page: Page, server: str) -> None:
    """B9: scrolling, Escape and moving to another page are not consent."""
    page.goto(server + "/articles/india-japan-vision")
    page.mouse.wheel(0, 2000)
    page.keyboard.press("Escape")
    page.click("text=Top stories")
    page.wait_for_url(server + "/")
    expect(page.locator("[data-consent-banner]")).to_be_visible()
    assert "consent" not in cookie_names(page)
    assert not analytics_ran(page)


def test_settings_link_reopens_dialog_prefilled(page: Page, server: str) -> None:
    """B12, B15: the footer link reopens the settings showing the current choice."""
    page.goto(server + "/")
    page.locator("[data-consent-banner] [data-consent-open]").click()
    dialog = page.locator("dialog[data-consent-dialog]")
    expect(dialog).to_be_visible()
    analytics = dialog.locator("#consent-c-analytics")
    marketing = dialog.locator("#consent-c-marketing")
    expect(analytics).not_to_be_checked()  # B5: nothing pre-ticked
    expect(marketing).not_to_be_checked()
    expect(dialog.locator("#consent-c-essential")).to_be_checked()
    expect(dialog.locator("#consent-c-essential")).to_be_disabled()
    analytics.check()
    dialog.get_by_role("button", name="Save choices").click()
    expect(dialog).to_be_hidden()

    page.reload()
    page.locator("footer [data-consent-open]").click()
    expect(dialog).to_be_visible()
    expect(analytics).to_be_checked()
    expect(marketing).not_to_be_checked()


def test_saving_one_category_activates_only_that_category(page: Page, server: str) -> None:
    """A5: granting analytics runs the statistics tag but loads no video embed."""
    page.goto(server + "/articles/india-japan-vision")
    page.locator("[data-consent-banner] [data-consent-open]").click()
    dialog = page.locator("dialog[data-consent-dialog]")
    dialog.locator("#consent-c-analytics").check()
    dialog.get_by_role("button", name="Save choices").click()
    page.wait_for_function("window.exampleAnalytics && window.exampleAnalytics.loaded")
    expect(page.locator("iframe[data-consent='youtube']")).not_to_have_attribute(
        "src", "/embed/video"
    )
    assert not any(name.startswith(("YSC", "_gcl_au")) for name in cookie_names(page))


def test_embed_placeholder_allows_that_service_alone(page: Page, server: str) -> None:
    """The placeholder names the service and grants it alone, without a reload."""
    page.goto(server + "/articles/india-japan-vision")
    banner_button(page, "Reject all").click()
    mark_document(page)
    page.get_by_role("button", name="Allow YouTube videos").click()
    frame = page.locator("iframe[data-consent='youtube']")
    expect(frame).to_have_attribute("src", "/embed/video")
    expect(frame).to_be_visible()
    assert same_document(page)
    state = page.evaluate("fetch('/consent/state').then(r => r.json())")
    assert "youtube" in state["services"]
    assert "marketing" not in state["granted"]
    assert "analytics" not in state["granted"]
    assert not analytics_ran(page)


def test_withdrawal_takes_two_actions_and_stops_scripts(page: Page, server: str) -> None:
    """B13: after Accept all, settings + Reject all withdraws everything."""
    page.goto(server + "/")
    banner_button(page, "Accept all").click()
    page.wait_for_function("window.exampleAnalytics && window.exampleAnalytics.loaded")
    page.locator("footer [data-consent-open]").click()
    with page.expect_navigation():
        page.locator("dialog[data-consent-dialog]").get_by_role("button", name="Reject all").click()
    assert not analytics_ran(page)
    state = page.evaluate("fetch('/consent/state').then(r => r.json())")
    assert state["decided"] is True
    assert state["granted"] == ["essential"]


def test_whole_flow_without_javascript(new_page: NewPage, server: str) -> None:
    """DESIGN: every action works with JavaScript disabled (forms and redirects)."""
    page = new_page(java_script_enabled=False)
    page.goto(server + "/articles/india-japan-vision")
    expect(page.locator("[data-consent-banner]")).to_be_visible()
    page.locator("[data-consent-banner] [data-consent-open]").click()
    page.wait_for_url(re.compile(r"/consent\?next=/articles/"))
    page.locator("#consent-c-analytics").check()
    page.get_by_role("button", name="Save choices").click()
    page.wait_for_url(server + "/articles/india-japan-vision")
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    expect(page.locator("script[data-consent='matomo']")).not_to_have_attribute(
        "type", "text/plain"
    )
    page.goto(server + "/")
    banner = page.locator("[data-consent-banner]")
    expect(banner).to_have_count(0)
    page.goto(server + "/consent?next=/")
    expect(page.locator("#consent-c-analytics")).to_be_checked()
    page.get_by_role("button", name="Reject all").click()
    page.wait_for_url(server + "/")
    expect(page.locator("[data-analytics='off']")).to_be_visible()


def test_a_grant_that_cannot_be_recorded_is_refused_in_place(
    page: Page, broken_log_server: str
) -> None:
    """D1 (no proof, no consent): when the consent log fails, "Accept all" says so and
    grants nothing; "Reject all" still works."""
    page.goto(broken_log_server + "/")
    mark_document(page)
    banner_button(page, "Accept all").click()
    expect(page.locator("[data-consent-status]")).to_contain_text("could not be recorded")
    assert same_document(page)
    expect(page.locator("[data-consent-banner]")).to_be_visible()
    assert "consent" not in cookie_names(page)
    assert not analytics_ran(page)
    banner_button(page, "Reject all").click()
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    assert "consent" in cookie_names(page)
