"""Strict CSP: no inline code is needed, nonces are kept, activation keeps document order.

Checklist items: A6 (activation without reload), E1 (Consent Mode without inline code),
and DESIGN's "no inline script or style is
required (CSP without 'unsafe-inline' works; a nonce is accepted)".
"""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect


def test_gated_scripts_run_in_order_with_their_nonce(page: Page, csp_server: str) -> None:
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    page.goto(csp_server + "/")
    expect(page.locator("[data-consent-banner]")).to_be_visible()
    # The stylesheet and the script loaded under the policy.
    assert page.evaluate("typeof window.consent") == "object"
    assert page.evaluate("window.order") == []
    # Consent Mode runs from gcm.js (with the nonce), not from inline code.
    assert page.evaluate("window.dataLayer.map(e => e[1])") == ["default"]
    page.locator("[data-consent-banner]").get_by_role("button", name="Accept all").click()
    # (wait_for_function would evaluate a string in the page, which this very policy forbids)
    deadline = time.monotonic() + 5
    while page.evaluate("window.order.length") < 3 and time.monotonic() < deadline:
        page.wait_for_timeout(20)
    assert page.evaluate("window.order") == [1, 2, 3]
    assert page.evaluate("window.dataLayer.map(e => e[1])") == ["default", "update"]
    assert violations == []
