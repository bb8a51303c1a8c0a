"""Google Consent Mode v2: which consent types each category grants, and the `default`
and `update` commands `consent.head()` hands to Google's tags.

Defaults for categories that do not say (`google_consent` unset), by id:

- `marketing`, `advertising`, `ads`: `ad_storage`, `ad_user_data`, `ad_personalization`;
- `analytics`, `statistics`, `measurement`, `performance`: `analytics_storage`;
- `functional`, `functionality`, `preferences`, `personalization`: `functionality_storage`
  and `personalization_storage`.

`security_storage` is always granted. A Global Privacy Control signal forces the three
advertising types to denied.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from consent.policy import CONSENT_TYPES, Category, Policy
from consent.state import ConsentState

__all__ = ["AD_TYPES", "CONSENT_TYPES", "category_types", "commands", "consent_values"]

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


def consent_values(
    policy: Policy, granted: Iterable[str], *, gpc: bool = False, also: Iterable[str] = ()
) -> dict[str, str]:
    """All seven types as "granted"/"denied" for the granted category ids (required ones
    always count), plus the types in `also`."""
    ids = set(granted) | policy.required_ids
    on = {*ALWAYS, *also}
    for category in policy.categories:
        if category.id in ids:
            on.update(category_types(category))
    if gpc:
        on.difference_update(AD_TYPES)
    return {kind: "granted" if kind in on else "denied" for kind in CONSENT_TYPES}


def commands(policy: Policy, state: ConsentState) -> dict[str, Any] | None:
    """What `gcm.js` pushes for this request: region defaults first, then the global
    default, then the update from a stored choice; and what it needs to compute later
    updates in the browser. None when the policy does not use Consent Mode."""
    mode = policy.google_consent_mode
    if mode is None:
        return None
    wait = {"wait_for_update": mode.wait_for_update} if mode.wait_for_update else {}
    defaults: list[dict[str, Any]] = [
        {**consent_values(policy, (), gpc=state.gpc, also=r.granted), "region": list(r.region)}
        | wait
        for r in mode.regions
    ]
    defaults.append(consent_values(policy, (), gpc=state.gpc) | wait)
    update = consent_values(policy, state.granted, gpc=state.gpc) if state.decided else None
    always = consent_values(policy, ())
    return {
        "default": defaults,
        "update": update,
        "types": {c.id: list(category_types(c)) for c in policy.categories},
        "always": [kind for kind, value in always.items() if value == "granted"],
        "ads": list(AD_TYPES),
        "all": list(CONSENT_TYPES),
    }
