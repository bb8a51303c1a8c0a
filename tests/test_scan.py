"""The cookie scanner without a browser: classification, findings, suggestions, the three
output formats and the command line (with the crawl replaced by recorded inventories).

The browser half is tests/browser/test_scan.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import html5lib
import pytest

from consent.cli import main
from consent.policy import Policy, load_policy, read_policy_data
from consent.scan import (
    Classifier,
    Inventory,
    ScanResult,
    SeenCookie,
    SeenRequest,
    SeenScript,
    SeenStorage,
    find,
    render,
    suggest,
)
from consent.scan import cli as scan_cli
from consent.scan.crawl import ScanError, ScanOptions, run_scan
from consent.scan.findings import exit_code
from consent.scan.recorder import script_url
from consent.scan.suggest import duration_text
from tests.conftest import run_async, unavailable

ROOT = Path(__file__).resolve().parents[1]
LEAKY_POLICY = ROOT / "tests" / "scan_site" / "consent.toml"
EXAMPLE_POLICY = ROOT / "examples" / "consent.toml"
SITE = "http://shop.test"
STARTED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = STARTED.timestamp()
DAY = 86400.0


def cookie(name: str, **fields: Any) -> SeenCookie:
    values: dict[str, Any] = {
        "name": name,
        "domain": "shop.test",
        "path": "/",
        "expires": NOW + 30 * DAY,
        "http_only": False,
        "secure": False,
        "same_site": "Lax",
        "set_by": "http",
        "source": SITE + "/",
        "page": SITE + "/",
    }
    values.update(fields)
    return SeenCookie(**values)


def storage(key: str, area: str = "localStorage", survived: bool = False) -> SeenStorage:
    return SeenStorage(area, SITE, key, SITE + "/", survived)  # type: ignore[arg-type]


def request(url: str, count: int = 1) -> SeenRequest:
    return SeenRequest(url, "script", SITE + "/", count)


def result(
    before: Inventory | None = None,
    reject: Inventory | None = None,
    accept: Inventory | None = None,
) -> ScanResult:
    pages = [SITE + "/"]
    return ScanResult(
        url=SITE + "/",
        started=STARTED,
        seconds=4.2,
        browser="Chromium 1.0",
        policy="consent.toml",
        phases={
            "before": before or Inventory("before", pages),
            "reject": reject or Inventory("reject", pages, control='button "Reject all"'),
            "accept": accept or Inventory("accept", pages, control='button "Accept all"'),
        },
    )


def leaky_like() -> ScanResult:
    """What the scan of tests/scan_site records, written out by hand."""
    before = Inventory(
        "before",
        [SITE + "/", SITE + "/a"],
        cookies=[
            cookie("session_id", expires=None, http_only=True),
            cookie("lk_stats"),
            cookie("lk_ad", set_by="javascript", source="http://tracker.test/t.js"),
            cookie("lk_survivor"),
            cookie("_ga", page=SITE + "/a"),
        ],
        storage=[storage("lk_visitor"), storage("lk_tab", "sessionStorage")],
        requests=[request("http://tracker.test/t.js", 2), request("http://cdn.test/lib.js")],
        scripts=[SeenScript(SITE + "/", url="http://tracker.test/t.js")],
    )
    reject = Inventory(
        "reject",
        [SITE + "/", SITE + "/a"],
        cookies=[
            cookie("session_id", expires=None, survived=True),
            cookie("leaky_consent", source=SITE + "/choice"),
            cookie("lk_survivor", survived=True),
            cookie("_ga"),
        ],
        storage=[storage("lk_tab", "sessionStorage", survived=True)],
        requests=[request("http://cdn.test/lib.js")],
        control='button "Alle ablehnen"',
    )
    accept = Inventory(
        "accept",
        [SITE + "/", SITE + "/a"],
        cookies=[*before.cookies, cookie("leaky_consent"), cookie("lk_newthing")],
        storage=list(before.storage),
        requests=list(before.requests),
        control='button "Alle akzeptieren"',
    )
    return result(before, reject, accept)


def leaky_policy() -> Policy:
    return load_policy(LEAKY_POLICY)


def example_policy() -> Policy:
    return load_policy(EXAMPLE_POLICY)


def keys(findings: Any) -> set[tuple[str, str | None, str, str]]:
    return {(f.code, f.phase, f.kind, f.subject) for f in findings}


# --- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "allowed", "category", "label"),
    [
        ("consent", True, None, "essential (the consent cookie)"),
        ("PHPSESSID", True, "essential", "essential (php-session)"),
        ("wordpress_logged_in_abc", True, "essential", "essential (wordpress)"),
        ("_pk_id.1", False, "analytics", "analytics (matomo)"),
        ("_ga", False, "analytics", "analytics (google-analytics)"),
        ("_ga_XYZ", False, "analytics", "analytics (google-analytics)"),
        ("YSC", False, "marketing", "marketing (youtube)"),
        ("cart_id", False, None, "undeclared"),
        ("_fbp", False, None, "undeclared; known: Marketing (Facebook)"),
    ],
)
def test_classify_name_with_policy(
    name: str, allowed: bool, category: str | None, label: str
) -> None:
    verdict = Classifier(example_policy()).name(name)
    assert verdict.allowed is allowed
    assert (verdict.declared.category if verdict.declared else None) == category
    assert verdict.label == label
    assert verdict.contradiction is None


def test_classify_exact_rule_beats_prefix_and_longer_prefix_beats_shorter() -> None:
    policy = Policy.model_validate(
        {
            "categories": [
                {"id": "essential", "title": "E", "required": True},
                {"id": "ads", "title": "A"},
            ],
            "services": [
                {"id": "broad", "category": "ads", "title": "B", "cookies": [{"name": "app_*"}]},
                {
                    "id": "narrow",
                    "category": "essential",
                    "title": "N",
                    "cookies": [{"name": "app_sess*"}],
                },
                {
                    "id": "exact",
                    "category": "ads",
                    "title": "X",
                    "cookies": [{"name": "app_session"}],
                },
            ],
        }
    )
    classifier = Classifier(policy)
    assert classifier.name("app_session").declared.service == "exact"  # type: ignore[union-attr]
    assert classifier.name("app_sessions").declared.service == "narrow"  # type: ignore[union-attr]
    assert classifier.name("app_other").declared.service == "broad"  # type: ignore[union-attr]


def test_classify_consent_cookie_name_is_configurable() -> None:
    classifier = Classifier(example_policy(), consent_cookie="cmp_choice")
    assert classifier.name("cmp_choice").consent_cookie
    assert not classifier.name("consent").allowed
    # A storage key is never the consent cookie.
    assert not classifier.name("cmp_choice", cookie=False).consent_cookie


def test_classify_required_declaration_known_as_tracking_is_a_contradiction() -> None:
    verdict = Classifier(leaky_policy()).name("_ga")
    assert verdict.allowed  # the policy's word decides what may be set...
    assert verdict.contradiction is not None  # ...and the catalog disagrees
    assert verdict.contradiction.category == "Analytics"
    assert verdict.label == "essential (misfiled); known: Analytics (Google Analytics)"


def test_classify_cookie_of_an_essential_preset_is_trusted() -> None:
    """Django's `sessionid` is also an Instagram cookie in the catalog; the preset wins."""
    policy = Policy.model_validate(
        {
            "categories": [{"id": "essential", "title": "E", "required": True}],
            "services": [{"id": "django", "preset": "django"}],
        }
    )
    assert Classifier(policy).name("sessionid").contradiction is None
    own = Policy.model_validate(
        {
            "categories": [{"id": "essential", "title": "E", "required": True}],
            "services": [
                {
                    "id": "mine",
                    "category": "essential",
                    "title": "M",
                    "cookies": [{"name": "sessionid"}],
                }
            ],
        }
    )
    assert Classifier(own).name("sessionid").contradiction is not None


@pytest.mark.parametrize(
    ("name", "allowed"),
    [("_ga", False), ("_fbp", False), ("cart_id", True), ("PHPSESSID", True), ("consent", True)],
)
def test_classify_without_policy_uses_the_catalog(name: str, allowed: bool) -> None:
    assert Classifier(None).name(name).allowed is allowed


@pytest.mark.parametrize(
    ("host", "allowed", "label"),
    [
        ("tracker.test", False, "marketing (tracker)"),
        ("cdn.test", True, "not in the policy"),
        (
            "www.google-analytics.com",
            False,
            "not in the policy; known: Analytics (Google Analytics 4)",
        ),
        ("ad.doubleclick.net", False, "not in the policy; known: Marketing (Google DoubleClick)"),
        ("widget.intercom.io", True, "not in the policy; known: Functional (Intercom)"),
    ],
)
def test_classify_host(host: str, allowed: bool, label: str) -> None:
    verdict = Classifier(leaky_policy()).host(host)
    assert (verdict.allowed, verdict.label) == (allowed, label)


def test_classify_host_wildcard_and_contradiction() -> None:
    policy = Policy.model_validate(
        {
            "categories": [{"id": "essential", "title": "E", "required": True}],
            "services": [
                {"id": "cdn", "category": "essential", "title": "C", "hosts": ["*.static.test"]},
                {
                    "id": "tags",
                    "category": "essential",
                    "title": "T",
                    "hosts": ["www.googletagmanager.com"],
                },
            ],
        }
    )
    classifier = Classifier(policy)
    assert classifier.host("img.static.test").declared is not None
    assert classifier.host("static.test").declared is None
    tags = classifier.host("www.googletagmanager.com")
    assert tags.allowed and tags.contradiction is not None


# --- findings ------------------------------------------------------------------------------


def test_findings_of_the_leaky_site() -> None:
    findings = find(leaky_like(), Classifier(leaky_policy()))
    assert keys(findings) == {
        ("before-consent", "before", "cookie", "lk_stats"),
        ("before-consent", "before", "cookie", "lk_ad"),
        ("before-consent", "before", "cookie", "lk_survivor"),
        ("before-consent", "before", "storage", "lk_visitor"),
        ("before-consent", "before", "request", "tracker.test"),
        ("after-refusal", "reject", "cookie", "lk_survivor"),
        ("undeclared", None, "cookie", "lk_newthing"),
        ("misclassified", None, "cookie", "_ga"),
        ("stale-declaration", None, "cookie", "lk_old_widget"),
    }
    # The most severe first.
    assert [f.level for f in findings] == ["violation"] * 6 + ["error"] * 2 + ["warning"]
    tracker = next(f for f in findings if f.kind == "request")
    assert tracker.message == (
        "2 request(s) to tracker.test (declared marketing by service 'tracker') before any choice"
    )
    assert tracker.evidence == f"first http://tracker.test/t.js (script) from {SITE}/"
    ad = next(f for f in findings if f.subject == "lk_ad")
    assert "set by javascript http://tracker.test/t.js" in ad.evidence


def test_after_refusal_tells_survivors_from_new_cookies() -> None:
    reject = Inventory(
        "reject",
        [SITE + "/"],
        cookies=[cookie("_pk_id.1", survived=True), cookie("_ga", survived=False)],
        storage=[storage("_ga_store", survived=True)],
        control="x",
    )
    policy = Policy.model_validate(
        {
            **read_policy_data(EXAMPLE_POLICY),
            "services": [
                *read_policy_data(EXAMPLE_POLICY)["services"],
                {
                    "id": "store",
                    "category": "analytics",
                    "title": "S",
                    "cookies": [{"name": "_ga_store"}],
                },
            ],
        }
    )
    findings = {f.subject: f for f in find(result(reject=reject), Classifier(policy))}
    assert findings["_pk_id.1"].message.endswith('is still there after "Reject all"')
    assert findings["_pk_id.1"].fix.startswith("delete it when the visitor refuses")
    assert findings["_ga"].message.endswith('is set after "Reject all"')
    assert findings["_ga"].fix.startswith("create the cookie only once the visitor allows")
    assert findings["_ga_store"].message.endswith('is still there after "Reject all"')


def test_undeclared_cookie_before_consent_is_a_violation_and_undeclared() -> None:
    before = Inventory("before", [SITE + "/"], cookies=[cookie("cart_id")])
    found = keys(find(result(before), Classifier(example_policy())))
    assert ("before-consent", "before", "cookie", "cart_id") in found
    assert ("undeclared", None, "cookie", "cart_id") in found


def test_missing_controls_are_errors_and_skip_stale_declarations() -> None:
    reject = Inventory("reject", control="", notes=["looked for a button"])
    accept = Inventory("accept", control="")
    findings = find(result(reject=reject, accept=accept), Classifier(leaky_policy()))
    assert [(f.code, f.level, f.phase) for f in findings] == [
        ("no-reject-control", "error", "reject"),
        ("no-accept-control", "error", "accept"),
    ]
    assert findings[0].evidence == "looked for a button"


def test_without_policy_only_known_trackers_are_violations() -> None:
    before = Inventory(
        "before",
        [SITE + "/"],
        cookies=[cookie("_ga"), cookie("cart_id")],
        requests=[
            request("https://connect.facebook.net/en_US/fbevents.js"),
            request("https://cdn.test/x.js"),
        ],
    )
    findings = find(result(before), Classifier(None))
    assert keys(findings) == {
        ("before-consent", "before", "cookie", "_ga"),
        ("before-consent", "before", "request", "connect.facebook.net"),
    }


def test_clean_scan_has_no_findings() -> None:
    assert find(result(), Classifier(None)) == []


@pytest.mark.parametrize(
    ("levels", "fail_on", "code"),
    [
        ([], "violation", 0),
        (["warning", "error"], "violation", 0),
        (["error"], "error", 1),
        (["warning"], "error", 0),
        (["warning"], "warning", 1),
        (["violation"], "violation", 1),
    ],
)
def test_exit_code(levels: list[str], fail_on: Any, code: int) -> None:
    findings = find(leaky_like(), Classifier(leaky_policy()))
    chosen = [next(f for f in findings if f.level == level) for level in levels]
    assert exit_code(chosen, fail_on) == code


# --- suggestions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "session"),
        (5, "1 minute"),
        (30 * 60, "30 minutes"),
        (3600, "1 hour"),
        (36 * 3600, "36 hours"),
        (7 * DAY, "7 days"),
        (45 * DAY, "45 days"),
        (90 * DAY, "3 months"),
        (365 * DAY - 5, "1 year"),
        (395 * DAY, "13 months"),
        (2 * 365 * DAY, "2 years"),
    ],
)
def test_duration_text(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text


def test_suggest_entries_paste_into_the_policy() -> None:
    scanned = leaky_like()
    scanned.phases["accept"].cookies += [
        cookie("_ga_ABC123", expires=NOW + 395 * DAY),
        cookie(
            "_fbp",
            expires=NOW + 90 * DAY,
            set_by="javascript",
            source="https://connect.facebook.net/x.js",
        ),
    ]
    scanned.phases["accept"].storage += [storage("cart"), storage("not a name")]
    classifier = Classifier(leaky_policy())
    text = suggest(scanned, classifier, NOW)
    entries = tomllib.loads(text)["services"]
    by_title = {e["title"]: e for e in entries}
    assert by_title["shop.test"]["cookies"] == [
        {"name": "lk_newthing", "purpose": "", "duration": "1 month"},
        {"name": "cart", "purpose": "", "duration": "1 year"},
    ]
    assert by_title["Google Analytics"]["cookies"] == [
        {"name": "_ga_*", "purpose": "", "duration": "13 months"}
    ]
    assert by_title["Google Analytics"]["category"] == "analytics"
    assert by_title["Facebook"]["category"] == "marketing"
    assert by_title["shop.test"]["category"] == "analytics"  # unknown: the first optional one
    assert "# Not a valid cookie name, declare it by hand: 'not a name'" in text
    assert "set by javascript https://connect.facebook.net/x.js" in text
    # Pasted at the end of the policy file, it loads, and the scan then finds them declared.
    data = read_policy_data(LEAKY_POLICY)
    merged = Policy.model_validate({**data, "services": [*data["services"], *entries]})
    after = {f.subject for f in find(scanned, Classifier(merged)) if f.code == "undeclared"}
    assert after == {"not a name"}


def test_suggest_avoids_ids_already_in_the_policy() -> None:
    before = Inventory("before", [SITE + "/"], cookies=[cookie("_gid")])
    text = suggest(result(before), Classifier(example_policy()), NOW)
    (entry,) = tomllib.loads(text)["services"]
    assert entry["id"] == "google-analytics-2"  # the example policy has google-analytics


def test_suggest_nothing_when_everything_is_declared() -> None:
    before = Inventory("before", [SITE + "/"], cookies=[cookie("PHPSESSID"), cookie("consent")])
    assert suggest(result(before), Classifier(example_policy()), NOW) == ""


def test_suggest_without_policy_covers_every_cookie() -> None:
    before = Inventory("before", [SITE + "/"], cookies=[cookie("PHPSESSID"), cookie("cart_id")])
    entries = tomllib.loads(suggest(result(before), Classifier(None), NOW))["services"]
    assert {(e["title"], e["category"]) for e in entries} == {
        ("PHP.net", "essential"),
        ("shop.test", "analytics"),
    }


# --- output formats ------------------------------------------------------------------------


def test_render_text() -> None:
    scanned = leaky_like()
    classifier = Classifier(leaky_policy())
    text = render(scanned, find(scanned, classifier), classifier, "text", "# toml\n")
    lines = text.splitlines()
    assert lines[0] == f"consent scan of {SITE}/"
    assert 'After "Reject all", by button "Alle ablehnen"' in lines
    header = next(line for line in lines if line.strip().startswith("NAME"))
    assert header.split() == ["NAME", "DOMAIN", "PATH", "EXPIRES", "FLAGS", "SET", "BY", "CLASS"]
    row = next(line for line in lines if line.strip().startswith("session_id"))
    assert row.split()[3:6] == ["session", "HttpOnly", "SameSite=Lax"]
    assert "2026-03-31 (1 month)" in text
    assert (
        "  VIOLATION [before] before-consent: cookie 'lk_stats' (declared analytics by service "
        "'stats') is set before any choice." in lines
    )
    assert lines[-3:] == ["6 violation(s), 2 error(s), 1 warning(s)", "", "# toml"]


def test_render_text_clips_long_cells() -> None:
    long = SITE + "/" + "x" * 200
    before = Inventory("before", [SITE + "/"], cookies=[cookie("a", source=long)])
    text = render(result(before), [], Classifier(None), "text")
    row = next(line for line in text.splitlines() if line.strip().startswith("a "))
    assert "…" in row and long not in row and len(row) < 200
    assert "  none" in text.splitlines()  # no findings


def test_render_json() -> None:
    scanned = leaky_like()
    classifier = Classifier(leaky_policy())
    data = json.loads(render(scanned, find(scanned, classifier), classifier, "json"))
    assert data["summary"] == {"violation": 6, "error": 2, "warning": 1}
    assert data["started"] == "2026-03-01 12:00:00 UTC"
    assert "suggestions" not in data
    before = data["phases"]["before"]
    stats = next(c for c in before["cookies"] if c["name"] == "lk_stats")
    assert stats["classification"] == "analytics (stats)" and stats["allowed"] is False
    assert stats["declared"] == {
        "service": "stats",
        "category": "analytics",
        "required": False,
        "rule": "lk_stats",
    }
    assert stats["known"] is None
    ga = next(c for c in before["cookies"] if c["name"] == "_ga")
    assert ga["known"] == {
        "category": "Analytics",
        "platform": "Google Analytics",
        "tracking": True,
    }
    assert stats["set_by"] == "http" and stats["expires"] == NOW + 30 * DAY
    assert before["requests"][0]["host"] == "tracker.test"
    assert before["requests"][1]["allowed"] is True
    assert data["phases"]["reject"]["ran"] is True
    first = data["findings"][0]
    assert set(first) == {"code", "level", "kind", "subject", "phase", "message", "fix", "evidence"}


def test_render_html_is_self_contained_and_escaped() -> None:
    scanned = leaky_like()
    scanned.phases["before"].storage.append(storage("<img src=x onerror=alert(1)>"))
    classifier = Classifier(leaky_policy())
    html = render(scanned, find(scanned, classifier), classifier, "html", "# a & b\n")
    document = html5lib.parse(html, namespaceHTMLElements=False)
    assert document.findall(".//script") == []
    assert document.findall(".//img") == []
    assert all(not el.get("href") for el in document.iter())
    assert all(not el.get("src") for el in document.iter())
    rows = document.findall(".//table[@data-table='findings']/tbody/tr")
    assert [r.get("data-code") for r in rows][:6] == ["before-consent"] * 6
    # The nine of the leaky site, and the odd key: before consent, undeclared.
    assert len(rows) == 11
    assert document.find(".//dd[@data-count='violation']").text == "7"
    assert document.find(".//code[@data-suggestions]").text == "# a & b\n"
    reject = document.find(".//section[@data-phase='reject']")
    assert reject is not None
    assert "Alle ablehnen" in "".join(reject.itertext())


# --- the command line ----------------------------------------------------------------------


@pytest.fixture
def fake_scan(monkeypatch: pytest.MonkeyPatch) -> list[ScanOptions]:
    """Replace the browser by the recorded leaky inventories; collects the options used."""
    calls: list[ScanOptions] = []

    def run(options: ScanOptions) -> ScanResult:
        calls.append(options)
        return leaky_like()

    monkeypatch.setattr(scan_cli, "run_scan", run)
    return calls


def test_cli_violations_exit_1(
    fake_scan: list[ScanOptions], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["scan", SITE + "/", "--policy", str(LEAKY_POLICY)])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[-1] == "6 violation(s), 2 error(s), 1 warning(s)"
    (options,) = fake_scan
    assert (options.pages, options.time_limit, options.settle) == (10, 120.0, 3.0)
    assert options.policy == str(LEAKY_POLICY)


def test_cli_passes_its_options(
    fake_scan: list[ScanOptions], capsys: pytest.CaptureFixture[str]
) -> None:
    main(
        [
            "scan", SITE + "/", "--pages", "3", "--time-limit", "9.5", "--settle", "1",
            "--browser", "/opt/chrome", "--browser-arg=--host-resolver-rules=MAP a.test 127.0.0.1",
            "--browser-arg=--lang=de", "--reject-selector", "#no", "--accept-selector", "#yes",
            "--locale", "de-DE",
        ]
    )  # fmt: skip
    (options,) = fake_scan
    assert options == ScanOptions(
        url=SITE + "/",
        pages=3,
        time_limit=9.5,
        settle=1.0,
        browser="/opt/chrome",
        browser_args=("--host-resolver-rules=MAP a.test 127.0.0.1", "--lang=de"),
        reject_selector="#no",
        accept_selector="#yes",
        locale="de-DE",
        policy=None,
    )


def test_cli_without_policy_classifies_by_catalog(
    fake_scan: list[ScanOptions], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["scan", SITE + "/", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    # The leaky names are unknown to the catalog, `_ga` is not: it is the only violation.
    assert code == 1
    assert {(f["code"], f["subject"]) for f in data["findings"]} == {
        ("before-consent", "_ga"),
        ("after-refusal", "_ga"),
    }


@pytest.mark.parametrize(("fail_on", "code"), [("violation", 0), ("error", 1), ("warning", 1)])
def test_cli_fail_on(
    fail_on: str, code: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scanned = leaky_like()
    scanned.phases["before"] = Inventory("before", [SITE + "/"])
    scanned.phases["reject"] = Inventory("reject", [SITE + "/"], control="x")
    monkeypatch.setattr(scan_cli, "run_scan", lambda options: scanned)
    args = ["scan", SITE + "/", "--policy", str(LEAKY_POLICY), "--fail-on", fail_on]
    assert main(args) == code


def test_cli_writes_the_report_to_a_file(
    fake_scan: list[ScanOptions], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "scan.html"
    args = [
        "scan",
        SITE + "/",
        "--policy",
        str(LEAKY_POLICY),
        "--format",
        "html",
        "-o",
        str(target),
    ]
    assert main([*args, "--suggest"]) == 1
    out = capsys.readouterr().out
    assert out == f"6 violation(s), 2 error(s), 1 warning(s); the report is in {target}\n"
    html = target.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "name = &#34;lk_newthing&#34;" in html


def test_cli_suggest_in_text_and_json(
    fake_scan: list[ScanOptions], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["scan", SITE + "/", "--policy", str(LEAKY_POLICY), "--suggest"])
    text = capsys.readouterr().out
    pasted = tomllib.loads(text[text.index("# Suggested by") :])
    assert [c["name"] for s in pasted["services"] for c in s["cookies"]] == ["lk_newthing"]
    main(["scan", SITE + "/", "--policy", str(LEAKY_POLICY), "--suggest", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert tomllib.loads(data["suggestions"]) == pasted


@pytest.mark.parametrize(
    "url", ["example.com", "ftp://example.com/", "http://", "file:///etc/passwd"]
)
def test_cli_bad_url_exits_2(
    url: str, fake_scan: list[ScanOptions], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", url]) == 2
    assert "is not a web address" in capsys.readouterr().err
    assert fake_scan == []


def test_cli_bad_policy_exits_2(
    fake_scan: list[ScanOptions], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "consent.toml"
    bad.write_text("[[categories]]\nid = 'Bad Id'\ntitle = 'x'\n", encoding="utf-8")
    assert main(["scan", SITE + "/", "--policy", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("consent scan: ") and str(bad) in err and "'Bad Id'" in err
    assert main(["scan", SITE + "/", "--policy", str(tmp_path / "missing.toml")]) == 2
    assert "cannot be read" in capsys.readouterr().err
    assert fake_scan == []


def test_cli_scan_error_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(options: ScanOptions) -> ScanResult:
        raise ScanError("cannot open http://shop.test/: net::ERR_NAME_NOT_RESOLVED")

    monkeypatch.setattr(scan_cli, "run_scan", fail)
    assert main(["scan", SITE + "/"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err == "consent scan: cannot open http://shop.test/: net::ERR_NAME_NOT_RESOLVED\n"
    )


def test_cli_unwritable_output_exits_2(
    fake_scan: list[ScanOptions], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", SITE + "/", "-o", str(tmp_path / "no" / "such" / "dir.txt")]) == 2
    assert "cannot write" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["--pages", "0"],
        ["--pages", "many"],
        ["--time-limit", "-1"],
        ["--format", "xml"],
        ["--fail-on", "never"],
        [],  # no URL
    ],
)
def test_cli_argument_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    url = [SITE + "/"] if args else []
    with pytest.raises(SystemExit) as raised:
        main(["scan", *url, *args])
    assert raised.value.code == 2
    assert "usage: consent scan" in capsys.readouterr().err


def test_missing_playwright_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)
    with pytest.raises(
        ScanError, match=r"^Playwright is not installed: pip install 'asgi-consent\[scan\]'$"
    ):
        run_scan(ScanOptions(SITE + "/"))
    assert main(["scan", SITE + "/"]) == 2
    err = capsys.readouterr().err
    assert err == "consent scan: Playwright is not installed: pip install 'asgi-consent[scan]'\n"


def test_scan_from_code_that_runs_an_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_scan inside a running loop (a notebook) moves to a thread instead of failing."""
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)

    async def inside() -> str:
        try:
            run_scan(ScanOptions(SITE + "/"))
        except ScanError as exc:
            return str(exc)
        return "no error"

    assert run_async(inside()).startswith("Playwright is not installed")


def test_missing_browser_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        import playwright.async_api  # noqa: F401  (the scan itself imports it)
    except ImportError:
        unavailable("Playwright is not installed: pip install -e '.[scan]' (CI does)")
    missing = tmp_path / "no-chromium"
    assert main(["scan", SITE + "/", "--browser", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"cannot start the browser {missing}" in err and "--browser PATH" in err


def test_other_commands_work_without_playwright() -> None:
    """`consent check` must not need the scan extra: Playwright is imported by the crawl."""
    code = (
        "import sys; sys.modules['playwright'] = None\n"
        "from consent.cli import main\n"
        f"rc = main(['check', {str(EXAMPLE_POLICY)!r}])\n"
        "assert 'playwright' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "sys.exit(rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "0 error(s)" in done.stdout


@pytest.mark.parametrize(
    ("stack", "url"),
    [
        (
            "Error\n    at HTMLDocument.set [as cookie] (<anonymous>:14:46)\n"
            "    at https://cdn.test/t.js:1:17",
            "https://cdn.test/t.js",
        ),
        (
            "Error\n    at report (<anonymous>:5:7)\n    at Object.set (<anonymous>:1:2)\n"
            "    at handle (http://shop.test/static/gtag.js?v=2:18:23)\n"
            "    at http://shop.test/static/gtag.js?v=2:30:9",
            "http://shop.test/static/gtag.js?v=2",
        ),
        ("Error\n    at <anonymous>:1:1", "http://shop.test/page"),
    ],
)
def test_script_url_from_a_stack(stack: str, url: str) -> None:
    assert script_url(stack, "http://shop.test/page") == url
