"""Where requests come from and where they may go: the same-origin rule for every
state-changing consent request, the sites trusted besides, and the `next` check that keeps
redirects on this site."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from starlette.datastructures import Headers

__all__ = ["is_same_origin", "normalize_origins", "safe_next"]


def normalize_origins(origins: Sequence[str]) -> frozenset[str]:
    """`scheme://host[:port]` strings, lower-cased; ValueError for anything else."""
    out = set()
    for origin in origins:
        parts = urlsplit(origin.strip().lower())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError(
                f"trusted_origins: {origin!r} is not an origin. Fix: write it as "
                "'https://shop.example.com' (scheme and host, no path)"
            )
        out.add(f"{parts.scheme}://{parts.netloc}")
    return frozenset(out)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_key(netloc: str) -> tuple[str, int | None] | None:
    # Used when the request's scheme is unknown (a scope without "scheme"): ports 80 and
    # 443 then count as "no port", as either scheme may be the request's.
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname, None if port in (80, 443) else port


def _endpoint(netloc: str, scheme: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, the default port of the scheme filled in, as
    the URL Standard compares origins; None when `netloc` is no host."""
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or scheme not in _DEFAULT_PORTS:
        return None
    return scheme, parts.hostname, _DEFAULT_PORTS[scheme] if port is None else port


def is_same_origin(headers: Headers, trusted: frozenset[str], scheme: str | None = None) -> bool:
    """The Fetch Metadata rule: `Sec-Fetch-Site`, else `Origin`, else `Referer`.

    A request with none of the three comes from a non-browser client and passes.
    Origins in `trusted` pass too (sibling sub-domains sharing the cookie).

    Args:
        headers: the request's headers.
        trusted: other origins allowed, as `normalize_origins` gives them.
        scheme: the request's scheme (the ASGI scope's `"scheme"`; behind a proxy, what
            its forwarded headers say). When known, an Origin or Referer of another scheme
            is another origin (`http://host` posting to `https://host` is refused), and
            ports are compared with the scheme's default filled in. None: unknown, the
            host and port alone are compared (80 and 443 count as no port).
    """
    origin = headers.get("origin")
    site = headers.get("sec-fetch-site")
    if site is not None:
        if site.strip().lower() in ("same-origin", "none"):
            return True
        return origin is not None and origin.strip().lower() in trusted
    if origin is None:
        referer = headers.get("referer")
        if referer is None:
            return True
        try:
            parts = urlsplit(referer.strip())
        except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 host)
            return False
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "null"
    origin = origin.strip().lower()
    if origin in trusted:
        return True
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    host = headers.get("host")
    if parts.scheme not in ("http", "https") or host is None:
        return False
    if scheme is None:
        key = _host_key(parts.netloc)
        return key is not None and key == _host_key(host.strip())
    theirs = _endpoint(parts.netloc, parts.scheme)
    return theirs is not None and theirs == _endpoint(host.strip(), scheme.lower())


def safe_next(value: str | None) -> str:
    """`value` if it is a path on this origin, else `/` (no open redirects)."""
    if not value or len(value) > 2048 or not value.startswith("/"):
        return "/"
    if value.startswith(("//", "/\\")) or any(ord(c) < 0x21 or c in "\\\x7f" for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value
