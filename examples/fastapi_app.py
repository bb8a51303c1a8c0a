"""The example news site as a FastAPI app: same policy, templates and behaviour.

Run it with `.venv/bin/uvicorn examples.fastapi_app:app`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from consent import ConsentMiddleware
from consent.fastapi import Consent
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

app = FastAPI(title="Example News", docs_url=None, redoc_url=None)
app.add_middleware(ConsentMiddleware, policy=policy, secret_key=SECRET_KEY, log=consent_log)
app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


@app.get("/")
async def home(request: Request) -> Response:
    return page(request, "home.html")


@app.get("/articles/{slug}")
async def article(request: Request, slug: str) -> Response:
    if slug not in ARTICLES:
        raise HTTPException(404)
    return page(request, "article.html", article=ARTICLES[slug], slug=slug)


@app.get("/embed/video")
async def video(request: Request) -> Response:
    return page(request, "video.html")


@app.get("/privacy")
async def privacy(request: Request) -> Response:
    return page(request, "privacy.html")


@app.get("/login")
async def login_form(request: Request) -> Response:
    response = page(request, "login.html")
    response.set_cookie("wordpress_test_cookie", "WP Cookie check", samesite="lax")
    return response


@app.post("/login")
async def login(request: Request) -> Response:
    return log_in(await username_from(request))


@app.post("/logout")
async def logout(request: Request) -> Response:
    return log_out(request)


@app.get("/api/articles")
async def articles(state: Consent) -> dict[str, Any]:
    """A JSON API that adapts to the visitor's choice, read through a dependency."""
    return {
        "articles": [{"slug": slug, "title": a["title"]} for slug, a in ARTICLES.items()],
        "personalised": state.allows("marketing"),
        "consent": state.to_json(),
    }
