"""Cookies on the server: Set-Cookie filtering, deletion on refusal, the consent cookie's
writer, and the one Set-Cookie formatter.

Every `Set-Cookie` the application emits is matched against the policy's cookie rules. A
cookie of a service the visitor has not allowed is dropped before it leaves the server;
deletions always pass, and so do required categories and the consent cookie itself.
Cookies of refused services that the browser still sends are expired (for every declared
path and domain, plus the host-only variant). Cookies of other sites cannot be reached from
here: a browser only sends, and only lets us replace, this site's own cookies.

A cookie the policy does not declare but the catalog knows as needing consent (`_ga`,
`_fbp`, `_hjSessionUser_1`: `consent.catalog.known_trackers`) is held to the policy category
of the same id (`analytics`, `marketing`, `functional`): dropped, and expired when the
browser sends it, until the visitor allows that category, whatever `undeclared_cookies`
says. Declaring the cookie puts it under the policy instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Literal

from consent.bounded_memo import remember
from consent.catalog import Tracker, known_trackers
from consent.cookies import cookie_names, parent_domains, parse_set_cookie
from consent.policy import CookieRule, Policy, Service, ServiceCookie
from consent.state import ConsentState

__all__ = ["CookieGuard", "CookieWriter", "SameSite", "Undeclared", "format_set_cookie"]

logger = logging.getLogger("consent")
Undeclared = Literal["allow", "warn", "block"]
SameSite = Literal["lax", "strict", "none"]
_MAX_WARNED = 1000


def format_set_cookie(
    name: str,
    value: str,
    *,
    max_age: int,
    path: str = "/",
    domain: str | None = None,
    same_site: SameSite | None = None,
    secure: bool = False,
    httponly: bool = False,
) -> str:
    """The value of a `Set-Cookie` header: the one formatter, for every cookie the
    middleware writes itself. `max_age=0` deletes the cookie.

    The caller passes a name and a value a browser accepts (checked at start-up for the
    consent cookie; `_COOKIE_NAME` for deletions), and a path and domain without `;`.
    """
    out = f"{name}={value}"
    if domain is not None:
        out += f"; Domain={domain}"
    out += f"; Max-Age={max_age}; Path={path}"
    if same_site is not None:
        out += f"; SameSite={same_site.capitalize()}"
    if secure:
        out += "; Secure"
    if httponly:
        out += "; HttpOnly"
    return out


class CookieWriter:
    """Writes the cookies the middleware sets itself: the consent cookie, and the deletions
    of the copies of it that another (sub-)domain or path planted. (Deletions of refused
    services' cookies are the guard's: `CookieGuard.deletions`.)

    Args:
        name: the consent cookie's name.
        max_age: its lifetime in seconds (the policy's `max_age_days`).
        domain: its Domain attribute; None: host-only.
        secure: its Secure flag; None: set on https requests.
        same_site: its SameSite attribute.
    """

    __slots__ = ("domain", "max_age", "name", "same_site", "secure")

    def __init__(
        self,
        name: str,
        *,
        max_age: int,
        domain: str | None,
        secure: bool | None,
        same_site: SameSite,
    ) -> None:
        self.name = name
        self.max_age = max_age
        self.domain = domain
        self.secure = secure
        self.same_site = same_site

    def __repr__(self) -> str:
        return f"<CookieWriter {self.name!r}>"

    def consent(self, value: str, *, https: bool) -> bytes:
        """The Set-Cookie header value that stores the signed consent `value`."""
        return format_set_cookie(
            self.name,
            value,
            max_age=self.max_age,
            domain=self.domain,
            same_site=self.same_site,
            secure=https if self.secure is None else self.secure,
            httponly=True,
        ).encode("latin-1")

    def variant(self, variant: str | None, *, https: bool) -> bytes:
        """The Set-Cookie header value of the variant cookie (`shared_cache`): the consent
        cookie's name + `_variant`, with its attributes but readable by scripts and edges
        (not HttpOnly: it is public, unsigned, and only names a cache variant). `variant`
        is its whole value, `variant_marker(...)`: the variant and the tag binding it to
        the consent cookie set with it. None expires it (an undecided visitor carries
        none)."""
        return format_set_cookie(
            self.name + "_variant",
            '""' if variant is None else variant,
            max_age=self.max_age if variant is not None else 0,
            domain=self.domain,
            same_site=self.same_site,
            secure=https if self.secure is None else self.secure,
        ).encode("latin-1")

    def expire_copies(self, host: str, path: str, *, https: bool) -> list[bytes]:
        """Set-Cookie values expiring every copy of the consent cookie that a request to
        `host` and `path` may carry, except the visitor's own (path `/`, host-only or the
        configured `domain`).

        A sibling sub-domain can plant ("toss") a cookie of the same name with
        `Domain=<parent>` and a longer `Path`; a cookie is only replaced or deleted with its
        exact domain and path, so each candidate pair is listed: the request path's prefixes
        (5 levels, with and without a trailing `/`) and the host's parent domains.
        """
        domains: list[str | None] = [None, *parent_domains(host)]
        paths = ["/"]
        segments = [s for s in path.split("/") if s][:5]
        for depth in range(1, len(segments) + 1):
            prefix = "/" + "/".join(segments[:depth])
            paths += [prefix, prefix + "/"]
        own = (self.domain or "").lstrip(".").lower() or None
        found = []
        for domain in domains:
            for cookie_path in paths:
                if cookie_path == "/" and domain == own:
                    continue  # the visitor's own cookie
                if any(c in cookie_path for c in ';,"\\') or not cookie_path.isprintable():
                    continue
                header = format_set_cookie(
                    self.name, '""', max_age=0, path=cookie_path, domain=domain, secure=https
                )
                found.append(header.encode("latin-1"))
        return found


class CookieGuard:
    """Knows which service owns a cookie name, and what a visitor's state lets through."""

    def __init__(self, policy: Policy, *, consent_cookie: str, undeclared: Undeclared) -> None:
        if undeclared not in ("allow", "warn", "block"):
            raise ValueError(
                f"undeclared_cookies must be 'allow', 'warn' or 'block', not {undeclared!r}"
            )
        self.policy = policy
        self.consent_cookie = consent_cookie
        self.undeclared = undeclared
        self._exact: dict[str, ServiceCookie] = {}
        self._prefixes: list[tuple[str, Service, CookieRule]] = []
        for service, rule in policy.cookie_rules():
            if rule.is_prefix:
                self._prefixes.append((rule.name[:-1], service, rule))
            else:
                self._exact[rule.name] = ServiceCookie(service, rule)
        self._prefixes.sort(key=lambda item: -len(item[0]))  # the most specific rule wins
        optional = [
            re.escape(rule.name[:-1]) + r"[^=;\s]*" if rule.is_prefix else re.escape(rule.name)
            for service, rule in policy.cookie_rules()
            if service.category not in policy.required_ids
        ]
        # A quick test on the raw Cookie header: does it carry any optional cookie at all?
        self._optional = (
            re.compile(r"(?:^|[;\s])(?:" + "|".join(optional) + r")=") if optional else None
        )
        self._warned: set[str] = set()
        self._seen: dict[str, ServiceCookie | None] = {}
        self._always = {s.id for s in policy.services if s.category in policy.required_ids}
        # Built once per process (cached); the memo below spares even its few dict look-ups.
        self._trackers = known_trackers()
        self._tracked: dict[str, Tracker | None] = {}
        self._categories = frozenset(c.id for c in policy.categories)

    def tracker(self, name: str) -> Tracker | None:
        """What the catalog knows about cookie `name` when it needs consent, or None.

        Only asked about names the policy does not declare: a declaration always wins.
        """
        try:
            return self._tracked[name]  # one access: another thread may clear it meanwhile
        except KeyError:
            found = self._trackers.lookup(name)
        if len(name) <= _MAX_NAME:  # a name from a Cookie header may be of any length
            remember(self._tracked, name, found)
        return found

    def _held_back(self, name: str, tracker: Tracker, state: ConsentState) -> bool:
        """A1, A3: whether the app's undeclared cookie `name`, which the catalog knows as
        `tracker`, is dropped: until the visitor allows the policy category of the same id,
        or always when the policy has no such category."""
        if tracker.category in state.granted:
            return False
        if name not in self._warned and len(self._warned) < _MAX_WARNED:
            self._warned.add(name)
            wait = (
                f"until the visitor allows {tracker.category!r}"
                if tracker.category in self._categories
                else f"(the policy has no {tracker.category!r} category)"
            )
            logger.warning(
                "cookie %r is not declared in the consent policy and is known as %s (%s): "
                "it is dropped %s; declare it to decide yourself",
                name,
                tracker.category,
                tracker.platform,
                wait,
            )
        return True

    def owner(self, name: str) -> ServiceCookie | None:
        """The service and rule that declare cookie `name`, or None."""
        found = self._exact.get(name)
        if found is not None:
            return found
        if name in self._seen:
            return self._seen[name]
        for prefix, service, rule in self._prefixes:
            if name.startswith(prefix):
                found = ServiceCookie(service, rule)
                break
        return remember(self._seen, name, found)

    def passes(self, name: str, state: ConsentState) -> bool:
        """Whether the app may set cookie `name` for a visitor in `state`."""
        if name == self.consent_cookie:
            return True
        found = self.owner(name)
        if found is None:
            tracker = self.tracker(name)
            if tracker is not None:
                return not self._held_back(name, tracker, state)
            if self.undeclared == "warn" and name not in self._warned:
                if len(self._warned) < _MAX_WARNED:
                    self._warned.add(name)
                    logger.warning("cookie %r is not declared in the consent policy", name)
            return self.undeclared != "block"
        service_id = found[0].id
        return service_id in self._always or service_id in state.services

    def filter(
        self, headers: list[tuple[bytes, bytes]], state: ConsentState
    ) -> tuple[list[tuple[bytes, bytes]], list[str]]:
        """`headers` without the Set-Cookie lines `state` does not allow, and their names."""
        kept: list[tuple[bytes, bytes]] = []
        dropped: list[str] = []
        for key, value in headers:
            if key == b"set-cookie" or key.lower() == b"set-cookie":
                cookie = parse_set_cookie(value.decode("latin-1"))
                if not self.passes(cookie.name, state) and not cookie.deletes():
                    dropped.append(cookie.name)
                    continue
            kept.append((key, value))
        return kept, dropped

    def may_carry_refused(self, cookie_header: str) -> bool:
        """Could this Cookie header hold a cookie of an optional service, or an undeclared
        tracker? (The middleware asks once per distinct header.)"""
        names = cookie_names(cookie_header)
        # (A quick test first: is any optional cookie's name in the header at all?)
        if self._optional is not None and self._optional.search(cookie_header) is not None:
            if any(self._is_optional(name) for name in names):
                return True
        return self._any_tracker(names)

    def _is_optional(self, name: str) -> bool:
        found = self.owner(name)
        return found is not None and found[0].id not in self._always

    def carries_tracker(self, cookie_header: str) -> bool:
        """Whether this Cookie header holds an undeclared cookie that the catalog knows as
        needing consent (which `deletions` expires while its category is not allowed)."""
        return self._any_tracker(cookie_names(cookie_header))

    def _any_tracker(self, names: list[str]) -> bool:
        return any(self.owner(name) is None and self.tracker(name) is not None for name in names)

    def deletions(
        self, cookie_names: Iterable[str], state: ConsentState, *, secure: bool, host: str = ""
    ) -> list[str]:
        """Set-Cookie values expiring every carried cookie of a service `state` refuses,
        and every undeclared one the catalog knows while its category is not allowed.

        A script may have set such a cookie for this host or for any parent domain (Google's
        tag sets `_ga` on the registrable domain by default), and a cookie is only removed
        with the domain it was set for: each is expired host-only, for the domain its rule
        declares, and for each parent domain of `host` (the request's Host header).
        """
        out: list[str] = []
        parents = parent_domains(host)
        for name in cookie_names:
            found = self.owner(name)
            if found is None:
                out += self._tracker_deletions(name, state, secure=secure, parents=parents)
                continue
            if state.allows(found[0].id):
                continue
            rule = found[1]
            prefixed = name.startswith(("__Secure-", "__Host-"))
            domains: list[str | None] = [None, *parents]
            if rule.domain is not None:
                # As declared, and not twice; a vendor's own domain (`.youtube.com`) is none
                # of this site's: only a site cookie of the same name can be reached.
                declared = rule.domain.lstrip(".").lower()
                domains = [None]
                if _may_hold(host, rule.domain):
                    domains = [rule.domain, None, *(d for d in parents if d != declared)]
            if not _COOKIE_NAME.fullmatch(name):
                continue  # nothing a Set-Cookie header could name
            for domain in domains:
                out.append(deletion_header(name, rule.path, domain, secure or prefixed))
        return out

    def _tracker_deletions(
        self, name: str, state: ConsentState, *, secure: bool, parents: list[str]
    ) -> list[str]:
        """A1: expiring an undeclared, catalog-known cookie that `state` does not allow
        (`parents`: the request host's `parent_domains`)."""
        if name == self.consent_cookie or not _COOKIE_NAME.fullmatch(name):
            return []
        tracker = self.tracker(name)
        if tracker is None or tracker.category in state.granted:
            return []
        # Scripts put such cookies on the widest domain they can (`_ga` on `example.com` for
        # `www.example.com`), and a cookie is only removed with its own domain.
        domains: list[str | None] = [None, *parents]
        secure = secure or name.startswith(("__Secure-", "__Host-"))
        return [deletion_header(name, "/", domain, secure) for domain in domains]


# What browsers accept as a cookie name, and so what a script may have set: anything but
# controls, whitespace, `;`, `=` and `,` (the standard library's SimpleCookie is stricter,
# and raised on names such as `_pk_id.x(1)`).
_COOKIE_NAME = re.compile(r"[^\x00-\x20\x7f;=,]{1,256}")


_MAX_NAME = 256


def _may_hold(host: str, domain: str) -> bool:
    """Whether a response for `host` can set a cookie with `Domain=domain` (RFC 6265, 5.3:
    the host must domain-match it); a vendor's domain (`.youtube.com`) is not worth a
    header the browser ignores. Without a host name to tell, it may."""
    name = parent_domains(host)
    if not name:
        return True
    domain = domain.lstrip(".").lower()
    return name[0] == domain or name[0].endswith("." + domain)


def deletion_header(name: str, path: str, domain: str | None, secure: bool) -> str:
    """A `Set-Cookie` value expiring cookie `name` (a name `_COOKIE_NAME` accepts)."""
    return format_set_cookie(
        name, '""', max_age=0, path=path, domain=domain, same_site="lax", secure=secure
    )
