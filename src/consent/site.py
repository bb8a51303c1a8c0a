"""The Site: everything one ConsentMiddleware works out once, at start-up.

`Site.build(**options)` runs every start-up check (a bad option fails here, with a message
that names it and says what to write instead) and builds each part the request path needs:
the policy, the cookie codec, the cookie guard and writer, the language negotiator, the
renderer, the receipt writer and the gate's host table. A request's `Visit` points at its
Site; nothing here changes after `build`, except bounded memos and "logged once" sets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from consent.declaration import consent_cookie
from consent.enforce import CookieGuard, CookieWriter, SameSite, Undeclared
from consent.etags import ConsentTags
from consent.gated_response import GatedPages, ResponseTypes
from consent.gating import Gatekeeper, HTMLGate
from consent.gpc import gpc_json
from consent.html_body import AcceptEncodings
from consent.i18n import Negotiator, enabled_languages
from consent.origin import normalize_origins
from consent.policy import Policy
from consent.receipts import ConsentLog, ReceiptWriter, Snapshot
from consent.render import Renderer
from consent.signing import ConsentCodec
from consent.state import ConsentState
from consent.variant import consent_variant, variant_marker
from consent.visit import CookieReader

__all__ = ["Site", "check_cookie_settings"]

logger = logging.getLogger("consent")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_UNKNOWN = 1000


@dataclass(frozen=True, eq=False, repr=False)
class Site:
    """Everything a ConsentMiddleware and its routes need, worked out once (`Site.build`)."""

    policy: Policy
    codec: ConsentCodec
    cookies: CookieWriter
    """Writes the consent cookie and expires planted copies of it."""
    reader: CookieReader
    """Reads (and remembers) the request's Cookie header."""
    guard: CookieGuard
    """Filters the app's Set-Cookie headers and expires refused cookies."""
    negotiate: Negotiator
    renderer: Renderer
    receipts: ReceiptWriter | None
    """Writes every receipt (None: the site keeps no consent log)."""
    path: str
    """Where the consent routes live."""
    trusted_origins: frozenset[str]
    delete_refused_cookies: bool
    gate_html: bool
    well_known_gpc: bytes | None
    """The body of `/.well-known/gpc.json` (None: not served)."""
    gatekeeper: Gatekeeper
    """What the site's HTML gates share: the host table (`gatekeeper.hosts`: the service
    that owns a URL's host, None when the policy declares no hosts) and the memo of tags."""
    vary: str
    """What responses that depend on the visitor's consent vary on."""
    vary_bytes: bytes
    vary_localized: bytes
    """`vary`, and Accept-Language where the parts speak several languages (a cache must
    not hand one visitor's banner to another whose browser asks for another language)."""
    language: str
    """The policy's default language."""
    pages: GatedPages
    """Whole pages gated before, per consent."""
    accept_encoding: AcceptEncodings
    """The request's Accept-Encoding without the codings the gate cannot decode."""
    types: ResponseTypes
    """Reads the responses' Content-Type (what is gated)."""
    max_body_size: int = 64 * 1024
    tags: ConsentTags = field(default_factory=ConsentTags)
    """Names consents in the entity tags of gated pages."""
    shared_cache: bool = False
    """Pages that depend on consent name their variant (`consent.variant`), and the
    visitor's variant cookie goes with every consent cookie set."""
    _variants: dict[tuple[bool, frozenset[str], frozenset[str], bool], str] = field(
        default_factory=dict
    )
    _unknown_ids: set[str] = field(default_factory=set)

    @classmethod
    def build(
        cls,
        *,
        policy: Policy,
        secret_key: str | Sequence[str],
        cookie_name: str,
        path: str,
        secure: bool | None,
        same_site: SameSite,
        domain: str | None,
        trusted_origins: Sequence[str],
        undeclared_cookies: Undeclared,
        delete_refused_cookies: bool,
        gate_html: bool,
        log: ConsentLog | None,
        log_timeout: float,
        well_known_gpc: str | None,
        shared_cache: bool,
    ) -> Site:
        """Check every option and build the site. The options are ConsentMiddleware's, and
        their defaults live there only: every one is given here.

        Raises:
            TypeError: `policy` or `log` is not of the right kind.
            ValueError: an option has a value that cannot work; the message says which
                and what to write instead.
        """
        if not isinstance(policy, Policy):
            raise TypeError("policy must be a consent.Policy, e.g. load_policy('consent.toml')")
        if log is not None and not isinstance(log, ConsentLog):
            raise TypeError(
                "log must be a ConsentLog, e.g. consent.receipts.SQLiteConsentLog('consent.db')"
            )
        check_cookie_settings(cookie_name, path, secure, same_site, domain)
        if not (isinstance(log_timeout, int | float) and 0 < log_timeout < 3600):
            raise ValueError(
                f"log_timeout must be a number of seconds above 0 and below 3600, such as 5.0,"
                f" not {log_timeout!r}"
            )
        if well_known_gpc is not None and not _DATE.fullmatch(well_known_gpc):
            raise ValueError(
                f"well_known_gpc must be a date such as '2026-11-28', not {well_known_gpc!r}"
            )
        if not isinstance(shared_cache, bool):
            raise ValueError(f"shared_cache must be True or False, not {shared_cache!r}")
        codec = ConsentCodec(policy, secret_key)
        guard = CookieGuard(policy, consent_cookie=cookie_name, undeclared=undeclared_cookies)
        gatekeeper = Gatekeeper({h: s.id for s in policy.services for h in s.hosts})
        negotiate = Negotiator(enabled_languages(policy.languages), policy.default_language)
        vary = "Cookie, Sec-GPC" if policy.gpc_ids else "Cookie"
        several = len(negotiate.enabled) > 1
        receipts = None
        if log is not None:
            receipts = ReceiptWriter(log, Snapshot.of(policy), float(log_timeout))
        return cls(
            policy=policy,
            codec=codec,
            cookies=CookieWriter(
                cookie_name,
                max_age=policy.max_age_days * 86400,
                domain=domain,
                secure=secure,
                same_site=same_site,
            ),
            reader=CookieReader(cookie_name, codec, guard),
            guard=guard,
            negotiate=negotiate,
            renderer=Renderer(policy, path, consent_cookie(policy, cookie_name)),
            receipts=receipts,
            path=path,
            trusted_origins=normalize_origins(trusted_origins),
            delete_refused_cookies=delete_refused_cookies,
            gate_html=gate_html,
            well_known_gpc=None if well_known_gpc is None else gpc_json(well_known_gpc),
            gatekeeper=gatekeeper,
            vary=vary,
            language=policy.default_language,
            types=ResponseTypes(gate_html),
            accept_encoding=AcceptEncodings(),
            pages=GatedPages(),
            vary_bytes=vary.encode(),
            vary_localized=(vary + ", Accept-Language" if several else vary).encode(),
            shared_cache=shared_cache,
        )

    def __repr__(self) -> str:
        return (
            f"<Site path={self.path!r} cookie={self.cookies.name!r}"
            f" revision={self.policy.revision}>"
        )

    def cookie_for(self, state: ConsentState, *, https: bool) -> bytes:
        """The Set-Cookie header value that stores `state` in the consent cookie."""
        return self.cookies.consent(self.codec.encode(state), https=https)

    def set_cookies(self, state: ConsentState, *, https: bool) -> list[bytes]:
        """The Set-Cookie header values that store `state`: the consent cookie, and with
        `shared_cache` the variant cookie that names its pages' variant."""
        value = self.codec.encode(state)
        cookie = self.cookies.consent(value, https=https)
        if not self.shared_cache:
            return [cookie]
        # Bound to this consent cookie's value: re-issued with every new one.
        marker = variant_marker(self.variant_of(state), value) if state.decided else None
        return [cookie, self.cookies.variant(marker, https=https)]

    def variant_of(self, state: ConsentState) -> str:
        """`consent_variant(state)`, remembered: one per consent, not per visitor."""
        key = (state.decided, state.granted, state.services, state.gpc)
        found = self._variants.get(key)
        if found is None:
            found = self._variants[key] = consent_variant(state)
            if len(self._variants) > 4096:
                self._variants.clear()
        return found

    def allows_markup(self, state: ConsentState, id: str) -> bool:
        """Like `state.allows`, but an unknown id in markup is "not allowed", logged once."""
        try:
            return state.allows(id)
        except KeyError:
            unknown = self._unknown_ids
            if id not in unknown and len(unknown) < _MAX_UNKNOWN:
                unknown.add(id)
                logger.warning("data-consent=%r names no category or service; kept inert", id)
            return False

    def gate(self, state: ConsentState, encoding: str | None, *, xml: bool) -> HTMLGate:
        """A gate for one HTML body, letting through what `state` allows."""
        return self.gatekeeper.open(
            lambda id: self.allows_markup(state, id), encoding=encoding, xml=xml
        )


def check_cookie_settings(
    cookie_name: str, path: str, secure: bool | None, same_site: str, domain: str | None
) -> None:
    """Refuse settings that browsers would reject or that would weaken the cookie."""
    if not cookie_name or any(c in cookie_name for c in ' =;,\t\r\n"') or not cookie_name.isascii():
        raise ValueError(f"cookie_name {cookie_name!r} is not a valid cookie name")
    if same_site not in ("lax", "strict", "none"):
        raise ValueError(f"same_site must be 'lax', 'strict' or 'none', not {same_site!r}")
    if same_site == "none" and secure is False:
        raise ValueError("same_site='none' needs secure=True (browsers drop it otherwise)")
    if cookie_name.startswith("__Host-") and (domain is not None or secure is False):
        raise ValueError("a '__Host-' cookie needs secure=True or None and domain=None")
    if domain is not None and (
        not domain or not domain.isascii() or any(not c.isalnum() and c not in ".-" for c in domain)
    ):
        raise ValueError(
            f"domain must be a host name such as 'example.com' (letters, digits, '.', '-'),"
            f" not {domain!r}"
        )
    if not path.startswith("/") or path.endswith("/") or "?" in path or "#" in path:
        raise ValueError(
            f"path must look like '/consent' (leading '/', no trailing '/'), not {path!r}"
        )
