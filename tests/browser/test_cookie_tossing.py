"""Cookie tossing in a real browser: a page on a sibling sub-domain plants a genuine
"accept all" consent cookie for the parent domain (docs/security.md).

Chromium resolves www.example.test and evil.example.test to the example site on loopback,
so both are real origins of one registrable domain, as a shop and a forgotten staging
server would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

MAPPED = "--host-resolver-rules=MAP *.example.test 127.0.0.1"


@pytest.fixture
def sites(browser: Browser, server: str) -> Iterator[tuple[BrowserContext, BrowserContext, str]]:
    """A visitor's profile, an attacker's profile, and the port both sites answer on."""
    port = urlsplit(server).port
    mapped = browser.browser_type.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, MAPPED])
    visitor, attacker = mapped.new_context(), mapped.new_context()
    for context in (visitor, attacker):
        context.set_default_timeout(5000)
    yield visitor, attacker, str(port)
    mapped.close()


def consent_cookies(context: BrowserContext) -> list[tuple[str, str, str]]:
    return sorted(
        (c["domain"], c["path"], c["value"]) for c in context.cookies() if c["name"] == "consent"
    )


@pytest.mark.parametrize("path", ["/", "/articles"])
def test_a_planted_grant_does_not_override_the_visitors_refusal(
    sites: tuple[BrowserContext, BrowserContext, str], path: str
) -> None:
    visitor, attacker, port = sites
    www, evil = f"http://www.example.test:{port}", f"http://evil.example.test:{port}"

    # The attacker accepts everything on the real site and keeps the genuine cookie.
    page = attacker.new_page()
    page.goto(f"{www}/")
    page.get_by_role("button", name="Accept all").first.click()
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    [(_, _, planted)] = [c for c in consent_cookies(attacker)]

    # The visitor refuses.
    page = visitor.new_page()
    page.goto(f"{www}/")
    page.get_by_role("button", name="Reject all").first.click()
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    [(own_domain, _, own)] = consent_cookies(visitor)
    assert own_domain == "www.example.test"  # host-only

    # A page on the sibling sub-domain plants the attacker's cookie for the whole domain,
    # with a longer path so that the browser sends it first on those pages.
    page.goto(f"{evil}/")
    page.evaluate(
        "([value, path]) => { document.cookie ="
        " `consent=${value}; Domain=example.test; Path=${path}`; }",
        [planted, path],
    )
    assert ("example.test", path, planted) in {
        (d.lstrip("."), p, v) for d, p, v in consent_cookies(visitor)
    }

    # Back on the real site, the refusal holds: nothing optional is granted or runs.
    page.goto(f"{www}/articles/india-japan-vision")
    state = page.evaluate("fetch('/consent/state').then(r => r.json())")
    assert state["decided"] is True and state["granted"] == ["essential"]
    assert page.locator('script[data-consent="google-analytics"][type="text/plain"]').count()
    # ... and the planted copy has been expired by that response; the own cookie stays.
    assert consent_cookies(visitor) == [("www.example.test", "/", own)]


def test_refusal_removes_a_tracker_cookie_set_on_the_parent_domain(
    sites: tuple[BrowserContext, BrowserContext, str],
) -> None:
    """B14: Google's tag writes `_ga` for the registrable domain (`Domain=example.test`),
    not the host. After a withdrawal the browser must hold no `_ga` on any domain: the
    server expires it host-only and on each parent domain."""
    visitor, _, port = sites
    www = f"http://www.example.test:{port}"
    page = visitor.new_page()
    page.goto(f"{www}/")
    page.get_by_role("button", name="Accept all").first.click()
    expect(page.locator("[data-consent-banner]")).to_have_count(0)
    # The example's tag has run and set its own `_ga` (host-only) before the withdrawal:
    # had it loaded after it, it would set one the withdrawal never saw.
    page.wait_for_function("() => window.exampleGoogleTag && document.cookie.includes('_ga=')")
    # What gtag.js does on its first run, for the site's registrable domain.
    page.evaluate(
        "() => { document.cookie = '_ga=GA1.1.42.1700000000; Domain=example.test; Path=/;"
        " Max-Age=63072000'; document.cookie = '_ga_ABC=GS1.1; Domain=example.test; Path=/' }"
    )
    names = {(c["name"], c["domain"].lstrip(".")) for c in visitor.cookies()}
    assert ("_ga", "example.test") in names

    status = page.evaluate(
        "() => fetch('/consent', {method: 'POST', headers: {'content-type':"
        " 'application/json'}, body: JSON.stringify({action: 'reject_all'})})"
        ".then(r => r.status)"
    )
    assert status == 200
    left = [c for c in visitor.cookies() if c["name"].startswith("_ga")]
    assert left == []
    # A later page view finds none either (and nothing recreated them: the tag is gated).
    page.goto(f"{www}/articles/india-japan-vision")
    assert [c for c in visitor.cookies() if c["name"].startswith("_ga")] == []
