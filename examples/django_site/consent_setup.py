"""The consent middleware's settings for the Django site: asgi.py and wsgi.py share them.

The policy is the shared example's (examples/consent.toml) plus the two cookies Django itself
sets, which are essential: the session (the log-in) and the CSRF token of the forms.
"""

from __future__ import annotations

from consent.policy import read_policy_data, validate_policy
from examples.site import HERE, SECRET_KEY, consent_log

__all__ = ["SECRET_KEY", "consent_log", "policy"]

DJANGO = {
    "id": "django",
    "category": "essential",
    "title": "Django",
    "description": "The framework that serves these pages: your log-in and the form checks.",
    "cookies": [
        {
            "name": "sessionid",
            "purpose": "Keeps you logged in: the signed session of this site.",
            "duration": "14 days",
        },
        {
            "name": "csrftoken",
            "purpose": "Protects the site's forms against requests forged by other sites.",
            "duration": "12 months",
        },
    ],
}

_data = read_policy_data(HERE / "consent.toml")
_data["services"] = [*_data["services"], DJANGO]
policy = validate_policy(_data, HERE / "consent.toml")
