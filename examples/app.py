"""The example news site as a Starlette app with the consent middleware.

Run it with `make demo` and open http://127.0.0.1:8000.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from consent import ConsentMiddleware
from examples.site import (
    ARTICLES,
    SECRET_KEY,
    STATIC_DIR,
    consent_log,
    log_in,
    log_out,
    page,
    policy,
    username_from,
)


async def home(request: Request) -> Response:
    return page(request, "home.html")


async def article(request: Request) -> Response:
    slug = request.path_params["slug"]
    if slug not in ARTICLES:
        raise HTTPException(404)
    return page(request, "article.html", article=ARTICLES[slug], slug=slug)


async def video(request: Request) -> Response:
    return page(request, "video.html")


async def privacy(request: Request) -> Response:
    return page(request, "privacy.html")


async def login(request: Request) -> Response:
    if request.method == "POST":
        return log_in(await username_from(request))
    response = page(request, "login.html")
    response.set_cookie("wordpress_test_cookie", "WP Cookie check", samesite="lax")
    return response


async def logout(request: Request) -> Response:
    return log_out(request)


app = Starlette(
    routes=[
        Route("/", home),
        Route("/articles/{slug}", article),
        Route("/embed/video", video),
        Route("/privacy", privacy),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ],
    middleware=[
        Middleware(ConsentMiddleware, policy=policy, secret_key=SECRET_KEY, log=consent_log)
    ],
)
