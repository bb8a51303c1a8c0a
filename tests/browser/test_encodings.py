"""Chromium makes no request to a refused tracker on a page in UTF-16, a gzip-compressed
page, or one that spells the tracker's host in full-width letters (checklist item A2); and
it reads the host of a URL as `browser_host` does.

Each page is loaded as written first, where Chromium must request the tracker (so the case
is real in this browser), then through the middleware, where it must not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page, Route

from consent.gating import browser_host
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
    """A2: a UTF-16 page (by its header or its byte order mark), a gzip page and a page that
    writes the tracker's host in full-width letters make no request to the refused tracker."""
    assert len(tracker_requests(page, f"{site}/raw{path}")) == 2  # as written: both load
    assert tracker_requests(page, f"{site}{path}") == []
    assert "Grüße ✓" in page.inner_text("body")  # the page still reads as it should


PIECES = {
    "lead": "https:// http:// // \\\\ /\\ https:/\\ HTTPS: ftp:// javascript:// / _".split(),
    "user": "_ user@ a:b@ x@y@ u\uff20v@ %40@".split(),
    "port": "_ :443 :8080 :".split(),
    "rest": "_ /x.js \\x.js ?q=1 #f /a@b".split(),
}
HOST_CHARS = [
    *"abcxyzAZ-.",
    "\uff41",  # full-width a
    "\uff3a",  # full-width Z
    "\u3002",  # ideographic full stop
    "\uff0e",  # full-width full stop
    "\uff61",  # half-width ideographic full stop
    "\u00ad",  # soft hyphen (ignored)
    "\u00e9",  # e with acute
    "\u00df",  # sharp s
    "\u2460",  # circled one
    "\U0001d41a",  # mathematical bold a
    "%61",
    "%2e",
    "%C3%A9",
    "\t",
    "\n",
]


@st.composite
def urls(draw: st.DrawFn) -> str:
    host = "".join(draw(st.lists(st.sampled_from(HOST_CHARS), min_size=1, max_size=8)))
    host = draw(st.sampled_from(["", "www.", "a."])) + host + draw(st.sampled_from([".com", ""]))
    parts = {name: draw(st.sampled_from(c)).strip("_") for name, c in PIECES.items()}
    return parts["lead"] + parts["user"] + host + parts["port"] + parts["rest"]


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(urls(), min_size=100, max_size=100))
def test_browser_host_agrees_with_chromium(page: Page, batch: list[str]) -> None:
    """A2: the host `browser_host` finds in a URL is the one Chromium's URL parser finds (on
    an https page), for URLs mixing slashes, userinfo, ports and Unicode hosts. Where
    Chromium finds this site (a relative URL), the gate may read a host: it only gates more."""
    found: list[list[str] | None] = page.evaluate(
        """urls => urls.map(u => {
            try { const p = new URL(u, "https://site.test/dir/"); return [p.protocol, p.hostname]; }
            catch (e) { return null; }
        })""",
        batch,
    )
    for url, parsed in zip(batch, found, strict=True):
        if parsed is None:
            continue  # invalid: the browser loads nothing
        protocol, host = parsed
        if protocol not in ("http:", "https:"):
            assert browser_host(url) is None, url
        elif host != "site.test":
            assert (browser_host(url) or "") == host.rstrip("."), url
