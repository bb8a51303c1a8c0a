"""Service presets: a policy inherits a known service's cookies and hosts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from consent import Policy, PolicyError, load_policy
from consent.catalog import known_cookies, presets

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
    assert "www.google-analytics.com" in service.hosts


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
