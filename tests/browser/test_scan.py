"""`consent scan` end to end in Chromium: the leaky fixture site (every planted case found,
nothing else), the example app (clean), banners that need a selector, an unreachable site.

The scans run in a worker thread: the browser fixtures keep Playwright's event loop in the
main thread, where the scanner's `asyncio.run` would refuse to start. Host names
`tracker.test` and `cdn.test` are mapped to loopback; nothing leaves the machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from consent.cli import main
from consent.policy import load_policy
from consent.scan import Classifier, ScanResult, find, render
from consent.scan.crawl import ScanOptions, run_scan
from tests.browser.conftest import CHROMIUM, ROOT, NewPage
from tests.conftest import unavailable
from tests.servers import free_port, uvicorn_process

T = TypeVar("T")
LEAKY_POLICY = ROOT / "tests" / "scan_site" / "consent.toml"
HOSTS = "--host-resolver-rules=MAP tracker.test 127.0.0.1, MAP cdn.test 127.0.0.1"
FAST = ["--time-limit", "30", "--settle", "1", f"--browser-arg={HOSTS}"]


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser the scanner drives; the same rule as the other browser tests."""
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium (CI does)"
        unavailable(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def leaky() -> Iterator[str]:
    with uvicorn_process("tests.scan_site.app:app") as (url, _):
        yield url


def in_thread(call: Callable[[], T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def scan_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = in_thread(lambda: main(["scan", *args]))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def leaky_result(chromium: str, leaky: str) -> ScanResult:
    options = ScanOptions(
        url=leaky + "/",
        pages=5,
        time_limit=30,
        settle=1,
        browser=chromium,
        browser_args=(HOSTS,),
        policy=str(LEAKY_POLICY),
    )
    return in_thread(lambda: run_scan(options))


def leaky_findings(result: ScanResult) -> set[tuple[str, str | None, str, str]]:
    classifier = Classifier(load_policy(LEAKY_POLICY))
    return {(f.code, f.phase, f.kind, f.subject) for f in find(result, classifier)}


def test_leaky_site_every_planted_case_is_found_and_nothing_else(leaky_result: ScanResult) -> None:
    assert leaky_findings(leaky_result) == {
        # 1. a Set-Cookie before any choice
        ("before-consent", "before", "cookie", "lk_stats"),
        # 2. document.cookie before any choice (from the tracker's script)
        ("before-consent", "before", "cookie", "lk_ad"),
        # 3. a localStorage key before any choice
        ("before-consent", "before", "storage", "lk_visitor"),
        # 4. requests to the tracker host before any choice
        ("before-consent", "before", "request", "tracker.test"),
        # 5. set before the choice and still there after "Reject all"
        ("before-consent", "before", "cookie", "lk_survivor"),
        ("after-refusal", "reject", "cookie", "lk_survivor"),
        # 6. undeclared, 7. misclassified, 8. stale
        ("undeclared", None, "cookie", "lk_newthing"),
        ("misclassified", None, "cookie", "_ga"),
        ("stale-declaration", None, "cookie", "lk_old_widget"),
    }


def _cookie(result: ScanResult, phase: str, name: str) -> Any:
    inventory = result.phases[phase]  # type: ignore[index]
    return next(c for c in inventory.cookies if c.name == name)


def test_leaky_site_who_set_each_cookie(leaky_result: ScanResult, leaky: str) -> None:
    ad = _cookie(leaky_result, "before", "lk_ad")
    assert (ad.set_by, ad.source) == (
        "javascript",
        leaky.replace("127.0.0.1", "tracker.test") + "/t.js",
    )
    stats = _cookie(leaky_result, "before", "lk_stats")
    assert (stats.set_by, stats.source, stats.page) == ("http", leaky + "/", leaky + "/")
    session = _cookie(leaky_result, "before", "session_id")
    assert session.http_only and session.expires is None and session.same_site == "Lax"
    choice = _cookie(leaky_result, "reject", "leaky_consent")
    assert (choice.set_by, choice.source, choice.survived) == ("http", leaky + "/choice", False)
    assert _cookie(leaky_result, "reject", "lk_survivor").survived


def test_leaky_site_inventories(leaky_result: ScanResult, leaky: str) -> None:
    before, reject, accept = (leaky_result.phases[p] for p in ("before", "reject", "accept"))
    assert before.pages == [leaky + "/", leaky + "/a", leaky + "/b"]  # not the PDF, not elsewhere
    assert reject.control == 'button "Alle ablehnen"'
    assert accept.control == 'button "Alle akzeptieren"'
    assert {(s.area, s.key) for s in before.storage} == {
        ("localStorage", "lk_visitor"),
        ("sessionStorage", "lk_tab"),
    }
    assert {r.host for r in before.requests} == {"tracker.test", "cdn.test"}
    assert {r.host for r in reject.requests} == {"cdn.test"}
    pixel = next(r for r in before.requests if r.url.endswith("/pixel.gif"))
    assert (pixel.resource_type, pixel.page) == ("image", leaky + "/")
    external = {s.url.rsplit("/", 1)[-1] for s in before.scripts if s.url}
    assert external == {"t.js", "lib.js"}
    inline = [s.snippet for s in before.scripts if s.sha256]
    assert any("localStorage.setItem('lk_visitor'" in s for s in inline)
    assert {c.name for c in accept.cookies} >= {"lk_newthing", "leaky_consent", "lk_ad"}
    assert before.notes == reject.notes == accept.notes == []


def test_leaky_report_opens_without_fetching_anything(
    leaky_result: ScanResult, new_page: NewPage, tmp_path: Path
) -> None:
    classifier = Classifier(load_policy(LEAKY_POLICY))
    html = render(leaky_result, find(leaky_result, classifier), classifier, "html")
    report = tmp_path / "scan.html"
    report.write_text(html, encoding="utf-8")
    page = new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    assert requests == [report.as_uri()]
    rows = page.locator("[data-table=findings] tbody tr")
    assert rows.count() == 9
    assert page.locator("[data-count=violation]").inner_text() == "6"
    assert page.locator("#phase-reject [data-table=cookies] tr[data-name=lk_survivor]").count() == 1


def test_example_app_comes_out_clean(
    chromium: str, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = ROOT / "examples" / "consent.toml"
    args = [server + "/", "--policy", str(policy), "--pages", "5", "--format", "json", *FAST]
    code, out, err = scan_cli(args, capsys)
    data = json.loads(out)
    assert (code, err) == (0, "")
    assert data["summary"]["violation"] == 0 and data["summary"]["error"] == 0
    # Only declarations the crawl cannot reach: log-in cookies, tags that set fewer cookies
    # than the real services, an ad tag the example does not load.
    stale = {f["subject"] for f in data["findings"]}
    assert {f["code"] for f in data["findings"]} == {"stale-declaration"}
    assert stale == {
        "PHPSESSID",
        "wordpress_logged_in_*",
        "wordpress_sec_*",
        "_pk_ses.*",
        "_ga_*",
        "_gcl_au",
        "VISITOR_INFO1_LIVE",
    }
    phases = data["phases"]
    assert [c["name"] for c in phases["before"]["cookies"]] == ["wordpress_test_cookie"]
    assert {c["name"] for c in phases["reject"]["cookies"]} == {"consent", "wordpress_test_cookie"}
    accepted = {c["name"]: c for c in phases["accept"]["cookies"]}
    assert set(accepted) == {"consent", "wordpress_test_cookie", "_ga", "_pk_id.1", "YSC"}
    assert accepted["_ga"]["set_by"] == "javascript"
    assert accepted["_ga"]["source"] == server + "/static/gtag.js"
    assert accepted["consent"]["set_by"] == "http"
    assert accepted["consent"]["classification"] == "essential (the consent cookie)"
    assert all(not p["requests"] for p in phases.values())  # nothing to other hosts


def test_banner_without_known_labels_needs_selectors(
    chromium: str, leaky: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = [leaky + "/custom", "--pages", "1", "--format", "json", "--fail-on", "error", *FAST]
    # No reject selector: the labels of every language are tried in vain. A broken accept
    # selector: reported, not a crash.
    code, out, _ = scan_cli([*base, "--accept-selector", "[[broken"], capsys)
    data = json.loads(out)
    assert code == 1
    found = [(f["code"], f["evidence"]) for f in data["findings"]]
    assert found == [
        (
            "no-reject-control",
            f"looked for a button named in the page's language on {leaky}/custom",
        ),
        ("no-accept-control", found[1][1]),
    ]
    assert found[1][1].startswith("the selector '[[broken' failed: ")
    assert data["phases"]["reject"]["ran"] is False
    assert data["phases"]["reject"]["cookies"] == []

    selectors = ["--reject-selector", "#cmp-no", "--accept-selector", "#cmp-yes"]
    code, out, _ = scan_cli([*base, *selectors], capsys)
    data = json.loads(out)
    assert (code, data["findings"]) == (0, [])
    reject = data["phases"]["reject"]
    assert reject["control"] == "selector #cmp-no"
    assert "leaky_consent" in {c["name"] for c in reject["cookies"]}
    # The refusal worked: the tracker is gone after it.
    assert {r["host"] for r in reject["requests"]} == {"cdn.test"}


def test_unreachable_site_exits_2(chromium: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    code, out, err = scan_cli([url, *FAST], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"consent scan: cannot open {url}: ") and "ERR_CONNECTION_REFUSED" in err
