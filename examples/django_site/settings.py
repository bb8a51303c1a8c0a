"""Django settings of the example news site: no database, sessions in a signed cookie."""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE.parent / "static"

# A real site reads its key from the environment or a secret store; the fallback only
# serves the local demo.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-demo-only-key-change-me-0123456789")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    # The template tags: {% load consent %}.
    "consent.contrib.django",
]

# The consent middleware is not listed here: it wraps the whole application in asgi.py and
# wsgi.py, so that it answers /consent/... before Django and sees every response Django
# sends, after all of these have run.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# The video player stand-in is embedded by this site's own pages.
X_FRAME_OPTIONS = "SAMEORIGIN"

ROOT_URLCONF = "examples.django_site.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [HERE / "templates"],
        "OPTIONS": {
            # The consent tags read the request from the context.
            "context_processors": ["django.template.context_processors.request"],
        },
    }
]

DATABASES: dict[str, dict[str, str]] = {}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_HTTPONLY = True
USE_TZ = True
