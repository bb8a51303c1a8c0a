"""The consent policy: categories -> services -> cookies.

A policy is what a site declares and what visitors consent to. It is plain data,
validated once when it is loaded, and framework-free: nothing here imports Starlette
or Jinja2. Every name is importable from `consent.policy`; the modules hold one part each.
"""

from __future__ import annotations

from consent.policy.base import PolicyModel, Slug
from consent.policy.categories import Category
from consent.policy.cookie_rules import CookieRule
from consent.policy.document import Policy, ServiceCookie
from consent.policy.google_consent_mode import (
    CONSENT_TYPES,
    ConsentType,
    GoogleConsentMode,
    GoogleType,
    RegionDefault,
)
from consent.policy.loading import load_policy, read_policy_data, validate_policy
from consent.policy.problems import PolicyError, Problem
from consent.policy.services import Service
from consent.policy.text import Banner, Text, localize

__all__ = [
    "CONSENT_TYPES",
    "Banner",
    "Category",
    "ConsentType",
    "CookieRule",
    "GoogleConsentMode",
    "GoogleType",
    "Policy",
    "PolicyError",
    "PolicyModel",
    "Problem",
    "RegionDefault",
    "Service",
    "ServiceCookie",
    "Slug",
    "Text",
    "load_policy",
    "localize",
    "read_policy_data",
    "validate_policy",
]
