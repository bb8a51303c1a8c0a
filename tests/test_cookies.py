"""The one Cookie parser and the one Set-Cookie parser (consent.cookies).

Checklist items: A3 (Set-Cookie filtering reads cookies as browsers do), B14 (deletion on
refusal reaches every domain a cookie may have been set for).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.cookies import (
    cookie_date,
    cookie_names,
    cookie_pairs,
    cookie_values,
    parent_domains,
    parse_set_cookie,
    request_cookie_header,
)

# What a browser may put in a cookie name or value (RFC 6265 cookie-octets, plus space).
octets = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters=';"\\,'),
    max_size=20,
)
names = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=';=,"\\'),
    min_size=1,
    max_size=12,
)


@pytest.mark.parametrize(
    "header",
    [
        "x=a consent=VALUE",
        "x=a\tconsent=VALUE",
        "x=a,consent=VALUE",
        "xconsent=VALUE",
        "consentx=VALUE",
        "x=consent=VALUE",
        "x=a consent=VALUE; y=b",
        "__Host-x=a __Host-consent=VALUE",
    ],
)
def test_cookie_values_match_only_a_pair_named_exactly(header: str) -> None:
    """A3: `x=a consent=...` is one cookie named `x`: no cookie is named `consent`."""
    assert cookie_values(header, "consent") == []
    assert cookie_values(header, "__Host-consent") == []


def test_cookie_values_trim_blanks_and_quotes_and_keep_order() -> None:
    header = ' consent = "one" ;other=1;consent=two;\tconsent=three'
    assert cookie_values(header, "consent") == ["one", "two", "three"]
    assert cookie_names(header) == ["consent", "other", "consent", "consent"]


def test_cookie_pairs_keep_nameless_cookies_apart() -> None:
    """A nameless cookie reaches the server as its bare value: it has no name."""
    assert cookie_pairs("a=1; bare; =x") == [("a", "1"), ("", "bare"), ("", "x")]
    assert cookie_names("a=1; bare; =x") == ["a"]


@given(st.lists(st.tuples(names, octets), max_size=8), names)
def test_cookie_values_are_the_values_of_pairs_with_that_name(
    pairs: list[tuple[str, str]], wanted: str
) -> None:
    header = "; ".join(f"{name}={value}" for name, value in pairs)
    expected = []
    for name, value in pairs:
        if name == wanted:
            value = value.strip(" \t")
            if len(value) >= 2 and value[0] == '"' == value[-1]:
                value = value[1:-1]
            expected.append(value)
    assert cookie_values(header, wanted) == expected


def test_request_cookie_header_joins_every_cookie_field() -> None:
    headers = [(b"cookie", b"a=1"), (b"host", b"x"), (b"cookie", b"b=2")]
    assert request_cookie_header(headers) == "a=1; b=2"
    assert request_cookie_header([]) == ""


@pytest.mark.parametrize(
    ("header", "deletes"),
    [
        ("_ga=1; Max-Age=0", True),
        ("_ga=1; max-age=-5", True),
        ("_ga=1; Max-Age=0; Max-Age=63072000", False),  # the last valid one wins
        ("_ga=1; Max-Age=63072000; Max-Age=0", True),
        ("_ga=1; Max-Age=0; Max-Age=abc", True),  # an invalid value is ignored
        ("_ga=1; Max-Age=+0", False),
        ("_ga=1; Max-Age=0x0", False),
        ("_ga=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT", True),
        ("_ga=1; Expires=Thu, 01-Jan-1970 00:00:01 GMT", True),
        ("_ga=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=100", False),  # Max-Age wins
        ("_ga=1; Max-Age=100; Expires=Thu, 01 Jan 1970 00:00:00 GMT", False),
        (
            "_ga=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
            False,
        ),
        (
            "_ga=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            True,
        ),
        ("_ga=1; Expires=someday", False),
        ("_ga=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=garbage", True),
        ("_ga=1", False),
        ("_ga=1;Max-Age=0\x00", False),  # a control character: browsers ignore the header
    ],
)
def test_set_cookie_deletion_follows_rfc_6265(header: str, deletes: bool) -> None:
    """A3: the attributes are read as a browser reads them (RFC 6265, 5.2 and 5.3)."""
    assert parse_set_cookie(header).deletes() is deletes


def test_set_cookie_expires_just_past_is_not_trusted_as_a_deletion() -> None:
    """A browser whose clock is behind would store a cookie that expired a minute ago."""
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    minute_ago = (now - timedelta(minutes=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    two_days_ago = (now - timedelta(days=2)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert not parse_set_cookie(f"_ga=1; Expires={minute_ago}").deletes(now)
    assert parse_set_cookie(f"_ga=1; Expires={two_days_ago}").deletes(now)


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("_ga=1; Path=/", "_ga"),
        (" _ga = 1 ", "_ga"),
        ("=_ga=GA1.2.3", "_ga"),  # nameless, read back by servers as _ga
        ("_ga", ""),  # nameless, value "_ga"
        ("=x", ""),
    ],
)
def test_set_cookie_name_is_what_the_cookie_header_will_carry(header: str, name: str) -> None:
    assert parse_set_cookie(header).name == name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thu, 01 Jan 1970 00:00:00 GMT", datetime(1970, 1, 1, tzinfo=UTC)),
        ("Sunday, 06-Nov-94 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("Sun Nov  6 08:49:37 1994", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("6 nov 2030 1:2:3", datetime(2030, 11, 6, 1, 2, 3, tzinfo=UTC)),
        ("Wed, 31 Feb 2030 00:00:00 GMT", None),
        ("Wed, 01 Jan 1600 00:00:00 GMT", None),
        ("Wed, 01 Jan 2030 24:00:00 GMT", None),
        ("01 Jan 2030", None),  # no time
        ("", None),
    ],
)
def test_cookie_date_is_rfc_6265_section_5_1_1(text: str, expected: datetime | None) -> None:
    assert cookie_date(text) == expected


@given(st.text(max_size=300))
def test_parse_set_cookie_never_raises(header: str) -> None:
    cookie = parse_set_cookie(header)
    assert isinstance(cookie.deletes(), bool)
    assert ";" not in cookie.name


@given(
    st.lists(
        st.integers(-(10**6), 10**9) | st.sampled_from(["x", "", "1e3", "5 x", "--1"]), min_size=1
    )
)
def test_set_cookie_last_valid_max_age_wins(values: list[int | str]) -> None:
    header = "_ga=1" + "".join(f"; Max-Age={v}" for v in values)
    valid = [v for v in values if isinstance(v, int)]
    cookie = parse_set_cookie(header)
    if valid:
        assert cookie.max_age == max(-1, valid[-1])
        assert cookie.deletes() is (valid[-1] <= 0)
    else:
        assert cookie.max_age is None and not cookie.deletes()


def test_parent_domains_up_to_four_levels_and_none_for_addresses() -> None:
    assert parent_domains("www.example.com:8443") == ["www.example.com", "example.com"]
    assert parent_domains("a.b.c.example.co.uk") == [
        "a.b.c.example.co.uk",
        "b.c.example.co.uk",
        "c.example.co.uk",
        "example.co.uk",
    ]
    for host in ("127.0.0.1:8000", "[::1]:8000", "localhost", "", "evil.com; Domain=x", "a..b"):
        assert parent_domains(host) == []
