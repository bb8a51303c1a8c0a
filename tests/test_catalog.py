"""The known-cookie catalog: facts from the Open Cookie Database, loaded lazily."""

from __future__ import annotations

import csv
from importlib.resources import files

import pytest

from consent.catalog import Catalog, KnownCookie, Tracker, Trackers, known_cookies, known_trackers


def test_catalog_is_loaded_once_on_first_use() -> None:
    known_cookies.cache_clear()
    assert known_cookies.cache_info().currsize == 0
    first = known_cookies()
    assert known_cookies() is first
    assert first.size > 2000


@pytest.mark.parametrize(
    ("name", "platform", "category"),
    [
        ("_ga", "Google Analytics", "Analytics"),
        ("_ga_ABC123", "Google Analytics", "Analytics"),  # the '_ga_' prefix entry
        ("_fbp", "Facebook", "Marketing"),
        ("PHPSESSID", "PHP.net", "Functional"),
        ("wordpress_logged_in_5f2a", "WordPress", "Functional"),
        ("_pk_id.1.abc", "Piwik", "Analytics"),  # Matomo under its former name
    ],
)
def test_lookup_finds_exact_names_and_prefixes(name: str, platform: str, category: str) -> None:
    found = known_cookies().lookup(name)
    assert found is not None
    assert (found.platform, found.category) == (platform, category)


def test_policy_prefix_rules_are_looked_up_by_their_prefix() -> None:
    found = known_cookies().lookup("wordpress_logged_in_*")
    assert found is not None and found.wildcard and found.name == "wordpress_logged_in_"


def test_unknown_names() -> None:
    assert known_cookies().lookup("asgi-consent-never-heard-of-it") is None
    assert known_cookies().tracking("PHPSESSID") == ()


def test_tracking_cookies_are_flagged() -> None:
    """The basis of the "misclassified essential" check: _ga can never be essential."""
    assert [c.platform for c in known_cookies().tracking("_ga")] == ["Google Analytics"]


def test_exact_entries_win_over_prefixes_and_longer_prefixes_win() -> None:
    catalog = Catalog(
        [
            KnownCookie("ab", True, "short", "Functional", "", ""),
            KnownCookie("abc", True, "long", "Marketing", "", ""),
            KnownCookie("abcd", False, "exact", "Analytics", "", ""),
        ]
    )
    assert [c.platform for c in catalog.lookup_all("abcd")] == ["exact", "long", "short"]
    found = catalog.lookup("abcx")
    assert found is not None and found.platform == "long"
    assert catalog.lookup("a") is None


def test_shipped_data_holds_facts_only() -> None:
    """Apache-2.0 data: names, platform, category, domain, retention; no descriptions."""
    text = files("consent.catalog").joinpath("cookies.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == ["name", "wildcard", "platform", "category", "domain", "retention"]
    assert all(len(row) == 6 for row in rows)
    assert {row[1] for row in rows[1:]} == {"0", "1"}


@pytest.mark.parametrize(
    ("name", "category", "platform"),
    [
        ("_ga", "analytics", "Google Analytics 4"),  # a preset's own words win
        ("_ga_0AB12CD", "analytics", "Google Analytics 4"),
        ("_fbp", "marketing", "Meta Pixel"),
        ("_gcl_au", "marketing", "Google Ads"),
        # The database files Hotjar's visitor id as Functional; the preset says analytics.
        ("_hjSessionUser_123", "analytics", "Hotjar"),
        ("intercom-id-x1", "functional", "Intercom"),
        ("_chartbeat2", "analytics", "Chartbeat"),  # no preset: the database's first-party entry
    ],
)
def test_known_trackers_name_the_category_a_visitor_must_allow(
    name: str, category: str, platform: str
) -> None:
    """A1, A3: the cookies held to a category when the app sets them undeclared."""
    assert known_trackers().lookup(name) == Tracker(category, platform)


@pytest.mark.parametrize(
    "name",
    [
        "PHPSESSID",  # Functional
        "sessionid",  # the database's is Instagram's; Django's preset says essential
        "wordpress_logged_in_1",  # an essential preset's prefix
        "s",  # the database's is Facebook's, on facebook.com: never this site's server's
        "IDE",  # DoubleClick's, on doubleclick.net
        "asgi-consent-never-heard-of-it",
        "",
    ],
)
def test_cookies_that_are_no_first_party_trackers(name: str) -> None:
    assert known_trackers().lookup(name) is None


def test_trackers_take_the_most_specific_entry() -> None:
    """Exact names first, then the longest prefix; an entry of None ("needs no consent")
    shadows the shorter ones."""
    trackers = Trackers(
        [
            ("ab*", Tracker("marketing", "short")),
            ("abc*", None),
            ("abcd", Tracker("analytics", "exact")),
            ("*", Tracker("marketing", "everything")),  # never kept
        ]
    )
    assert trackers.lookup("abcd") == Tracker("analytics", "exact")
    assert trackers.lookup("abcde") is None
    assert trackers.lookup("abx") == Tracker("marketing", "short")
    assert trackers.lookup("zzz") is None


def test_a_tracker_lookup_costs_the_same_for_any_name_length() -> None:
    """One dict access per distinct prefix length, whatever the name: counted on a name
    whose every prefix is a key of its length's table."""
    lengths = {len(n) for n in ("ab", "abc", "abcd", "abcde")}
    trackers = Trackers((n + "*", Tracker("analytics", n)) for n in ("ab", "abc", "abcd", "abcde"))
    assert len(trackers._prefixes) == len(lengths)
    assert trackers.lookup("abcde" + "z" * 100_000) == Tracker("analytics", "abcde")


def test_trackers_are_built_once() -> None:
    known_trackers.cache_clear()
    assert known_trackers() is known_trackers()
