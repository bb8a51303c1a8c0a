"""Accessibility of the banner and the settings dialog in Chromium (WCAG 2.2 AA).

Checklist items: B2, B3, B4, B8, G1-G8.
"""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import NewPage

AXE = Axe()


def violations(page: Page, context: str | None = None) -> list[str]:
    results = AXE.run(page, context=context)
    return [
        f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in results.response["violations"]
    ]


def focused(page: Page) -> dict[str, Any]:
    info: dict[str, Any] = page.evaluate(
        """() => { const e = document.activeElement;
        return {tag: e.tagName, text: (e.textContent || '').trim(), value: e.value || '',
                inDialog: !!e.closest('dialog[data-consent-dialog]'),
                inBanner: !!e.closest('[data-consent-banner]'),
                pageHasFocus: document.hasFocus()}; }"""
    )
    return info


def test_banner_has_no_axe_violations(page: Page, server: str) -> None:
    """G1, G4-G6 as far as axe-core can tell, for the whole page with the banner open."""
    page.goto(server + "/")
    expect(page.locator("[data-consent-banner]")).to_be_visible()
    assert violations(page) == []


def test_dialog_has_no_axe_violations(page: Page, server: str) -> None:
    page.goto(server + "/")
    page.locator("footer [data-consent-open]").click()
    expect(page.locator("dialog[data-consent-dialog]")).to_be_visible()
    page.locator("dialog[data-consent-dialog] details").first.evaluate("d => d.open = true")
    assert violations(page, "dialog[data-consent-dialog]") == []


def test_preferences_and_declaration_pages_have_no_axe_violations(page: Page, server: str) -> None:
    page.goto(server + "/consent")
    assert violations(page) == []
    page.goto(server + "/consent/policy")
    assert violations(page) == []


def test_gpc_note_and_disabled_switches_have_no_axe_violations(
    new_page: NewPage, server: str
) -> None:
    """G1 with F4: the opt-out note and the disabled marketing switches stay accessible."""
    page = new_page(extra_http_headers={"Sec-GPC": "1"})
    page.goto(server + "/")
    expect(page.locator("[data-consent-banner] [data-consent-gpc]")).to_be_visible()
    assert violations(page) == []
    page.goto(server + "/consent")
    expect(page.locator("#consent-c-marketing")).to_be_disabled()
    assert violations(page) == []


def test_banner_semantics(page: Page, server: str) -> None:
    """G1: a named dialog, non-modal, so the page stays usable (B8: no cookie wall)."""
    page.goto(server + "/")
    banner = page.get_by_role("dialog", name="Your privacy choices")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("aria-modal", "false")
    expect(banner).to_have_attribute("lang", "en")
    # B3: both choices are real buttons inside the banner, not links in a paragraph.
    assert banner.locator("button").count() >= 2
    main = page.locator("main")
    assert main.get_attribute("inert") is None and main.get_attribute("aria-hidden") is None
    page.get_by_role("link", name="Top stories").first.click()  # the content stays reachable


def test_keyboard_only_flow(page: Page, server: str) -> None:
    """G2, G4: reach the banner by keyboard, open settings, stay inside, Escape, focus back.

    The dialog is modal through `showModal()` alone: consent.js has no focus trap of its own.
    """
    page.goto(server + "/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if focused(page)["inBanner"] and focused(page)["text"] == "Settings":
            break
    else:
        pytest.fail("the banner's Settings control is not reachable with Tab")
    page.keyboard.press("Enter")
    dialog = page.locator("dialog[data-consent-dialog]")
    expect(dialog).to_be_visible()
    assert focused(page)["inDialog"]
    # showModal() makes the page behind the dialog inert: Tab and Shift+Tab go round the
    # dialog's controls and the browser's own (where the page has no focus at all), never
    # to the page behind. No trap of the page's own keeps the keyboard from the browser.
    for key in ("Tab", "Shift+Tab"):
        left_the_page = False
        for _ in range(30):
            page.keyboard.press(key)
            where = focused(page)
            assert where["inDialog"] or not where["pageHasFocus"], where
            left_the_page = left_the_page or not where["pageHasFocus"]
        assert left_the_page  # the browser's controls are part of the round (WCAG 2.1.2)
    if not focused(page)["pageHasFocus"]:
        page.keyboard.press("Tab")  # back into the dialog from the browser's controls
    assert focused(page)["inDialog"]
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    after = focused(page)
    assert after["inBanner"] and after["text"] == "Settings"  # focus returned to the opener
    state = page.evaluate("fetch('/consent/state').then(r => r.json())")
    assert state["decided"] is False  # B9: Escape granted nothing

    # Operate a choice with the keyboard alone: Shift+Tab back to Reject all, press Space.
    for _ in range(5):
        page.keyboard.press("Shift+Tab")
        if focused(page)["text"] == "Reject all":
            break
    page.keyboard.press("Space")
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    state = page.evaluate("fetch('/consent/state').then(r => r.json())")
    assert state["decided"] is True and state["granted"] == ["essential"]


def test_focused_controls_are_not_hidden_behind_banner(new_page: NewPage, server: str) -> None:
    """G3 (2.4.11): tabbing through the page never leaves the focus entirely covered."""
    page = new_page(viewport={"width": 800, "height": 500})
    page.goto(server + "/articles/india-japan-vision")
    for _ in range(25):
        page.keyboard.press("Tab")
        covered = page.evaluate(
            """() => { const e = document.activeElement;
            if (!e || e === document.body) return false;
            const r = e.getBoundingClientRect(); if (!r.width || !r.height) return false;
            const x = r.left + r.width / 2, y = r.top + r.height / 2;
            if (y < 0 || y > innerHeight) return false;
            const top = document.elementFromPoint(x, y);
            return !(top && (top === e || e.contains(top) || top.contains(e))); }"""
        )
        assert not covered


def test_narrow_screen_shows_both_buttons_without_horizontal_scroll(
    new_page: NewPage, server: str
) -> None:
    """G8 (1.4.10 Reflow): at 320 px both choices are visible, nothing scrolls sideways."""
    page = new_page(viewport={"width": 320, "height": 640})
    page.goto(server + "/")
    for name in ("Accept all", "Reject all"):
        button = page.locator("[data-consent-banner]").get_by_role("button", name=name)
        expect(button).to_be_in_viewport()
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320
    assert page.evaluate("document.documentElement.scrollWidth") <= 320


def test_text_zoom_does_not_clip_buttons(page: Page, server: str) -> None:
    """G8 (1.4.4): at 200% text size the buttons' labels still fit."""
    page.goto(server + "/")
    page.add_style_tag(content="html { font-size: 200% !important; }")
    for name in ("Accept all", "Reject all"):
        button = page.locator("[data-consent-banner]").get_by_role("button", name=name)
        expect(button).to_be_in_viewport()
        fits = button.evaluate("b => b.scrollWidth <= b.clientWidth + 1")
        assert fits


STYLE_PROPS = (
    "font-size",
    "font-weight",
    "font-family",
    "padding-top",
    "padding-left",
    "color",
    "background-color",
    "border-top-width",
    "border-top-color",
    "opacity",
)


def test_accept_and_reject_look_the_same(page: Page, server: str) -> None:
    """B4: equal size and style for Accept all and Reject all; G7 target size."""
    page.goto(server + "/")
    styles = []
    for name in ("Accept all", "Reject all"):
        button = page.locator("[data-consent-banner]").get_by_role("button", name=name)
        styles.append(
            button.evaluate(
                "(b, props) => { const s = getComputedStyle(b);"
                " const r = b.getBoundingClientRect();"
                " return {...Object.fromEntries(props.map(p => [p, s.getPropertyValue(p)])),"
                " width: r.width, height: r.height}; }",
                list(STYLE_PROPS),
            )
        )
    accept, reject = styles
    for prop in STYLE_PROPS:
        assert accept[prop] == reject[prop], prop
    assert accept["opacity"] == "1"
    assert abs(accept["height"] - reject["height"]) <= 0.1 * accept["height"]
    assert abs(accept["width"] - reject["width"]) <= 0.1 * max(accept["width"], reject["width"])
    assert accept["height"] >= 24 and accept["width"] >= 24


def test_dark_mode_keeps_contrast(new_page: NewPage, server: str) -> None:
    """G5 in the dark colour scheme too."""
    page = new_page(color_scheme="dark")
    page.goto(server + "/")
    page.locator("footer [data-consent-open]").click()
    assert violations(page, "[data-consent-banner]") == []
    assert violations(page, "dialog[data-consent-dialog]") == []
