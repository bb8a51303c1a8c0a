"""Chromium makes no request to a refused tracker on a page in UTF-16, a gzip-compressed
page, or one that spells the tracker's host in full-width letters (checklist item A2).

Each page is loaded as written first, where Chromium must request the tracker (so the case
is real in this browser), then through the middleware, where it must not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Route

from tests.browser.encodings_app import PAGES, TRACKER
from tests.servers import uvicorn_process


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with uvicorn_process("tests.browser.encodings_app:app") as (url, _):
        yield url


def tracker_requests(page: Page, url: str) -> list[str]:
    requested: list[str] = []

    def answer(route: Route) -> None:
        requested.append(route.request.url)
        route.fulfill(body="", content_type="text/javascript")

    page.route(f"{TRACKER}/**", answer)
    page.goto(url)
    page.wait_for_load_state("load")
    page.unroute(f"{TRACKER}/**")
    return requested


@pytest.mark.parametrize("path", sorted(PAGES))
def test_chromium_requests_no_refused_tracker_whatever_the_encoding(
    page: Page, site: str, path: str
) -> None:
    assert len(tracker_requests(page, f"{site}/raw{path}")) == 2  # as written: both load
    assert tracker_requests(page, f"{site}{path}") == []
    assert "Grüße ✓" in page.inner_text("body")  # the page still reads as it should
