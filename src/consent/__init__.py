"""asgi-consent: server-side cookie consent for any ASGI application."""

from __future__ import annotations

from consent.middleware import ConsentMiddleware, get_consent
from consent.parts import ConsentParts, consent_html
from consent.policy import Category, CookieRule, Policy, PolicyError, Service, load_policy
from consent.state import ConsentState

__version__ = "0.1.0"

__all__ = [
    "Category",
    "ConsentMiddleware",
    "ConsentParts",
    "ConsentState",
    "CookieRule",
    "Policy",
    "PolicyError",
    "Service",
    "__version__",
    "consent_html",
    "get_consent",
    "load_policy",
]
