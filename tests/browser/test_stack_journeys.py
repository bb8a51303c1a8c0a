"""One visitor's journey in Chromium on every stack's example site, each through a real
server: the same steps and the same expectations, whatever framework serves the page.

Checklist items: A1, A2, A6 (activation without reload), B1, B12, B13 (withdrawal).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_journey import (
    analytics_ran,
    banner_button,
    cookie_names,
    mark_document,
    non_essential,
    same_document,
)

# Each stack's example site: the session fixture (tests/browser/conftest.py) that serves it.
STACK_SERVERS = {
    "starlette": "server",
    "fastapi": "fastapi_server",
    "flask": "flask_server",
    "django": "django_server",
    "django-wsgi": "django_wsgi_server",
}


@pytest.fixture(params=sorted(STACK_SERVERS))
def stack_server(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(STACK_SERVERS[request.param])
    return url


def test_the_journey_is_the_same_on_every_stack(page: Page, stack_server: str) -> None:
    """A1, A2, B1: a first visit runs nothing optional; A6: Accept all runs the statistics
    tag in the same document; B12: the footer link reopens the settings as chosen; B13:
    Reject all there withdraws it, and the next page runs nothing."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(stack_server + "/")
    expect(page.locator("[data-consent-banner]")).to_be_visible()
    assert not analytics_ran(page)
    assert "consent" not in cookie_names(page) and non_essential(page) == set()
    assert not any("/static/analytics.js" in url for url in requests)

    mark_document(page)
    banner_button(page, "Accept all").click()
    page.wait_for_function("window.exampleAnalytics && window.exampleAnalytics.loaded")
    assert same_document(page)
    expect(page.locator("[data-consent-banner]")).to_have_count(0)

    page.locator("footer [data-consent-open]").click()
    dialog = page.locator("dialog[data-consent-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#consent-c-analytics")).to_be_checked()
    with page.expect_navigation():  # running code cannot be stopped: the page reloads
        dialog.get_by_role("button", name="Reject all").click()
    assert not analytics_ran(page)
    page.reload()
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    assert not analytics_ran(page)
    state = page.evaluate("fetch('/consent/state').then(r => r.json())")
    assert state["decided"] is True and state["granted"] == ["essential"]
