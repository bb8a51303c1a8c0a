"""H1 in a real browser: no TCF API and no TC string cookie, before or after a choice."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def test_no_tcf_api_and_no_tc_string_cookie(page: Page, server: str) -> None:
    page.goto(server + "/")
    assert page.evaluate("typeof window.__tcfapi") == "undefined"
    page.get_by_role("button", name="Accept all").first.click()
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    page.goto(server + "/articles/india-japan-vision")
    assert page.evaluate("typeof window.__tcfapi") == "undefined"
    assert page.evaluate("typeof window.__cmp") == "undefined"
    names = {c["name"] for c in page.context.cookies()}
    assert "consent" in names
    assert not {n for n in names if n.lower().startswith(("euconsent", "__cmp"))}
