"""Settings shared by the middleware and the consent routes, worked out once at start-up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from consent.enforce import CookieGuard, set_cookie_header
from consent.i18n import Negotiator, enabled_languages
from consent.policy import Policy
from consent.receipts import ConsentLog, ReceiptWriter, Snapshot
from consent.signing import ConsentCodec
from consent.state import ConsentState

SameSite = Literal["lax", "strict", "none"]


@dataclass(frozen=True)
class ConsentConfig:
    """Everything the middleware and its routes need; built by ConsentMiddleware."""

    policy: Policy
    codec: ConsentCodec
    cookie_name: str
    path: str
    secure: bool | None
    same_site: SameSite
    domain: str | None
    trusted_origins: frozenset[str]
    guard: CookieGuard
    max_body_size: int = 64 * 1024
    log: ConsentLog | None = None
    log_timeout: float = 10.0
    snapshot: Snapshot | None = None
    negotiate: Negotiator | None = None
    # Every receipt is written through this one writer (None without a log).
    receipts: ReceiptWriter | None = None

    def __post_init__(self) -> None:
        if self.receipts is None and self.log is not None:
            snapshot = self.snapshot or Snapshot.of(self.policy)
            object.__setattr__(self, "snapshot", snapshot)
            writer = ReceiptWriter(self.log, snapshot, self.log_timeout)
            object.__setattr__(self, "receipts", writer)
        if self.negotiate is None:
            languages = enabled_languages(self.policy.languages)
            negotiator = Negotiator(languages, self.policy.default_language)
            object.__setattr__(self, "negotiate", negotiator)

    @property
    def max_age(self) -> int:
        """Max-Age of the consent cookie in seconds (from the policy)."""
        return self.policy.max_age_days * 86400

    @property
    def vary(self) -> str:
        """What responses that depend on the visitor's consent vary on."""
        return "Cookie, Sec-GPC" if self.policy.gpc_ids else "Cookie"

    def cookie_header(self, state: ConsentState, https: bool) -> str:
        """The Set-Cookie value that stores `state` in the consent cookie."""
        return set_cookie_header(
            self.cookie_name,
            self.codec.encode(state),
            max_age=self.max_age,
            domain=self.domain,
            secure=https if self.secure is None else self.secure,
            same_site=self.same_site,
        )


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


def check_cookie_settings(
    cookie_name: str, path: str, secure: bool | None, same_site: str, domain: str | None
) -> None:
    """Refuse settings that browsers would reject or that would weaken the cookie."""
    if not cookie_name or any(c in cookie_name for c in ' =;,\t\r\n"'):
        raise ValueError(f"cookie_name {cookie_name!r} is not a valid cookie name")
    if same_site not in ("lax", "strict", "none"):
        raise ValueError(f"same_site must be 'lax', 'strict' or 'none', not {same_site!r}")
    if same_site == "none" and secure is False:
        raise ValueError("same_site='none' needs secure=True (browsers drop it otherwise)")
    if cookie_name.startswith("__Host-") and (domain is not None or secure is False):
        raise ValueError("a '__Host-' cookie needs secure=True or None and domain=None")
    if not path.startswith("/") or path.endswith("/") or "?" in path or "#" in path:
        raise ValueError(
            f"path must look like '/consent' (leading '/', no trailing '/'), not {path!r}"
        )
