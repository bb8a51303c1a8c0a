"""Consent variants: what a gated page depends on besides its URL, named for shared caches.

With `ConsentMiddleware(..., shared_cache=True)` a page that depends on consent carries
`Consent-Variant: <name>`, and the visitor gets a second, unsigned cookie holding the same
name (the consent cookie's name + `_variant`) so that an edge (Varnish, nginx, a CDN) can
key its cache on it instead of on the whole Cookie header (docs/caching.md). The cookie
holds `<name>.<tag>`, the tag being the end of the consent cookie it was issued with: it names
a variant only beside that cookie, so a marker planted alone or beside another visitor's
consent cookie names nothing, for the origin and for the edges alike.

A name says only what every visitor of the same consent shares: the policy's revision and
fingerprint, the granted categories and services and the Global Privacy Control signal.
Nothing per visitor and nothing secret is in it (a receipt id, an issue date or a key would
split the cache by visitor, and the name is public). The undecided page has two names of
its own: `none`, and `none-gpc` under the signal.
"""

from __future__ import annotations

import hashlib
import hmac
import string

from consent.cookies import cookie_pairs
from consent.header_fields import list_field, with_field
from consent.state import ConsentState

__all__ = [
    "CONSENT_VARIANT",
    "NO_STORE",
    "TAG_LENGTH",
    "UNDECIDED",
    "UNDECIDED_GPC",
    "consent_variant",
    "no_store",
    "request_variant",
    "variant_cookie_name",
    "variant_marker",
]

CONSENT_VARIANT = b"consent-variant"
"""The response header naming the variant a page was rendered for."""
UNDECIDED = "none"
UNDECIDED_GPC = "none-gpc"
NO_STORE = b"private, no-store"
TAG_LENGTH = 8
"""How many characters of the consent cookie's value end the variant cookie: the end of
its signature (base64url, about 46 bits), unique per cookie and short enough for an edge."""
# The tag's alphabet (the signature's): no `.`, `#` or `|`, which the edges' checks join on.
_TAG = frozenset(string.ascii_letters + string.digits + "-_")
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


def variant_marker(variant: str, consent_value: str) -> str:
    """The variant cookie's value naming `variant` beside the consent cookie whose value
    is `consent_value`: `<variant>.<its last TAG_LENGTH characters>`."""
    return f"{variant}.{consent_value[-TAG_LENGTH:]}"


def request_variant(cookie_header: bytes, consent_name: str, gpc: bool) -> str | None:
    """The variant a request names (the key a cache used) for the consent cookie
    `consent_name`: without that cookie and its variant cookie, the undecided variant
    (`none-gpc` under the GPC signal); with exactly one of each, the variant cookie's
    name part when its tag is the end of the consent cookie's value as sent. Otherwise
    None: no key to trust (a marker planted alone, beside another visitor's consent
    cookie, several of either, a consent cookie without its marker)."""
    undecided = UNDECIDED_GPC if gpc else UNDECIDED
    if cookie_header.find(consent_name.encode("latin-1")) < 0:
        return undecided  # (neither cookie: no parsing needed)
    marker_name = variant_cookie_name(consent_name)
    consents: list[str] = []
    markers: list[str] = []
    # Read as a server reads cookies, but the values as they are (no quotes removed): the
    # edges compare the same strings.
    for key, value in cookie_pairs(cookie_header.decode("latin-1")):
        if key == consent_name:
            consents.append(value)
        elif key == marker_name:
            markers.append(value)
    if not consents and not markers:
        return undecided
    if len(consents) != 1 or len(markers) != 1:
        return None
    variant, _, tag = markers[0].partition(".")
    value = consents[0]
    if len(tag) != TAG_LENGTH or not _TAG.issuperset(tag) or len(value) <= TAG_LENGTH:
        return None
    # (Both are the visitor's own cookies; compared in constant time all the same.)
    if not hmac.compare_digest(value[-TAG_LENGTH:], tag):
        return None
    return variant


def no_store(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` (names in lower case) with one Cache-Control that no cache may store:
    `private, no-store`, followed by the app's other directives (`no-transform`, ...);
    the app's directives that would let a cache keep the response are dropped."""
    out, at, directives = list_field(headers, b"cache-control")
    kept: dict[bytes, None] = {}  # (in order, each once)
    for directive in directives:
        if directive.partition(b"=")[0].strip(b" \t").lower() not in _LOOSE:
            kept[directive] = None
    return with_field(out, at, b"cache-control", b", ".join([NO_STORE, *kept]))
