"""The Django app that brings the template tags (``{% load consent %}``)."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["ConsentConfig"]


class ConsentConfig(AppConfig):
    """``"consent.contrib.django"`` in ``INSTALLED_APPS``: no models, no URLs, only the
    template tag library `consent` (the consent routes are the middleware's)."""

    name = "consent.contrib.django"
    label = "consent"
    verbose_name = "Cookie consent"
