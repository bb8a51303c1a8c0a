"""Consent variants: what a gated page depends on besides its URL, named for shared caches.

With `ConsentMiddleware(..., shared_cache=True)` a page that depends on consent carries
`Consent-Variant: <name>`, and the visitor gets a second, unsigned cookie holding the same
name (the consent cookie's name + `_variant`) so that an edge (Varnish, nginx, a CDN) can
key its cache on it instead of on the whole Cookie header (docs/caching.md).

A name says only what every visitor of the same consent shares: the policy's revision and
fingerprint, the granted categories and services and the Global Privacy Control signal.
Nothing per visitor and nothing secret is in it (a receipt id, an issue date or a key would
split the cache by visitor, and the name is public). The undecided page has two names of
its own: `none`, and `none-gpc` under the signal.
"""

from __future__ import annotations

import hashlib

from consent.cookies import cookie_pairs
from consent.state import ConsentState

__all__ = [
    "CONSENT_VARIANT",
    "NO_STORE",
    "UNDECIDED",
    "UNDECIDED_GPC",
    "consent_variant",
    "no_store",
    "request_variant",
    "variant_cookie_name",
]

CONSENT_VARIANT = b"consent-variant"
"""The response header naming the variant a page was rendered for."""
UNDECIDED = "none"
UNDECIDED_GPC = "none-gpc"
NO_STORE = b"private, no-store"
# Directives of an app's Cache-Control that would let a shared cache (or any cache) keep
# the response: dropped when the response must not be stored; the others are kept.
_LOOSE = frozenset(
    {b"public", b"max-age", b"s-maxage", b"immutable", b"stale-while-revalidate"}
    | {b"stale-if-error", b"private", b"no-store"}
)


def variant_cookie_name(cookie_name: str) -> str:
    """The name of the variant cookie that goes with the consent cookie `cookie_name`."""
    return cookie_name + "_variant"


def consent_variant(state: ConsentState) -> str:
    """The variant of the pages gated for `state`: `none` / `none-gpc` before a decision,
    otherwise `v1-` and 16 hex digits of a SHA-256 over what the gating depends on.

    The signing keys are not in it: a cookie re-signed after a key rotation keeps its
    variant (its pages are the same). The language is not either: responses in several
    languages say `Vary: Accept-Language` for the cache to split them.
    """
    if not state.decided:
        return UNDECIDED_GPC if state.gpc else UNDECIDED
    policy = state.policy
    # Sorted ids, separated by a byte no id holds: one set of grants has one spelling.
    text = "\n".join(
        (
            "v1",
            policy.fingerprint,
            str(policy.revision),
            ",".join(sorted(state.granted)),
            ",".join(sorted(state.services)),
            "gpc" if state.gpc else "",
        )
    )
    return "v1-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def request_variant(cookie_header: bytes, name: str, gpc: bool) -> str | None:
    """The variant a request names (the key a cache used): the value of its one variant
    cookie `name`, exactly as sent; without one, the undecided variant (`none-gpc` under
    the GPC signal). None when it carries several: no single key to trust."""
    values = []
    if cookie_header.find(name.encode("latin-1")) >= 0:
        # Read as a server reads cookies, but the value as it is (no quotes removed): an
        # edge that keys on the raw value and the origin compare the same string.
        values = [v for k, v in cookie_pairs(cookie_header.decode("latin-1")) if k == name]
    if not values:
        return UNDECIDED_GPC if gpc else UNDECIDED
    return values[0] if len(values) == 1 else None


def no_store(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` (names in lower case) with one Cache-Control that no cache may store:
    `private, no-store`, followed by the app's other directives (`no-transform`, ...);
    the app's directives that would let a cache keep the response are dropped."""
    kept: list[bytes] = []
    out: list[tuple[bytes, bytes]] = []
    at = -1
    for key, value in headers:
        if key != b"cache-control":
            out.append((key, value))
            continue
        if at < 0:
            at = len(out)
            out.append((key, value))
        for directive in value.split(b","):
            directive = directive.strip(b" \t")
            name = directive.partition(b"=")[0].strip(b" \t").lower()
            if name and name not in _LOOSE and directive not in kept:
                kept.append(directive)
    value = b", ".join([NO_STORE, *kept])
    if at < 0:
        out.append((b"cache-control", value))
    else:
        out[at] = (b"cache-control", value)
    return out
