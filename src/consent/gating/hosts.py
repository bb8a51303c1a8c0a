"""The host a browser loads a URL from, and which declared service owns it.

`browser_host` reads a URL's host as the URL standard does (UTS 46 mapping, IPv4 numbers in
any base, percent-decoding, a final dot); `host_matcher` builds the lookup from a URL to the
service that declares its host (exact or `*.domain`), remembering the URLs it read;
`is_relative` tells whether a URL resolves against the document's base URL to its host.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from urllib.parse import unquote

from consent.bounded_memo import remember

__all__ = [
    "C0_AND_SPACE",
    "HostLookup",
    "browser_host",
    "fold_host",
    "host_matcher",
    "is_relative",
    "punycode_host",
]

HostLookup = Callable[[str], str | None]
"""The service id that owns a URL's host, or None."""

C0_AND_SPACE = "".join(map(chr, range(0x21)))
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
_AUTHORITY_END = re.compile(r"[/\\?#]")
# What UTS 46 maps to nothing in a host (soft hyphen, joiners, fillers, variation selectors,
# ...); a few of these make the URL invalid instead, where dropping them only gates more.
_IGNORED = re.compile(
    "[\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200d\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]"
)
_DOTS = re.compile("[\u3002\uff0e\uff61]")
_uts46_remap: Callable[..., str] | None
try:
    # UTS 46's own table, newer than the Unicode data of older Pythons. The `idna` package
    # comes with Starlette (through anyio); without it, NFKC case folding stands in.
    _uts46_remap = importlib.import_module("idna").uts46_remap
except ImportError:
    _uts46_remap = None


def browser_host(url: str) -> str | None:
    """The host a browser loads `url` from, lower case (None: this site, or no host).

    As the URL standard reads an http(s) URL on an http(s) page: leading and trailing
    controls and spaces dropped, tabs and newlines removed anywhere, `\\` read as `/`, any
    number of slashes before the authority, the userinfo up to its last `@` and the port
    dropped, the host percent-decoded (UTF-8) and mapped as UTS 46 maps it (full-width
    letters, the ideographic full stops, case, ignored characters), a final dot ignored.
    """
    url = url.strip(C0_AND_SPACE)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    scheme = _SCHEME.match(url)
    if scheme is not None:
        if scheme.group(1).lower() not in ("http", "https"):
            return None
        # ("https:host", relative on an https page, is read as a host too: it only gates more.)
        rest = url[scheme.end() :]
    elif url[:2] in ("//", "\\\\", "/\\", "\\/"):
        rest = url  # scheme-relative
    else:
        return None  # a path on this site
    rest = rest.lstrip("/\\")
    end = _AUTHORITY_END.search(rest)
    authority = rest if end is None else rest[: end.start()]
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        close = host.find("]")
        return host[: close + 1].lower() if close > 0 else None
    host = host.partition(":")[0]
    if "%" in host:
        host = unquote(host, errors="replace")
    if not host.isascii():
        host = _uts46(host)
    host = host.lower().rstrip(".")
    if _NUMERIC.search(host):
        return _ipv4(host)
    return host or None


# A host whose last label is a number is an IPv4 address ("0x7f.1" is 127.0.0.1).
_NUMERIC = re.compile(r"(?:^|\.)(?:\d+|0[xX][0-9a-fA-F]*)$")
_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9]\d*")


def _ipv4(host: str) -> str | None:
    """The IPv4 address a host that ends in a number names (the URL standard's IPv4 parser),
    dotted; None when it is not valid (the browser loads nothing)."""
    parts = host.split(".")
    if len(parts) > 4 or any(not _IPV4_PART.fullmatch(p) for p in parts):
        return None
    numbers = [
        int(p[2:] or "0", 16) if p[:2] in ("0x", "0X") else int(p, 8 if p[:1] == "0" else 10)
        for p in parts
    ]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = numbers[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(numbers[:-1]))
    return ".".join(str(value >> shift & 255) for shift in (24, 16, 8, 0))


def _uts46(host: str) -> str:
    """A host as UTS 46 maps it to ASCII, near enough to fail closed: UTS 46's own table
    where the `idna` package is there, else `fold_host`; then `punycode_host`."""
    mapped = None
    if _uts46_remap is not None:
        try:
            mapped = _uts46_remap(host, std3_rules=False)
        except ValueError:  # a character UTS 46 disallows: the browser loads nothing
            mapped = None
    return punycode_host(fold_host(host) if mapped is None else mapped)


def fold_host(host: str) -> str:
    """Each character of `host` as NFKC case folding maps it, ignored ones dropped: what
    UTS 46's table is built from, and what stands in for it without the `idna` package."""
    host = _IGNORED.sub("", host)
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", host).casefold())


def punycode_host(host: str) -> str:
    """A mapped host with the full stops UTS 46 knows read as dots, and each label that is
    not ASCII written in Punycode."""
    host = _DOTS.sub(".", host)
    labels = []
    for label in host.split("."):
        if label.isascii():
            labels.append(label)
        elif len(label) <= 63:
            labels.append("xn--" + label.encode("punycode").decode("ascii"))
        else:
            # Too long for DNS: no one serves it, and its Punycode costs time quadratic in
            # its length. A stand-in keeps the rest of the host ("*.domain" rules).
            labels.append("xn--")
    return ".".join(labels)


def host_matcher(hosts: Mapping[str, str]) -> HostLookup:
    """A lookup from URL to service id; `hosts` maps a host (or `*.domain`) to a service."""
    exact = {h.lower(): s for h, s in hosts.items() if not h.startswith("*.")}
    suffixes = [(h[1:].lower(), s) for h, s in hosts.items() if h.startswith("*.")]

    # Pages load the same URLs again and again: each is read once (at most 4,096 URLs of
    # up to 2 KiB remembered, forgotten when full). The memo lives as long as the lookup,
    # which a site builds once.
    seen: dict[str, tuple[str | None]] = {}

    def service_of(url: str) -> str | None:
        host = browser_host(url)
        if not host:
            return None
        if host in exact:
            return exact[host]
        for suffix, service in suffixes:
            if host.endswith(suffix) or host == suffix[1:]:
                return service
        return None

    def lookup(url: str) -> str | None:
        known = seen.get(url)  # one look-up: another thread may clear it meanwhile
        if known is not None:
            return known[0]
        service = service_of(url)
        if len(url) <= 2048:
            remember(seen, url, (service,))
        return service

    return lookup


# A URL with a scheme of its own: it does not resolve against the document's base URL.
# ("https:x" does, on a page whose base is https: it is read as relative, which gates more.)
_OWN_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*+:")
_TABS_AND_NEWLINES = re.compile(r"[\t\n\r]")


def is_relative(url: str) -> bool:
    """Whether `url` resolves against the base URL to the base's host: no authority of its
    own ("//host"), and no scheme but http(s), which a base of that scheme takes as its own
    ("https:p.gif")."""
    url = _TABS_AND_NEWLINES.sub("", url.strip(C0_AND_SPACE))
    scheme = _OWN_SCHEME.match(url)
    rest = url if scheme is None else url[scheme.end() :]
    if rest[:1] in ("/", "\\") and rest[1:2] in ("/", "\\"):
        return False
    return scheme is None or scheme.group().lower() in ("http:", "https:")
