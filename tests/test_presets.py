"""Service presets: a policy inherits a known service's cookies and hosts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from consent import Policy, PolicyError, load_policy
from consent.catalog import known_cookies, presets
from consent.gating import host_matcher

CATEGORIES: list[dict[str, Any]] = [
    {"id": "essential", "title": "Essential", "required": True},
    {"id": "functional", "title": "Functional"},
    {"id": "analytics", "title": "Analytics"},
    {"id": "marketing", "title": "Marketing"},
]


def policy(*services: dict[str, Any]) -> Policy:
    return Policy.model_validate({"categories": CATEGORIES, "services": list(services)})


def test_there_are_presets_for_the_services_sites_really_use() -> None:
    names = set(presets())
    assert len(names) >= 35
    assert {
        "php-session",
        "wordpress",
        "django",
        "starlette-session",
        "laravel",
        "google-analytics",
        "google-tag-manager",
        "matomo",
        "plausible",
        "meta-pixel",
        "linkedin-insight",
        "hotjar",
        "microsoft-clarity",
        "youtube",
        "vimeo",
        "google-maps",
        "stripe",
        "cloudflare",
        "intercom",
        "hubspot",
    } <= names


def test_every_preset_is_a_valid_service() -> None:
    """Each preset alone makes a valid service in a policy with the usual categories."""
    services = [{"id": name, "preset": name} for name in presets()]
    built = policy(*services)
    assert len(built.services) == len(presets())
    for service in built.services:
        assert service.title and service.category in {c["id"] for c in CATEGORIES}


def test_a_preset_fills_in_cookies_hosts_and_texts() -> None:
    service = policy({"id": "stats", "preset": "google-analytics"}).service("stats")
    assert service.category == "analytics"
    assert service.title == "Google Analytics 4"
    assert {c.name for c in service.cookies} >= {"_ga", "_ga_*"}
    assert "www.googletagmanager.com" in service.hosts  # gtag.js, its loader


def test_own_fields_win_and_own_cookies_replace_same_names() -> None:
    service = policy(
        {
            "id": "yt",
            "preset": "youtube",
            "title": "Videos",
            "category": "functional",
            "hosts": ["video.example.com"],
            "cookies": [{"name": "YSC", "purpose": "Our own words.", "duration": "session"}],
        }
    ).service("yt")
    assert (service.title, service.category) == ("Videos", "functional")
    ysc = [c for c in service.cookies if c.name == "YSC"]
    assert len(ysc) == 1 and ysc[0].purpose == "Our own words."
    assert "VISITOR_INFO1_LIVE" in {c.name for c in service.cookies}
    assert service.hosts[-1] == "video.example.com" and "www.youtube.com" in service.hosts


def test_unknown_preset_names_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    path.write_text(
        '[[categories]]\nid = "essential"\ntitle = "E"\n\n'
        '[[services]]\nid = "x"\npreset = "google-analytic"\n'
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    where, what, fix = caught.value.problems[0]
    assert where == "services[0] (id 'x')"
    assert "'google-analytic' is unknown" in what and "google-analytics" in fix
    with pytest.raises(ValidationError):
        policy({"id": "x", "preset": 5})


def test_inherited_cookies_count_in_the_fingerprint() -> None:
    plain = policy({"id": "stats", "category": "analytics", "title": "Stats"})
    with_preset = policy({"id": "stats", "preset": "matomo", "title": "Stats"})
    assert plain.fingerprint != with_preset.fingerprint


def test_preset_categories_never_contradict_the_catalog() -> None:
    """A preset suggested as essential declares no cookie the catalog knows as tracking,
    except where the catalog's entry belongs to another platform (name clashes)."""
    for name, preset in presets().items():
        if preset["category"] != "essential":
            continue
        for cookie in preset.get("cookies", []):
            tracking = known_cookies().tracking(cookie["name"])
            platforms = {c.platform for c in tracking}
            assert platforms <= {"Instagram"}, (name, cookie["name"], platforms)


# What each vendor's standard snippet really loads: the script loader, the hosts its beacons,
# pixels and iframes go to (regional ones included). A preset must cover each (exactly or by
# a `*.` entry), or auto-blocking by `hosts` lets that request through.
MUST_COVER: dict[str, tuple[str, ...]] = {
    "google-analytics": (
        "www.googletagmanager.com",  # gtag.js
        "www.google-analytics.com",
        "region1.google-analytics.com",  # regional collection
        "analytics.google.com",
        "region1.analytics.google.com",
    ),
    "google-tag-manager": ("www.googletagmanager.com",),  # gtm.js
    "google-ads": ("www.googletagmanager.com", "www.googleadservices.com"),
    "doubleclick": ("googleads.g.doubleclick.net", "stats.g.doubleclick.net"),
    "meta-pixel": ("connect.facebook.net", "www.facebook.com"),  # fbevents.js, /tr pixel
    "hotjar": ("static.hotjar.com", "script.hotjar.com", "in.hotjar.com", "content.hotjar.io"),
    "microsoft-clarity": ("www.clarity.ms", "scripts.clarity.ms"),
    "youtube": ("www.youtube.com", "youtube.com", "www.youtube-nocookie.com", "i.ytimg.com"),
    "vimeo": ("player.vimeo.com", "f.vimeocdn.com"),
    "google-maps": ("maps.googleapis.com", "maps.gstatic.com"),
    "linkedin-insight": ("snap.licdn.com", "px.ads.linkedin.com"),
    "tiktok-pixel": ("analytics.tiktok.com",),
    "pinterest-tag": ("s.pinimg.com", "ct.pinterest.com"),
    "x-pixel": ("static.ads-twitter.com", "t.co"),
    "microsoft-advertising": ("bat.bing.com",),
    "hubspot": ("js.hs-scripts.com", "js.hs-analytics.net", "track.hubspot.com"),
    "matomo": ("cdn.matomo.cloud",),
    "amplitude": ("cdn.amplitude.com", "api2.amplitude.com"),
    "segment": ("cdn.segment.com", "api.segment.io"),
    "stripe": ("js.stripe.com", "m.stripe.network"),
    "intercom": ("widget.intercom.io", "js.intercomcdn.com", "api-iam.intercom.io"),
    "disqus": ("disqus.com", "c.disquscdn.com"),
}

# Cookies the flagship presets must declare, with the lifetime the vendor documents.
MUST_DECLARE: dict[str, dict[str, str]] = {
    "google-analytics": {"_ga": "2 years", "_ga_*": "2 years"},
    "google-ads": {"_gcl_au": "3 months", "_gcl_aw": "3 months"},
    "meta-pixel": {"_fbp": "3 months", "_fbc": "3 months"},
    "hotjar": {"_hjSessionUser_*": "1 year", "_hjSession_*": "30 minutes"},
    "microsoft-clarity": {"_clck": "1 year", "_clsk": "1 day"},
    "youtube": {"YSC": "session", "VISITOR_INFO1_LIVE": "6 months"},
    "tiktok-pixel": {"_ttp": "13 months"},
    "microsoft-advertising": {"_uetsid": "1 day", "_uetvid": "13 months"},
}

# Services of the site itself (or of its network edge): nothing of theirs comes from a
# third-party host.
FIRST_PARTY = {"php-session", "wordpress", "django", "starlette-session", "laravel", "cloudflare"}

# One host, several presets: gtag.js serves Google Analytics and Google Ads, and is Tag
# Manager's own loader.
SHARED = {"www.googletagmanager.com": {"google-analytics", "google-ads", "google-tag-manager"}}
# A host inside another preset's `*.` entry; the exact entry wins in a policy with both.
NESTED = {("googleads.g.doubleclick.net", "doubleclick")}

# Where a preset's category differs from the Open Cookie Database's for the same name, on
# purpose: (preset, cookie) -> the database's category.
OVERRULED = {
    ("django", "sessionid"): "Marketing",  # the database's entry is Instagram's cookie
    # Hotjar: the database files these as Functional; they identify and sample visitors.
    ("hotjar", "_hjSessionUser_*"): "Functional",
    ("hotjar", "_hjSession_*"): "Functional",
    ("hotjar", "_hjFirstSeen"): "Functional",
    ("hotjar", "_hjIncludedInSessionSample*"): "Functional",
    ("hotjar", "_hjAbsoluteSessionInProgress"): "Functional",
    ("hotjar", "_hjTLDTest"): "Functional",
    ("vwo", "_vwo_uuid*"): "Functional",  # keeps a visitor in one test variant
    ("adobe-analytics", "AMCV_*"): "Marketing",  # the visitor id Adobe Analytics counts by
    ("optimizely", "optimizelyEndUserId"): "Marketing",  # A/B test bucketing, no ads
    # Advertising services: every cookie of theirs serves the advertising.
    ("doubleclick", "test_cookie"): "Functional",
    ("linkedin-insight", "AnalyticsSyncHistory"): "Analytics",
    ("linkedin-insight", "li_fat_id"): "Functional",
    ("youtube", "YSC"): "Functional",
    ("vimeo", "vuid"): "Analytics",
    # A chat: its visitor ids keep conversations together (still optional, "functional").
    ("intercom", "intercom-id-*"): "Analytics",
    ("intercom", "intercom-session-*"): "Analytics",
    ("intercom", "intercom-device-id-*"): "Analytics",
}
AGREES = {
    "Analytics": {"analytics"},
    "Marketing": {"marketing"},
    "Functional": {"essential", "functional"},
    "Security": {"essential"},
    "Necessary": {"essential"},
    "Personalization": {"functional"},
}


def covers(hosts: list[str], host: str) -> bool:
    """Whether auto-blocking with `hosts` gates a script from `host` (the gate's own rule)."""
    return host_matcher(dict.fromkeys(hosts, "x"))(f"https://{host}/x.js") == "x"


@pytest.mark.parametrize("name", sorted(MUST_COVER))
def test_presets_cover_the_hosts_their_snippets_load_from(name: str) -> None:
    """A2: a tag from any host the vendor's snippet uses is auto-blocked by the preset."""
    hosts = presets()[name]["hosts"]
    assert [h for h in MUST_COVER[name] if not covers(hosts, h)] == []


@pytest.mark.parametrize("name", sorted(MUST_DECLARE))
def test_flagship_presets_declare_their_cookies_and_lifetimes(name: str) -> None:
    """A3: the cookies a flagship service sets are declared, with the vendor's lifetime."""
    declared = {c["name"]: c["duration"] for c in presets()[name]["cookies"]}
    assert {k: declared.get(k) for k in MUST_DECLARE[name]} == MUST_DECLARE[name]


def test_every_third_party_preset_declares_a_host() -> None:
    """A2: a preset without hosts cannot auto-block anything."""
    without = {name for name, preset in presets().items() if not preset.get("hosts")}
    assert without == FIRST_PARTY


def test_no_two_presets_claim_the_same_host() -> None:
    """A2: with two claims, which service a tag is gated as would depend on policy order."""
    claims: dict[str, set[str]] = {}
    for name, preset in presets().items():
        for host in preset.get("hosts", []):
            claims.setdefault(host, set()).add(name)
    assert {h: names for h, names in claims.items() if len(names) > 1} == SHARED
    nested = {
        (host, other)
        for name, preset in presets().items()
        for host in preset.get("hosts", [])
        for other, theirs in presets().items()
        if other != name and not host.startswith("*.") and covers(theirs.get("hosts", []), host)
    }
    assert nested - {(h, o) for h, names in SHARED.items() for o in names} == NESTED


def test_preset_cookies_agree_with_the_catalog() -> None:
    """A1, A3: a cookie the catalog knows has the preset's category, or is listed above."""
    differ = {}
    for name, preset in presets().items():
        for cookie in preset.get("cookies", []):
            known = known_cookies().lookup(cookie["name"])
            if known is not None and preset["category"] not in AGREES[known.category]:
                differ[name, cookie["name"]] = known.category
    assert differ == OVERRULED


def test_no_two_presets_declare_the_same_cookie() -> None:
    """A policy that uses both would be rejected: a cookie belongs to one service."""
    owners: dict[str, list[str]] = {}
    for name, preset in presets().items():
        for cookie in preset.get("cookies", []):
            owners.setdefault(cookie["name"], []).append(name)
    assert {c: o for c, o in owners.items() if len(o) > 1} == {}
