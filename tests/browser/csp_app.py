"""A page under a strict Content-Security-Policy (no 'unsafe-inline'), for the browser tests.

Gated scripts carry the page's nonce; once allowed they must run, in document order.
"""

from __future__ import annotations

import secrets

from jinja2 import DictLoader, Environment
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from consent import ConsentMiddleware, load_policy
from consent.jinja import context_processor
from examples.site import HERE

PAGE = """<!doctype html><html lang="en"><head><title>CSP</title>
{{ consent.head(nonce=nonce) }}</head>
<body>{{ consent.banner() }}<main><h1>Strict CSP</h1>
{{ consent.script("analytics", src="/order.js?n=1", nonce=nonce) }}
{% call consent.gate("analytics") %}
<script nonce="{{ nonce }}">window.order.push(2)</script>
{% endcall %}
{{ consent.script("analytics", src="/order.js?n=3", nonce=nonce) }}
</main><script nonce="{{ nonce }}" src="/setup.js"></script>
{{ consent.preferences() }}</body></html>"""

templates = Jinja2Templates(
    env=Environment(loader=DictLoader({"page.html": PAGE}), autoescape=True),
    context_processors=[context_processor],
)


async def page(request: Request) -> Response:
    nonce = secrets.token_urlsafe(12)
    response = templates.TemplateResponse(request, "page.html", {"nonce": nonce})
    response.headers["content-security-policy"] = (
        f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'"
    )
    return response


async def order(request: Request) -> Response:
    n = int(request.query_params["n"])
    return PlainTextResponse(f"window.order.push({n});", media_type="text/javascript")


async def setup(request: Request) -> Response:
    return PlainTextResponse("window.order = window.order || [];", media_type="text/javascript")


app = Starlette(
    routes=[Route("/", page), Route("/order.js", order), Route("/setup.js", setup)],
    middleware=[
        Middleware(
            ConsentMiddleware,
            policy=load_policy(HERE / "consent.toml"),
            secret_key="csp-test-secret-0123456789abcdef0123",
        )
    ],
)
