"""The Django site under ASGI, wrapped in the consent middleware.

Run it with `make demo APP=django`, or `uvicorn examples.django_site.asgi:application`.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from consent import ConsentMiddleware
from examples.django_site.consent_setup import SECRET_KEY, consent_log, policy

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_site.settings")

# Outside Django: the consent routes are answered before Django's middleware (CSRF
# included) sees them, and every response Django sends passes through the consent gate.
application = ConsentMiddleware(
    get_asgi_application(), policy=policy, secret_key=SECRET_KEY, log=consent_log
)
