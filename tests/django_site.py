"""Real Django for the tests: the example project's settings, a URLconf of test views, and
`django_client`: Django's own ASGI handler in ConsentMiddleware, or its WSGI handler in
ConsentWSGIMiddleware.

Django is configured once per process, from the example project's settings module (set here,
so only the modules importing this one see it); each test changes what it needs with
``override_settings``, which Django undoes afterwards.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import django
import httpx2 as httpx
import pytest
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.core.handlers.wsgi import WSGIHandler
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.template import engines
from django.test import override_settings
from django.urls import path
from django.views.decorators.csrf import csrf_protect
from starlette.testclient import TestClient

from consent import ConsentMiddleware, Policy, get_consent
from consent.wsgi import ConsentWSGIMiddleware
from examples.django_site.consent_setup import policy as EXAMPLE_POLICY
from tests.wsgi_client import WSGITransport

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_site.settings")
django.setup()

KEY = "django-tests-key-0123456789abcdef0123456789"
GATED = '<p>News</p><script data-consent="matomo" src="/static/analytics.js"></script>'
# Over 200 bytes, so that GZipMiddleware compresses it.
FILLER = "<p>" + "Words of the day. " * 12 + "</p>"
PAGE = f"<!doctype html><html><head><title>t</title></head><body>{GATED}{FILLER}</body></html>"

# Template sources by name, for the `render` view (tests add theirs).
SOURCES: dict[str, str] = {}


def html(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE)


async def async_html(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE)


def cookies(request: HttpRequest) -> HttpResponse:
    """A refused statistics cookie beside Django's own session and CSRF cookies."""
    request.session["user"] = "ann"
    response = HttpResponse("ok", content_type="text/plain")
    response.set_cookie("_ga", "GA1.1.1", max_age=3600)
    response.set_cookie("_pk_id.1", "abc")
    return response


# Cut inside the gated tag: the gate sees it whole across chunks.
CHUNKS = (PAGE[:40].encode(), PAGE[40:100].encode(), PAGE[100:].encode())


def streamed(request: HttpRequest) -> StreamingHttpResponse:
    """Streamed as Django advises: an async iterator under ASGI, a plain one under WSGI."""
    if isinstance(request, ASGIRequest):

        async def chunks() -> AsyncIterator[bytes]:
            for chunk in CHUNKS:
                yield chunk

        return StreamingHttpResponse(chunks())
    return StreamingHttpResponse(iter(CHUNKS))


def file(request: HttpRequest) -> FileResponse:
    # Django guesses text/html from the name, as it would for a file on disk.

    return FileResponse(io.BytesIO(PAGE.encode()), filename="page.html")


def encoded(request: HttpRequest) -> HttpResponse:
    """An HTML body the view encoded itself (`?coding=`), whatever the request accepted:
    gzip, or a coding nobody knows (the body left as it is)."""
    coding = request.GET.get("coding", "gzip")
    body = gzip.compress(PAGE.encode()) if coding == "gzip" else PAGE.encode()
    response = HttpResponse(body)
    response["Content-Encoding"] = coding
    return response


def state(request: HttpRequest) -> JsonResponse:
    return JsonResponse(get_consent(request).to_json())


async def async_state(request: HttpRequest) -> JsonResponse:
    return JsonResponse(get_consent(request).to_json())


@csrf_protect
def form(request: HttpRequest) -> HttpResponse:
    return HttpResponse("posted" if request.method == "POST" else "form", content_type="text/plain")


def render(request: HttpRequest, name: str) -> HttpResponse:
    template = engines["django"].from_string(SOURCES[name])
    return HttpResponse(template.render({"q": request.GET}, request))


urlpatterns = [
    path("html", html),
    path("async", async_html),
    path("cookies", cookies),
    path("streamed", streamed),
    path("file", file),
    path("encoded", encoded),
    path("state", state),
    path("async-state", async_state),
    path("form", form),
    path("render/<str:name>", render),
]
SOURCES["csrf"] = "<form>{% csrf_token %}</form>"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]


KINDS = ("asgi", "wsgi")
"""Django's two handlers."""
BOTH_HANDLERS = pytest.mark.parametrize("kind", KINDS)
"""For a test that takes `kind`: run it under ASGI and under WSGI."""


@contextmanager
def django_app(
    middleware: list[str] | None = None,
    policy: Policy = EXAMPLE_POLICY,
    kind: str = "asgi",
    **settings: Any,
) -> Iterator[ConsentMiddleware | ConsentWSGIMiddleware]:
    """Django's ASGI (`kind="asgi"`) or WSGI handler with this module's views, in
    ConsentMiddleware or ConsentWSGIMiddleware with `policy` (the Django example's by
    default), while `settings` (and `middleware`, Django's MIDDLEWARE) hold."""
    with override_settings(
        ROOT_URLCONF="tests.django_site",
        MIDDLEWARE=MIDDLEWARE if middleware is None else middleware,
        ALLOWED_HOSTS=["testserver"],
        **settings,
    ):
        # Django reads MIDDLEWARE when the handler is made: one handler per setting.
        if kind == "wsgi":
            yield ConsentWSGIMiddleware(WSGIHandler(), policy=policy, secret_key=KEY)
        else:
            yield ConsentMiddleware(ASGIHandler(), policy=policy, secret_key=KEY)


def client_for(app: ConsentMiddleware | ConsentWSGIMiddleware, root: str = "") -> httpx.Client:
    """A client on `app` at http://testserver, the site mounted at `root` (the ASGI root
    path; the WSGI SCRIPT_NAME). Not a lifespan client: Django's handler refuses the
    lifespan protocol, and servers such as uvicorn carry on without it."""
    if isinstance(app, ConsentWSGIMiddleware):
        transport = WSGITransport(app, script_name=root)
        return httpx.Client(transport=transport, base_url="http://testserver")
    return TestClient(app, root_path=root)


@contextmanager
def django_client(
    middleware: list[str] | None = None,
    policy: Policy = EXAMPLE_POLICY,
    kind: str = "asgi",
    **settings: Any,
) -> Iterator[httpx.Client]:
    """A client on `django_app`."""
    with django_app(middleware, policy, kind, **settings) as app:
        yield client_for(app)
