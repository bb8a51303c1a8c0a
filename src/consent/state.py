"""ConsentState: what one visitor decided, as seen by one request."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from consent.policy import Policy

__all__ = ["ACTIONS", "Action", "ConsentState"]

Action = Literal["accept_all", "reject_all", "save"]
ACTIONS: tuple[str, ...] = get_args(Action)


@dataclass(frozen=True, slots=True)
class ConsentState:
    """The visitor's consent for this request. Pure data; build it with the class methods.

    Attributes:
        policy: the policy the state refers to.
        decided: True when a valid, current, unexpired choice exists.
        granted: granted category ids (required categories always included).
        services: granted service ids (all services of required categories included).
        issued_at: when the choice was made (UTC), None when undecided.
        receipt_id: random 128-bit id linking the cookie to its proof-of-consent record.
        revision: the policy revision the choice was made under.
        gpc: the request carried a Global Privacy Control signal, so the policy's
            `gpc_opt_out` categories and their services are denied whatever was stored.
        language: the language the visitor is shown (negotiated from Accept-Language,
            or chosen with `?lang=`); None outside a request.
    """

    policy: Policy = field(repr=False, compare=False)
    decided: bool
    granted: frozenset[str]
    services: frozenset[str]
    issued_at: datetime | None = None
    receipt_id: str | None = None
    revision: int = 0
    gpc: bool = False
    language: str | None = field(default=None, compare=False)

    @classmethod
    def undecided(cls, policy: Policy) -> ConsentState:
        """No choice yet: only required categories (and their services) are allowed."""
        required = policy.required_ids
        services = frozenset(s.id for s in policy.services if s.category in required)
        return cls(policy, False, required, services, revision=policy.revision)

    @classmethod
    def from_grants(
        cls,
        policy: Policy,
        categories: Iterable[str],
        services: Iterable[str],
        *,
        issued_at: datetime,
        receipt_id: str,
    ) -> ConsentState:
        """A decided state; required categories and their services are added here."""
        granted = frozenset(categories) | policy.required_ids
        services = frozenset(services) | {
            s.id for s in policy.services if s.category in policy.required_ids
        }
        return cls(policy, True, granted, services, issued_at, receipt_id, policy.revision)

    @classmethod
    def from_choice(
        cls,
        policy: Policy,
        action: Action,
        grant: Iterable[str] = (),
        *,
        issued_at: datetime,
        receipt_id: str,
    ) -> ConsentState:
        """The state a visitor's choice produces.

        For `save`, a category id grants the category with all its services, unless some
        of its services are listed too: then only those. A service id alone grants that
        service and not its category. Everything else is refused. Unknown ids raise
        KeyError naming the known ids.
        """
        if action == "accept_all":
            categories = {c.id for c in policy.categories}
            services = {s.id for s in policy.services}
        elif action == "reject_all":
            categories, services = set(), set()
        else:
            ids = set(grant)
            for id in ids:
                policy.kind_of(id)
            categories = {c.id for c in policy.categories if c.id in ids}
            services = {s.id for s in policy.services if s.id in ids}
            for category in categories:
                own = {s.id for s in policy.services_of(category)}
                if not own & services:
                    services |= own
        return cls.from_grants(
            policy, categories, services, issued_at=issued_at, receipt_id=receipt_id
        )

    def with_gpc(self) -> ConsentState:
        """This state under a Global Privacy Control signal: the `gpc_opt_out`
        categories and their services denied (GPC never grants anything)."""
        denied = self.policy.gpc_ids
        return ConsentState(
            self.policy,
            self.decided,
            self.granted - denied,
            self.services - denied,
            self.issued_at,
            self.receipt_id,
            self.revision,
            gpc=True,
            language=self.language,
        )

    def in_language(self, language: str) -> ConsentState:
        """This state, shown in `language`."""
        if language == self.language:
            return self
        return ConsentState(
            self.policy,
            self.decided,
            self.granted,
            self.services,
            self.issued_at,
            self.receipt_id,
            self.revision,
            self.gpc,
            language,
        )

    def allows(self, id: str) -> bool:
        """Whether the category or service `id` is granted.

        Raises:
            KeyError: `id` is neither a category nor a service of the policy; the message
                names the known ids.
        """
        # Ids are unique across categories and services, and `granted` holds only
        # category ids, `services` only service ids: a hit in either is the answer.
        if id in self.granted or id in self.services:
            return True
        self.policy.kind_of(id)  # KeyError for an id the policy does not know
        return False

    @property
    def refused(self) -> frozenset[str]:
        """Category ids the visitor did not grant (empty before a decision)."""
        if not self.decided:
            return frozenset()
        return frozenset(c.id for c in self.policy.categories) - self.granted

    @property
    def refused_services(self) -> frozenset[str]:
        """Service ids not granted, including those refused inside a granted category."""
        if not self.decided:
            return frozenset()
        return frozenset(s.id for s in self.policy.services) - self.services

    def to_json(self) -> dict[str, Any]:
        """The state as JSON-ready data (`GET /consent/state`). The receipt id stays out:
        scripts on the page, including third-party ones, can read this."""
        order = [c.id for c in self.policy.categories]
        service_order = [s.id for s in self.policy.services]
        refused, refused_services = self.refused, self.refused_services
        return {
            "decided": self.decided,
            "granted": [c for c in order if c in self.granted],
            "services": [s for s in service_order if s in self.services],
            "refused": [c for c in order if c in refused],
            "refused_services": [s for s in service_order if s in refused_services],
            "issued_at": self.issued_at.isoformat() if self.issued_at else None,
            "revision": self.revision,
            "fingerprint": self.policy.fingerprint,
            "gpc": self.gpc,
            "language": self.language,
        }

    @staticmethod
    def now() -> datetime:
        """The current UTC time, truncated to seconds as stored in the cookie."""
        return datetime.now(UTC).replace(microsecond=0)
