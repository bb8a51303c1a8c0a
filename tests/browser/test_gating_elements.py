"""Images, srcsets, <picture>, <noscript> pixels, iframe srcdoc, declarative shadow roots,
links that fetch, media, <embed>, <object>, <input type=image> and <base href>, in Chromium.

Checklist items: A2 (no pixel, iframe, preload or preconnect before a choice: the browser's
own network log shows no request to the tracker), A6 (after "Accept all" each element is
restored in place and loads, exactly once). The page comes through the middleware with the
category refused (no choice yet); the tracker's host is declared by a service, so elements
without data-consent are held back by their host (tests/browser/elements_app.py).
"""

from __future__ import annotations

import time
from collections import Counter

from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import NewPage
from tests.browser.elements_app import BASE_PAGE, ELEMENTS, NAMES, T

GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


def log_tracker(page: Page) -> Counter[str]:
    """Answer every request to the tracker, and count them by path."""
    seen: Counter[str] = Counter()

    def answer(route: Route) -> None:
        path = route.request.url.removeprefix(T)
        kind = "text/html" if path.endswith(".html") else "image/gif"
        route.fulfill(body=b"<p>x</p>" if kind == "text/html" else GIF, content_type=kind)

    page.on(
        "request", lambda r: seen.update([r.url.removeprefix(T)] if r.url.startswith(T) else [])
    )
    page.route(f"{T}/**", answer)
    return seen


def settle(page: Page, seen: Counter[str], names: list[str]) -> None:
    """Wait until every one of `names` has been requested (at most 5 s), then a little more,
    so that a second request would be seen too."""
    deadline = time.monotonic() + 5
    while not all(f"/{name}" in seen for name in names) and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    page.wait_for_timeout(300)


def test_as_written_chromium_loads_every_element(page: Page) -> None:
    """The page's elements without the gate: Chromium loads each from the tracker and runs
    the srcdoc and shadow root scripts (so that the tests below test something)."""
    seen = log_tracker(page)
    html = "<!doctype html><title>t</title><script>window.ran = []</script>" + ELEMENTS
    page.route(
        "http://site.test/", lambda route: route.fulfill(body=html, content_type="text/html")
    )
    page.goto("http://site.test/")
    settle(page, seen, [*NAMES, "srcdoc.gif"])
    assert {f"/{name}" for name in [*NAMES, "srcdoc.gif"]} <= set(seen)
    assert sorted(page.evaluate("window.ran")) == ["shadow", "srcdoc"]


def test_nothing_loads_from_the_tracker_before_a_choice(page: Page, elements_server: str) -> None:
    """A2: none of the elements reaches the tracker, and no script in a srcdoc or a
    declarative shadow root runs."""
    seen = log_tracker(page)
    page.goto(elements_server + "/")
    expect(page.locator("[data-consent-banner]")).to_be_visible()
    page.wait_for_load_state("load")
    page.wait_for_timeout(500)
    assert seen == Counter()
    assert page.evaluate("window.ran") == []
    # The shadow root's content stayed an inert template.
    assert page.evaluate("document.getElementById('host').shadowRoot") is None


def test_accept_all_restores_each_element_once(page: Page, elements_server: str) -> None:
    """A6: after "Accept all", without a reload, each element loads what it held back,
    exactly once, and the srcdoc and shadow root scripts run."""
    seen = log_tracker(page)
    page.goto(elements_server + "/")
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    assert seen == Counter()
    page.evaluate("window.__same = true")
    page.locator("[data-consent-banner]").get_by_role("button", name="Accept all").click()
    expected = [n for n in NAMES if n != "video.webm"] + ["srcdoc.gif"]
    settle(page, seen, [*expected, "video.webm"])
    assert page.evaluate("window.__same") is True
    for name in expected:
        assert seen[f"/{name}"] == 1, (name, seen)
    # Media may fetch in ranges; it fetches again only if it is loaded twice.
    assert seen["/video.webm"] >= 1
    assert "/noscript.gif" not in seen  # with scripting on, <noscript> is text
    assert sorted(page.evaluate("window.ran")) == ["shadow", "srcdoc"]
    shadow = page.evaluate("document.getElementById('host').shadowRoot.innerHTML")
    assert "in the shadow" in shadow and "data-consent-src" not in shadow
    assert page.locator("template").count() == 0
    # Nothing is restored twice on a later change.
    page.evaluate("document.dispatchEvent(new Event('x'))")
    page.wait_for_timeout(200)
    assert all(seen[f"/{name}"] == 1 for name in expected)


def test_a_noscript_pixel_waits_without_javascript(new_page: NewPage, elements_server: str) -> None:
    """A2: with JavaScript off the <noscript> content is markup a browser loads: its pixel
    waits for consent on the server, and loads once the choice is made (a plain form)."""
    page = new_page(java_script_enabled=False)
    seen = log_tracker(page)
    page.goto(elements_server + "/")
    page.wait_for_timeout(500)
    assert seen == Counter()
    page.locator("[data-consent-banner]").get_by_role("button", name="Accept all").click()
    page.wait_for_url(elements_server + "/")
    settle(page, seen, ["noscript.gif", "img.gif"])
    assert seen["/noscript.gif"] == 1 and seen["/img.gif"] == 1


def test_relative_urls_after_a_tracker_base_wait(page: Page, elements_server: str) -> None:
    """A2: after <base href> on the tracker, relative URLs load from the tracker: they wait
    too, also after a later <base>, which browsers ignore."""
    seen = log_tracker(page)
    page.goto(elements_server + "/base")
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    assert seen == Counter()
    # As written, Chromium loads them from the tracker (so the case is real).
    page.route(
        elements_server + "/base",
        lambda route: route.fulfill(body=BASE_PAGE, content_type="text/html"),
    )
    page.goto(elements_server + "/base")
    settle(page, seen, ["base.gif", "second.gif"])
    assert seen["/base.gif"] == 1 and seen["/second.gif"] == 1
