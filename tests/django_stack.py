"""The Django entries of tests/stacks.py: the suite's three routes as Django views, the page
written in Django's template language with ``{% load consent %}``.

Django is set up by tests/django_site.py (the example project's settings); this URLconf
and the stack's settings hold while the client is open.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx2 as httpx
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import engines
from django.test import override_settings
from django.urls import path
from django.utils.safestring import mark_safe
from starlette.testclient import TestClient

from consent import ConsentMiddleware, Policy, get_consent
from consent.wsgi import ConsentWSGIMiddleware
from tests.conftest import SECRET
from tests.django_site import MIDDLEWARE
from tests.stacks import RAW_MARKUP, state_json
from tests.wsgi_client import WSGITransport

PAGE = (
    "{% load consent %}<!doctype html><html lang=en><head><title>Stack</title>"
    "{% consent_head %}</head><body>{% consent_banner %}<main><h1>News</h1>"
    '{% consent_script "analytics" src="/static/stats.js" %}{{ raw }}'
    '{% consent_gate "marketing" %}<img src=/static/pixel.gif alt=>{% endconsent_gate %}'
    "</main><footer>{% consent_settings_link %}</footer>{% consent_preferences %}"
    "</body></html>"
)


def home(request: HttpRequest) -> HttpResponse:
    # The site's own hand-written markup: only the server's gate makes it inert.
    context = {"raw": mark_safe(RAW_MARKUP)}
    return HttpResponse(engines["django"].from_string(PAGE).render(context, request))


def cookies(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("cookies", content_type="text/plain")
    response.set_cookie("PHPSESSID", "s1", httponly=True)
    response.set_cookie("_ga", "GA1.1", max_age=3600)
    return response


def state(request: HttpRequest) -> JsonResponse:
    return JsonResponse(state_json(get_consent(request)))


urlpatterns = [path("", home), path("cookies", cookies), path("state", state)]


class DjangoClient:
    """A client for Django under the stack's settings, which end with the client.

    Not a lifespan client: Django's handler refuses the lifespan protocol (uvicorn's
    default carries on without it), so entering the client runs none.
    """

    def __init__(self, client: httpx.Client, settings: override_settings) -> None:
        self.client = client
        self._settings = settings

    def __enter__(self) -> httpx.Client:
        return self.client

    def __exit__(
        self,
        kind: type[BaseException] | None = None,
        error: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.client.close()
        self._settings.disable()


def stack_settings() -> override_settings:
    settings = override_settings(
        ROOT_URLCONF="tests.django_stack", MIDDLEWARE=MIDDLEWARE, ALLOWED_HOSTS=["testserver"]
    )
    settings.enable()
    return settings


def django_asgi(policy: Policy, **options: Any) -> DjangoClient:
    """Django's ASGI handler in ConsentMiddleware."""
    settings = stack_settings()
    app = ConsentMiddleware(ASGIHandler(), policy=policy, secret_key=SECRET, **options)
    return DjangoClient(TestClient(app), settings)


def django_wsgi(policy: Policy, **options: Any) -> DjangoClient:
    """Django's WSGI handler in ConsentWSGIMiddleware."""
    settings = stack_settings()
    app = ConsentWSGIMiddleware(WSGIHandler(), policy=policy, secret_key=SECRET, **options)
    client = httpx.Client(transport=WSGITransport(app), base_url="http://testserver")
    return DjangoClient(client, settings)
