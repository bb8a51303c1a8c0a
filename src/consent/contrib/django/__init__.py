"""Django: add ``"consent.contrib.django"`` to ``INSTALLED_APPS`` for ``{% load consent %}``.

The middleware itself wraps Django's application (``ConsentMiddleware(get_asgi_application(),
...)`` in asgi.py, ``ConsentWSGIMiddleware(get_wsgi_application(), ...)`` in wsgi.py): it
answers the consent routes before Django sees them and enforces the choice on every response.
In views, ``consent.get_consent(request)`` reads the visitor's choice.
"""

from __future__ import annotations
