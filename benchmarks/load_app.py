"""The site `benchmarks/load.py` drives: one page with a gated statistics script, served
with ConsentMiddleware (`with_consent`) or without it (`without_consent`, where the
consent route is a plain endpoint that reads the body and answers), so that both runs
make the same requests."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from consent import ConsentMiddleware, get_consent, load_policy
from consent.receipts import ConsentLog, PostgresConsentLog, SQLiteConsentLog

ROOT = Path(__file__).resolve().parent.parent
POLICY = load_policy(ROOT / "examples" / "consent.toml")
SECRET = "load-test-secret-key-0123456789abcdef-0123"
ARTICLE = "<p>" + "The two governments adopted a joint vision. " * 40 + "</p>"


def page(consent: bool, request: Request) -> Response:
    allowed = consent and get_consent(request).allows("matomo")
    gated = "" if allowed else ' type="text/plain"'
    stats = f'<script data-consent="matomo" src="/static/analytics.js"{gated}></script>'
    video = (
        '<iframe data-consent="youtube" title="Video" '
        'src="https://www.youtube-nocookie.com/embed/x"></iframe>'
    )
    html = (
        "<!doctype html><html lang='en'><head><title>Load</title></head><body>"
        f"<h1>Example News</h1>{ARTICLE}{video}{stats}</body></html>"
    )
    response = HTMLResponse(html)
    response.set_cookie("PHPSESSID", "load", httponly=True)
    return response


async def with_page(request: Request) -> Response:
    return page(True, request)


async def without_page(request: Request) -> Response:
    return page(False, request)


async def plain_decision(request: Request) -> Response:
    body = json.loads(await request.body())
    return JSONResponse({"decided": True, "action": body.get("action")})


log_path = os.environ.get("CONSENT_LOAD_DB") or str(
    Path(tempfile.mkdtemp(prefix="consent-load-")) / "receipts.db"
)
# The fault-injection tests start several generations of this site side by side: with other
# keys (CONSENT_KEYS, comma-separated, the first signs) or another policy revision
# (CONSENT_REVISION), as a rolling deployment would.
keys = os.environ.get("CONSENT_KEYS", SECRET).split(",")
policy = POLICY
if revision := os.environ.get("CONSENT_REVISION"):
    policy = POLICY.model_copy(update={"revision": int(revision)})
with_consent = Starlette(
    routes=[Route("/", with_page), Route("/articles/{slug}", with_page)],
    middleware=[
        Middleware(
            ConsentMiddleware, policy=policy, secret_key=keys, log=SQLiteConsentLog(log_path)
        )
    ],
)
without_consent = Starlette(
    routes=[
        Route("/", without_page),
        Route("/articles/{slug}", without_page),
        Route("/consent", plain_decision, methods=["POST"]),
    ]
)


def decision_site(log: ConsentLog | None) -> ConsentMiddleware:
    """The site `benchmarks/bench_receipts.py` sends decisions to over HTTP: the same
    one it calls in-process (ConsentMiddleware around a one-page Starlette app)."""
    home = Starlette(routes=[Route("/", with_page)])
    return ConsentMiddleware(home, policy=policy, secret_key=keys, log=log)


decisions_without_log = decision_site(None)
# CONSENT_LOAD_DB may also be a postgresql:// URL (bench_receipts.py, PostgreSQL over HTTP).
decisions_with_log = decision_site(
    PostgresConsentLog(log_path, max_connections=16)
    if log_path.startswith("postgresql://")
    else SQLiteConsentLog(log_path)
)
