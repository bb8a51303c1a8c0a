"""Real shared caches: Debian's Varnish 7 and nginx, from the files `consent edge` prints,
on loopback in front of uvicorn (tests/edge_site.py counts the origin's renders).

Every page any visitor gets is checked against that visitor's own consent: banner if and
only if undecided, analytics and marketing active only where granted. Checklist items:
A1, A2 (nothing optional before a choice), B13 (withdrawal), D4 (GPC).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx2 as httpx
import pytest

from consent.edge import nginx_conf, varnish_vcl
from tests.conftest import unavailable
from tests.edges import EDGES, Browser, Edge, Gating, edge, gating_of, renders
from tests.servers import uvicorn_process

CHOICES: dict[str, dict[str, Any] | None] = {
    "undecided": None,
    "reject": {"action": "reject_all"},
    "accept": {"action": "accept_all"},
    "analytics": {"action": "save", "grant": ["analytics"]},
}
EXPECTED = {
    "undecided": Gating(True, False, False),
    "reject": Gating(False, False, False),
    "accept": Gating(False, True, True),
    "analytics": Gating(False, True, False),
}
PAGES = 12


def _need(kind: str) -> None:
    if not os.access(EDGES[kind], os.X_OK):
        unavailable(f"{EDGES[kind]} is missing: apt-get install varnish nginx (CI does)")


class Site(NamedTuple):
    origin: str
    edge: Edge
    client: httpx.Client


@pytest.fixture(params=sorted(EDGES))
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    kind = request.param
    _need(kind)
    shared = getattr(request, "param_shared", "1")
    with uvicorn_process("tests.edge_site:app", EDGE_SHARED_CACHE=shared) as origin:
        backend = origin.url.removeprefix("http://")
        with edge(kind, backend, tmp_path) as running:
            with httpx.Client(base_url=running.url, timeout=30) as client:
                yield Site(origin.url, running, client)


def visitor(site: Site, group: str, gpc: bool = False) -> Browser:
    """A visitor who reads a page first (the banner), then decides through the edge."""
    browser = Browser(site.client, gpc=gpc)
    page = browser.get("/news/0")
    assert gating_of(page.text).banner
    choice = CHOICES[group]
    if choice is not None:
        assert browser.post("/consent", json=choice).status_code == 200
    return browser


def check(browser: Browser, group: str, n: int, gpc: bool = False) -> httpx.Response:
    response = browser.get(f"/news/{n}")
    assert response.status_code == 200
    assert f"<h1>News {n}</h1>" in response.text
    expected = EXPECTED[group]
    if gpc:
        expected = expected._replace(marketing=False)
    assert gating_of(response.text) == expected, (group, response.headers)
    return response


def test_the_generated_files_are_valid(tmp_path: Path) -> None:
    """`varnishd -C` compiles the VCL, `nginx -t` accepts the configuration."""
    for kind in EDGES:
        _need(kind)
    vcl = tmp_path / "edge.vcl"
    vcl.write_text(varnish_vcl("127.0.0.1:8000", cookie_name="__Host-consent", path="/c"))
    subprocess.run(
        ["/usr/sbin/varnishd", "-j", "none", "-C", "-f", str(vcl), "-n", str(tmp_path / "v")],
        check=True,
        capture_output=True,
    )
    (tmp_path / "cache").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf("127.0.0.1:8000", "127.0.0.1:8080", str(tmp_path / "cache")))
    subprocess.run(
        [
            *("/usr/sbin/nginx", "-t", "-c", str(conf), "-p", str(tmp_path)),
            *("-e", str(tmp_path / "error.log"), "-g", f"pid {tmp_path / 'nginx.pid'};"),
        ],
        check=True,
        capture_output=True,
    )


def test_visitors_of_four_groups_get_their_own_pages_mostly_from_the_cache(site: Site) -> None:
    """A1, A2: dozens of visitors, each page checked against its reader's consent; after
    warm-up, at least 90 % of page views are served without an origin render."""
    visitors = [(group, visitor(site, group)) for group in CHOICES for _ in range(6)]
    for group, browser in visitors[::6]:  # warm-up: one visitor per group reads every page
        for n in range(PAGES):
            check(browser, group, n)
    before = renders(site.origin)
    views = 0
    for group, browser in visitors:
        for n in range(PAGES):
            check(browser, group, n)
            views += 1
    rendered = renders(site.origin) - before
    assert views == 24 * PAGES
    assert rendered <= views // 10, (rendered, views)


def test_mixed_cookies_never_poison_the_cache(site: Site) -> None:
    """A visitor holding a reject cookie and an accept visitor's variant cookie (and every
    other mix) gets the page of their own cookie from the origin, and nothing is stored
    for it: the genuine visitors of both variants still get their own pages afterwards."""
    people = {group: visitor(site, group) for group in CHOICES}
    n = 1000
    for owner, browser in people.items():
        for other, lender in people.items():
            if other == owner:
                continue
            n += 1
            mixed = Browser(site.client)
            mixed.cookies = {k: v for k, v in browser.cookies.items() if k == "consent"}
            if "consent_variant" in lender.cookies:
                mixed.cookies["consent_variant"] = lender.cookies["consent_variant"]
            # A page no genuine visitor read yet: the edge must ask the origin.
            response = check(mixed, owner, n)
            assert "no-store" in response.headers.get("cache-control", "") or (
                mixed.cookies.get("consent_variant") == browser.cookies.get("consent_variant")
            )
            for group, genuine in people.items():
                check(genuine, group, n)
                check(genuine, group, n)  # (from the cache, now)
    # Several variant cookies at once: passed to the origin, whose answer is not stored.
    accept, reject = people["accept"], people["reject"]
    header = (
        f"consent={reject.cookies['consent']}; consent_variant={accept.cookies['consent_variant']}"
        f"; consent_variant={reject.cookies['consent_variant']}"
    )
    page = site.client.get("/news/1", headers={"cookie": header})
    assert gating_of(page.text) == EXPECTED["reject"]
    check(accept, "accept", 1)


def test_another_visitors_variant_cookie_never_serves_their_cached_page(site: Site) -> None:
    """A2: with the accept page in the cache, a reject cookie beside an accept visitor's
    variant cookie gets the reject page from the origin, not stored; so does another
    accept visitor's cookie beside it (same variant, not issued together); the genuine
    visitors still get their own pages, the accept one from the cache."""
    accept, reject, other = (visitor(site, g) for g in ("accept", "reject", "accept"))
    for _ in range(2):
        check(accept, "accept", 7)
    assert check(accept, "accept", 7).headers["x-consent-cache"] == "HIT"
    for owner, browser in (("reject", reject), ("accept", other)):
        mixed = Browser(site.client)
        mixed.cookies = {
            "consent": browser.cookies["consent"],
            "consent_variant": accept.cookies["consent_variant"],
        }
        before = renders(site.origin)
        response = check(mixed, owner, 7)
        assert renders(site.origin) == before + 1  # asked the origin
        assert "no-store" in response.headers["cache-control"]
        assert mixed.cookies["consent_variant"] == browser.cookies["consent_variant"]
    assert check(accept, "accept", 7).headers["x-consent-cache"] == "HIT"
    check(reject, "reject", 7)
    check(other, "accept", 7)


def test_a_variant_cookie_planted_alone_gets_the_banner(site: Site) -> None:
    """A1, A2: cookie tossing from a sibling sub-domain: an undecided visitor given an
    accept visitor's variant cookie (and no consent cookie) gets the undecided page, banner
    shown and nothing optional active, even while the cache holds the accept page; the
    planted cookie is expired and nothing is stored for it."""
    accept = visitor(site, "accept")
    for _ in range(2):
        check(accept, "accept", 8)
    planted = Browser(site.client)
    planted.cookies = {"consent_variant": accept.cookies["consent_variant"]}
    response = check(planted, "undecided", 8)
    assert "no-store" in response.headers["cache-control"]
    assert "consent_variant" not in planted.cookies  # expired
    check(planted, "undecided", 8)
    assert check(accept, "accept", 8).headers["x-consent-cache"] == "HIT"


def test_a_crafted_variant_cookie_beside_a_visitors_own_names_nothing(site: Site) -> None:
    """A2: a sibling sub-domain that knows the accept variant but not the victim's consent
    cookie tosses variant cookies built to fool the edges' comparison (a `#` like the one
    they join on, a bare variant name, a guessed or short tag): the victim keeps getting the
    reject page while the cache holds the accept one."""
    accept, victim = visitor(site, "accept"), visitor(site, "reject")
    for _ in range(2):
        check(accept, "accept", 9)
    name = accept.cookies["consent_variant"].partition(".")[0]
    tag = accept.cookies["consent_variant"].partition(".")[2]
    crafted = [
        name,
        f"{name}.",
        f"{name}.AAAAAAAA",
        f"{tag}#{name}.{tag}",
        f"{name}.{tag}#{name}.{tag}",
        f"{name}.{tag[:-1]}",
        f"{name}.{victim.cookies['consent'][-7:]}",
    ]
    for marker in crafted:
        tossed = Browser(site.client)
        tossed.cookies = {"consent": victim.cookies["consent"], "consent_variant": marker}
        response = check(tossed, "reject", 9)
        assert "no-store" in response.headers["cache-control"], marker
    assert check(accept, "accept", 9).headers["x-consent-cache"] == "HIT"
    check(victim, "reject", 9)


def test_a_revision_bump_serves_no_old_variant_as_decided(site: Site) -> None:
    """After a deploy that bumps the policy's revision and the purge docs/caching.md asks
    for, a visitor who decided before sees the banner again (undecided), whatever variant
    cookie they hold, and deciding again gives pages of the new revision."""
    people = {group: visitor(site, group) for group in CHOICES}
    for group, browser in people.items():
        check(browser, group, 2)
    httpx.post(site.origin + "/_bump")
    site.edge.purge()
    for group, browser in people.items():
        kept = dict(browser.cookies)
        response = check(browser, "undecided", 2)  # the old choice no longer counts
        if group != "undecided":
            assert "no-store" in response.headers["cache-control"]
            assert "consent_variant" not in browser.cookies  # expired
        browser.cookies = kept  # the old variant cookie again: still the banner
        check(browser, "undecided", 3)
    renewed = visitor(site, "accept")
    check(renewed, "accept", 2)
    check(renewed, "accept", 2)


def test_gpc_visitors_have_their_opt_out_gated_and_others_do_not(site: Site) -> None:
    """D4, B13: under `Sec-GPC: 1` marketing (gpc_opt_out) stays gated, even for a visitor
    who accepted all; a visitor without the signal still gets marketing."""
    plain = visitor(site, "accept")
    signal = visitor(site, "accept", gpc=True)
    undecided = Browser(site.client, gpc=True)
    for n in (4, 4, 5, 5):
        check(plain, "accept", n)
        check(signal, "accept", n, gpc=True)
        check(undecided, "undecided", n)


@pytest.mark.parametrize("kind", sorted(EDGES))
def test_without_shared_cache_nothing_is_cached_per_consent(kind: str, tmp_path: Path) -> None:
    """Without the option, a decided visitor's pages all come from the origin (they vary
    on the Cookie header, and name no variant)."""
    _need(kind)
    with uvicorn_process("tests.edge_site:app", EDGE_SHARED_CACHE="0") as origin:
        with edge(kind, origin.url.removeprefix("http://"), tmp_path) as running:
            with httpx.Client(base_url=running.url, timeout=30) as client:
                site = Site(origin.url, running, client)
                browser = visitor(site, "accept")
                before = renders(origin.url)
                for _ in range(5):
                    response = check(browser, "accept", 6)
                    assert "consent-variant" not in response.headers
                assert renders(origin.url) - before == 5
