"""Languages in Chromium: right-to-left layout, narrow screens, accessibility per language."""

from __future__ import annotations

import pytest
from playwright.sync_api import FloatRect, Page, expect

from consent.i18n import strings
from tests.browser.conftest import NewPage
from tests.browser.test_accessibility import violations


def box(page: Page, selector: str) -> FloatRect:
    found = page.locator(selector).bounding_box()
    assert found is not None, selector
    return found


def test_arabic_banner_is_right_to_left_and_mirrored(new_page: NewPage, server: str) -> None:
    """The banner and dialog get lang="ar" dir="rtl"; the first button sits on the right,
    text starts at the right edge, and nothing is clipped at 320 px."""
    page = new_page(locale="ar", viewport={"width": 320, "height": 640})
    page.goto(server + "/")
    banner = page.locator("[data-consent-banner]")
    expect(banner).to_have_attribute("dir", "rtl")
    expect(banner).to_have_attribute("lang", "ar")
    ui = strings("ar")
    accept = banner.get_by_role("button", name=ui["accept_all"], exact=True)
    reject = banner.get_by_role("button", name=ui["reject_all"], exact=True)
    expect(accept).to_be_visible()
    expect(reject).to_be_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('.cc-title')).direction") == (
        "rtl"
    )
    # Mirrored: in reading order the first action is the right-most one on its row.
    first = box(page, ".cc-banner .cc-actions button[value=accept_all]")
    second = box(page, ".cc-banner .cc-actions button[value=reject_all]")
    if abs(first["y"] - second["y"]) < 2:  # side by side
        assert first["x"] > second["x"]
    page.set_viewport_size({"width": 1024, "height": 700})
    first = box(page, ".cc-banner .cc-actions button[value=accept_all]")
    second = box(page, ".cc-banner .cc-actions button[value=reject_all]")
    assert abs(first["y"] - second["y"]) < 2 and first["x"] > second["x"]
    # The heading's text starts at the right edge of its box, not the left one.
    gaps = page.evaluate(
        """() => { const el = document.querySelector('.cc-banner .cc-title');
        const range = document.createRange(); range.selectNodeContents(el);
        const text = range.getBoundingClientRect(), box = el.getBoundingClientRect();
        return [text.left - box.left, box.right - text.right]; }"""
    )
    assert gaps[1] < 2 < gaps[0]
    page.set_viewport_size({"width": 320, "height": 640})
    # No horizontal scroll and no clipped button.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for button in (accept, reject):
        clipped = button.evaluate("b => b.scrollWidth > b.clientWidth + 1")
        assert not clipped
        rect = button.bounding_box()
        assert rect is not None and rect["x"] >= 0 and rect["x"] + rect["width"] <= 320
    # The settings dialog is right-to-left too.
    page.locator("footer [data-consent-open]").click()
    dialog = page.locator("dialog[data-consent-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("dir", "rtl")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_choice_in_arabic_is_announced_in_arabic(new_page: NewPage, server: str) -> None:
    page = new_page(locale="ar")
    page.goto(server + "/")
    page.locator("[data-consent-banner]").get_by_role(
        "button", name=strings("ar")["reject_all"], exact=True
    ).click()
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    state = page.evaluate("fetch('/consent/state').then(r => r.json())")
    assert state["language"] == "ar"


@pytest.mark.parametrize("locale", ["de-DE", "ar", "pl-PL"])
def test_no_axe_violations_in_other_languages(new_page: NewPage, server: str, locale: str) -> None:
    """G1 in three languages, one of them right-to-left: the banner page, then the dialog
    and the full settings page."""
    page = new_page(locale=locale)
    page.goto(server + "/")
    lang = locale.split("-")[0]
    expect(page.locator("[data-consent-banner]")).to_have_attribute("lang", lang)
    assert violations(page) == []
    page.locator("footer [data-consent-open]").click()
    page.locator("dialog[data-consent-dialog] details").first.evaluate("d => d.open = true")
    assert violations(page, "dialog[data-consent-dialog]") == []
    page.goto(server + "/consent")
    assert violations(page) == []
