"""One small site on every Python stack, for the behavioural suite of tests/test_stacks.py.

Every stack serves the same three routes, in its own framework's idiom, wrapped in
ConsentMiddleware (ASGI) or ConsentWSGIMiddleware (WSGI) with the options it is given:

* ``GET /``: an HTML page (`text/html; charset=utf-8`) holding the consent parts made for
  the request (`page_html`; a stack with its own template language may render the same
  elements with it) and hand-written gated markup that only the server's gate makes inert;
* ``GET /cookies``: a plain-text response setting `PHPSESSID=s1` (essential) and
  `_ga=GA1.1` (analytics: dropped while refused);
* ``GET /state``: JSON ``{"decided": bool, "analytics": bool}`` read with `get_consent`.

To add a stack: write a function ``(policy, **options) -> httpx2.Client`` that builds the
app and returns a client for it with ``base_url="http://testserver"`` (Starlette's
TestClient for ASGI; ``httpx2.Client(transport=tests.wsgi_client.WSGITransport(app))``
for WSGI, which builds the environ as WSGI servers do, where httpx2's own WSGITransport
refuses header bytes above 127: httpx2 is the client Starlette's TestClient is built on),
and name it in `STACKS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import flask
import httpx2 as httpx
from fastapi import FastAPI, Request
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from consent import ConsentMiddleware, ConsentParts, Policy, consent_html, get_consent
from consent.fastapi import Consent
from consent.jinja import install
from consent.wsgi import ConsentWSGIMiddleware
from tests.conftest import SECRET
from tests.wsgi_client import WSGITransport

# Written by hand, as a site's own templates would be: the gate makes them inert.
RAW_MARKUP = (
    '<script data-consent="analytics" src="/static/raw.js"></script>'
    '<iframe data-consent="youtube" src="https://www.youtube-nocookie.com/embed/x" '
    'title="Video"></iframe>'
)


def page_html(parts: ConsentParts) -> str:
    """The page of `GET /`."""
    return (
        f"<!doctype html><html lang=en><head><title>Stack</title>{parts.head()}</head>"
        f"<body>{parts.banner()}<main><h1>News</h1>"
        f"{parts.script('analytics', src='/static/stats.js')}{RAW_MARKUP}"
        f"{parts.template('marketing', '<img src=/static/pixel.gif alt=>')}</main>"
        f"<footer>{parts.settings_link()}</footer>{parts.preferences()}</body></html>"
    )


def active_scripts(html: str) -> list[str]:
    """The `src` of every script a browser would run."""
    found = []
    for tag in re.findall(r"<script\b[^>]*>", html):
        kind = re.search(r'\btype="([^"]*)"', tag)
        src = re.search(r'\bsrc="([^"]*)"', tag)
        if src and (kind is None or kind.group(1) in ("", "module", "text/javascript")):
            found.append(src.group(1))
    return found


COOKIES = ("PHPSESSID=s1; Path=/; HttpOnly", "_ga=GA1.1; Path=/; Max-Age=3600")


def state_json(state: Any) -> dict[str, bool]:
    return {"decided": state.decided, "analytics": state.allows("analytics")}


Stack = Callable[..., httpx.Client]


def starlette_stack(policy: Policy, **options: Any) -> httpx.Client:
    async def home(request: Any) -> Response:
        return HTMLResponse(page_html(consent_html(request)))

    async def cookies(request: Any) -> Response:
        response = PlainTextResponse("cookies")
        for value in COOKIES:
            response.headers.append("set-cookie", value)
        return response

    async def state(request: Any) -> Response:
        return JSONResponse(state_json(get_consent(request)))

    app = Starlette(
        routes=[Route("/", home), Route("/cookies", cookies), Route("/state", state)],
        middleware=[Middleware(ConsentMiddleware, policy=policy, secret_key=SECRET, **options)],
    )
    return TestClient(app)


def fastapi_stack(policy: Policy, **options: Any) -> httpx.Client:
    app = FastAPI()
    app.add_middleware(ConsentMiddleware, policy=policy, secret_key=SECRET, **options)

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> str:
        return page_html(consent_html(request))

    @app.get("/cookies")
    def cookies(response: Response) -> PlainTextResponse:
        answer = PlainTextResponse("cookies")
        for value in COOKIES:
            answer.headers.append("set-cookie", value)
        return answer

    @app.get("/state")
    async def state(consent: Consent) -> dict[str, bool]:
        return state_json(consent)

    return TestClient(app)


# The page of `GET /` as a Flask (Jinja2) template: the same elements, through `install`.
FLASK_PAGE = (
    "<!doctype html><html lang=en><head><title>Stack</title>{{ consent.head() }}</head>"
    "<body>{{ consent.banner() }}<main><h1>News</h1>"
    "{{ consent.script('analytics', src='/static/stats.js') }}{{ raw }}"
    "{{ consent.template('marketing', '<img src=/static/pixel.gif alt=>') }}</main>"
    "<footer>{{ consent.settings_link() }}</footer>{{ consent.preferences() }}</body></html>"
)


def flask_stack(policy: Policy, **options: Any) -> httpx.Client:
    app = flask.Flask(__name__)
    install(app.jinja_env)

    @app.get("/")
    def home() -> str:
        return flask.render_template_string(FLASK_PAGE, raw=Markup(RAW_MARKUP))

    @app.get("/cookies")
    def cookies() -> flask.Response:
        response = flask.Response("cookies", mimetype="text/plain")
        for value in COOKIES:
            response.headers.add("Set-Cookie", value)
        return response

    @app.get("/state")
    def state() -> dict[str, bool]:
        return state_json(get_consent(flask.request))

    app.wsgi_app = ConsentWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, policy=policy, secret_key=SECRET, **options
    )
    return httpx.Client(transport=WSGITransport(app), base_url="http://testserver")


def django_asgi_stack(policy: Policy, **options: Any) -> Any:
    """Django's ASGI handler (tests/django_stack.py, which imports this module); the
    client holds the stack's Django settings while it is open."""
    from tests.django_stack import django_asgi

    return django_asgi(policy, **options)


def django_wsgi_stack(policy: Policy, **options: Any) -> Any:
    """Django's WSGI handler, in ConsentWSGIMiddleware."""
    from tests.django_stack import django_wsgi

    return django_wsgi(policy, **options)


STACKS: dict[str, Stack] = {
    "starlette": starlette_stack,
    "fastapi": fastapi_stack,
    "flask": flask_stack,
    "django-asgi": django_asgi_stack,
    "django-wsgi": django_wsgi_stack,
}
