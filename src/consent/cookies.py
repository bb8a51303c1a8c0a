"""Reading cookies as browsers write them: the one `Cookie` parser and the one `Set-Cookie`
parser of the package.

A `Cookie` request header is a list of `name=value` pairs separated by `;` (RFC 6265,
section 5.4). Only a pair whose trimmed name is exactly a cookie's name is that cookie:
`x=a consent=...` is one cookie named `x`, whatever its value looks like.

A `Set-Cookie` response header is read as RFC 6265, section 5.2 says a browser reads it:
the pair up to the first `;`, then attributes whose names ignore case, where an attribute
with an invalid value is ignored and, of the valid ones, the last wins (`Max-Age=0;
Max-Age=63072000` sets a cookie for two years). `Max-Age` beats `Expires`.

Both parsers take time linear in their input and never raise on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple

__all__ = [
    "SetCookie",
    "cookie_names",
    "cookie_pairs",
    "cookie_values",
    "parent_domains",
    "parse_set_cookie",
    "request_cookie_header",
]

_BLANKS = " \t"  # what browsers trim around cookie names and values


def cookie_pairs(header: str) -> list[tuple[str, str]]:
    """The `(name, value)` pairs of a `Cookie` header, names and values trimmed.

    A pair without `=` is a cookie without a name (a browser sends a nameless cookie as
    its bare value): its name is `""`.
    """
    pairs = []
    for part in header.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            pairs.append((name.strip(_BLANKS), value.strip(_BLANKS)))
        elif part.strip(_BLANKS):
            pairs.append(("", part.strip(_BLANKS)))
    return pairs


def cookie_names(header: str) -> list[str]:
    """The names of the cookies in a `Cookie` header (nameless cookies left out)."""
    return [name for name, _ in cookie_pairs(header) if name]


def cookie_values(header: str, name: str) -> list[str]:
    """Every value of cookie `name` in a `Cookie` header, in the order the browser sent
    them (surrounding double quotes removed)."""
    found = []
    for key, value in cookie_pairs(header):
        if key == name:
            if len(value) >= 2 and value[0] == '"' == value[-1]:
                value = value[1:-1]
            found.append(value)
    return found


def request_cookie_header(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The request's cookies as one header: HTTP/2 and HTTP/3 clients may split them
    over several `cookie` fields, which are joined with `; ` (RFC 9113, 8.2.3)."""
    found = [value for key, value in headers if key == b"cookie"]
    return b"; ".join(found).decode("latin-1")


class SetCookie(NamedTuple):
    """What a browser makes of one `Set-Cookie` header."""

    name: str
    """The cookie's name; for a nameless cookie (`=a=b` or `a`), the name a server
    reading the Cookie header will see: the value up to its first `=`, else `""`."""
    value: str
    max_age: int | None
    """The last valid `Max-Age`, in seconds."""
    expires: datetime | None
    """The last valid `Expires` date."""
    valid: bool
    """False when a browser ignores the header altogether (control characters, no name
    and no value)."""

    def deletes(self, now: datetime | None = None) -> bool:
        """Whether every browser removes the cookie now rather than store it.

        An `Expires` date counts only when it lies more than a day in the past: a browser
        whose clock is behind would otherwise keep the cookie.
        """
        if not self.valid:
            return False
        if self.max_age is not None:
            return self.max_age <= 0
        if self.expires is None:
            return False
        now = now or datetime.now(UTC)
        return (now - self.expires).total_seconds() > _CLOCK_SKEW


_CLOCK_SKEW = 86_400
# Control characters other than horizontal tab make browsers drop the whole header.
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(r"-?[0-9]+")


def parse_set_cookie(header: str) -> SetCookie:
    """Read a `Set-Cookie` header value as RFC 6265, section 5.2 does."""
    pair, _, attributes = header.partition(";")
    name, sep, value = pair.partition("=")
    if not sep:
        name, value = "", name
    name, value = name.strip(_BLANKS), value.strip(_BLANKS)
    valid = bool(name or value) and _CONTROLS.search(header) is None
    if not name and "=" in value:
        # A nameless cookie whose value holds "=" reaches servers and scripts as a cookie
        # named by the part before it: `=_ga=GA1.2` is read back as `_ga`.
        name = value.partition("=")[0].strip(_BLANKS)
    max_age: int | None = None
    expires: datetime | None = None
    if attributes:
        for attribute in attributes.split(";"):
            key, _, text = attribute.partition("=")
            key = key.strip(_BLANKS).lower()
            text = text.strip(_BLANKS)
            if key == "max-age":
                if _DIGITS.fullmatch(text):
                    # Out-of-range values are clamped the way browsers do in practice.
                    max_age = max(-1, min(int(text[:20]), 2**40))
            elif key == "expires":
                when = cookie_date(text)
                if when is not None:
                    expires = when
    return SetCookie(name, value, max_age, expires, valid)


# RFC 6265, section 5.1.1: the cookie-date algorithm.
_DELIMITERS = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_DAY = re.compile(r"([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_YEAR = re.compile(r"([0-9]{2,4})(?:[^0-9].*)?", re.DOTALL)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def cookie_date(text: str) -> datetime | None:
    """The date a browser reads in an `Expires` value, or None when it reads none."""
    time: tuple[int, int, int] | None = None
    day = month = year = None
    for token in _DELIMITERS.split(text[:256]):
        if not token:
            continue
        if time is None and (found := _TIME.fullmatch(token)):
            time = (int(found.group(1)), int(found.group(2)), int(found.group(3)))
        elif day is None and (found := _DAY.fullmatch(token)):
            day = int(found.group(1))
        elif month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS.index(token[:3].lower()) + 1
        elif year is None and (found := _YEAR.fullmatch(token)):
            year = int(found.group(1))
    if time is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif 0 <= year <= 69:
        year += 2000
    hour, minute, second = time
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:  # a day the month does not have
        return None


_IPV4 = re.compile(r"[\d.]+")
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")


def parent_domains(host: str, levels: int = 4) -> list[str]:
    """The domains a cookie visible to `host` (a Host header, port allowed) may have been
    set for: `host` itself and its parents, up to `levels` of them, longest first. A
    browser refuses a cookie for a public suffix (`co.uk`), so listing one costs nothing;
    an IP address or a malformed host has none."""
    host = host.strip().lower()
    if host.startswith("["):
        return []  # an IPv6 address
    host = host.rsplit(":", 1)[0].rstrip(".")
    labels = host.split(".")
    if _IPV4.fullmatch(host):
        return []
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return []
    return [".".join(labels[i:]) for i in range(min(len(labels) - 1, levels))]
