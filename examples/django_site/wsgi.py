"""The Django site under WSGI (gunicorn, mod_wsgi, waitress), wrapped in the consent
middleware: `gunicorn examples.django_site.wsgi:application`.
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from consent.wsgi import ConsentWSGIMiddleware
from examples.django_site.consent_setup import SECRET_KEY, consent_log, policy

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_site.settings")

application = ConsentWSGIMiddleware(
    get_wsgi_application(), policy=policy, secret_key=SECRET_KEY, log=consent_log
)
