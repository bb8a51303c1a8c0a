"""Google Consent Mode v2: which consent types each category grants, and the `default`
and `update` commands `consent.head()` hands to Google's tags.

Defaults for categories that do not say (`google_consent` unset), by id:

- `marketing`, `advertising`, `ads`: `ad_storage`, `ad_user_data`, `ad_personalization`;
- `analytics`, `statistics`, `measurement`, `performance`: `analytics_storage`;
- `functional`, `functionality`, `preferences`, `personalization`: `functionality_storage`
  and `personalization_storage`.

A service grants the types it lists (`google_consent` on the service), or else those of
its preset (the Google presets carry theirs), when it is allowed: a visitor who allows
Google Analytics alone, not its whole category, grants `analytics_storage`. A type is
granted when any granted category or allowed service grants it.

Consent Mode is on when the policy has a `[google_consent_mode]` table, or when a category
or service lists `google_consent` types itself (the table then only adds options); the
defaults by id and by preset never turn it on.

`security_storage` is always granted. A Global Privacy Control signal forces the three
advertising types to denied.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from consent.catalog import presets
from consent.policy import CONSENT_TYPES, Category, Policy, Service
from consent.state import ConsentState

__all__ = [
    "AD_TYPES",
    "CONSENT_TYPES",
    "category_types",
    "commands",
    "consent_values",
    "service_types",
]

AD_TYPES = ("ad_storage", "ad_user_data", "ad_personalization")
_ANALYTICS = ("analytics_storage",)
_FUNCTIONAL = ("functionality_storage", "personalization_storage")
DEFAULT_TYPES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("marketing", "advertising", "ads"), AD_TYPES),
    **dict.fromkeys(("analytics", "statistics", "measurement", "performance"), _ANALYTICS),
    **dict.fromkeys(("functional", "functionality", "preferences", "personalization"), _FUNCTIONAL),
}
ALWAYS = ("security_storage",)


def category_types(category: Category) -> tuple[str, ...]:
    """The consent types granting `category` grants."""
    if category.google_consent is not None:
        return category.google_consent
    return DEFAULT_TYPES.get(category.id, ())


def service_types(service: Service) -> tuple[str, ...]:
    """The consent types allowing `service` grants: its own, else its preset's."""
    if service.google_consent is not None:
        return service.google_consent
    if service.preset is None:
        return ()
    return tuple(presets().get(service.preset, {}).get("google_consent", ()))


def consent_values(
    policy: Policy,
    granted: Iterable[str],
    *,
    services: Iterable[str] = (),
    gpc: bool = False,
    also: Iterable[str] = (),
) -> dict[str, str]:
    """All seven types as "granted"/"denied" for the granted category ids and allowed
    service ids (required categories and their services always count), plus the types in
    `also`."""
    ids = set(granted) | policy.required_ids | set(services)
    on = {*ALWAYS, *also}
    for category in policy.categories:
        if category.id in ids:
            on.update(category_types(category))
    for service in policy.services:
        if service.id in ids or service.category in policy.required_ids:
            on.update(service_types(service))
    if gpc:
        on.difference_update(AD_TYPES)
    return {kind: "granted" if kind in on else "denied" for kind in CONSENT_TYPES}


def commands(policy: Policy, state: ConsentState) -> dict[str, Any] | None:
    """What `gcm.js` pushes for this request: region defaults first, then the global
    default, then the update from a stored choice; and what it needs to compute later
    updates in the browser. None when the policy does not use Consent Mode (see
    `Policy.uses_consent_mode`)."""
    if not policy.uses_consent_mode:
        return None
    mode = policy.google_consent_mode
    wait = {"wait_for_update": mode.wait_for_update} if mode and mode.wait_for_update else {}
    defaults: list[dict[str, Any]] = [
        {**consent_values(policy, (), gpc=state.gpc, also=r.granted), "region": list(r.region)}
        | wait
        for r in (mode.regions if mode else ())
    ]
    defaults.append(consent_values(policy, (), gpc=state.gpc) | wait)
    update = None
    if state.decided:
        update = consent_values(policy, state.granted, services=state.services, gpc=state.gpc)
    always = consent_values(policy, ())
    # By id: category and service ids are unique together, and gcm.js looks up both the
    # granted categories and the allowed services of a new choice.
    types = {c.id: list(category_types(c)) for c in policy.categories}
    types.update((s.id, list(service_types(s))) for s in policy.services if service_types(s))
    return {
        "default": defaults,
        "update": update,
        "types": types,
        "always": [kind for kind, value in always.items() if value == "granted"],
        "ads": list(AD_TYPES),
        "all": list(CONSENT_TYPES),
    }
