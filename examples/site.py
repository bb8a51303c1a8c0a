"""What the example apps share: the templates, the articles and the fake log-in (the
Flask app renders the same templates with Flask's own Jinja2 environment).

The site imitates the seed page: a small news site on a PHP/WordPress-like stack whose
session and log-in cookies are essential, with optional statistics and video embeds.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from consent import load_policy
from consent.jinja import context_processor
from consent.receipts import open_log

HERE = Path(__file__).parent
TEMPLATES_DIR = HERE / "templates"
policy = load_policy(HERE / "consent.toml")
# A real site reads its key from the environment or a secret store; the fallback only
# serves the local demo.
SECRET_KEY = os.environ.get("CONSENT_SECRET_KEY", "demo-only-key-change-me-0123456789abcdef")
# Proof of consent: every decision gets a receipt in this SQLite file (`make demo` keeps it
# beside the project; read it with `consent log stats --db consent-demo.db`). CONSENT_DB
# may also be a postgresql:// URL.
consent_log = open_log(os.environ.get("CONSENT_DB", "consent-demo.db"))
templates = Jinja2Templates(directory=TEMPLATES_DIR, context_processors=[context_processor])
STATIC_DIR = HERE / "static"

ARTICLES = {
    "india-japan-vision": {
        "title": "India and Japan agree a vision for the next decade",
        "summary": "Leaders meet prefecture governors and set a new investment target.",
        "body": [
            "The two governments adopted a joint vision with eight directions, from economic "
            "security to mobility and clean technology.",
            "Both sides also agreed to deepen partnerships between Indian states and Japanese "
            "prefectures, with a focus on start-ups and small firms.",
        ],
        "video": True,
    },
    "battery-supply-chains": {
        "title": "New partnership on battery supply chains",
        "summary": "A cooperation plan aims at a steadier market for batteries.",
        "body": ["Officials described the plan as a first step towards shared standards."],
        "video": False,
    },
}


def logged_in_user(cookies: Mapping[str, str]) -> str | None:
    """The user named by the WordPress-style log-in cookie among the request's `cookies`."""
    for name, value in cookies.items():
        if name.startswith("wordpress_logged_in_") and "|" in value:
            return value.split("|", 1)[0]
    return None


def template_context(cookies: Mapping[str, str], **extra: object) -> dict[str, object]:
    """What every template gets besides `request` and `consent`."""
    return {"user": logged_in_user(cookies), "articles": ARTICLES, **extra}


def page(request: Request, name: str, **context: object) -> Response:
    """Render one of the site's templates with the common context."""
    return templates.TemplateResponse(request, name, template_context(request.cookies, **context))


def username_of(body: bytes) -> str:
    """The user name in the log-in form's body (any name works in the demo)."""
    fields = parse_qs(body.decode("utf-8", "replace"))
    return (fields.get("username", [""])[0].strip()[:40]) or "reader"


async def username_from(request: Request) -> str:
    """The user name posted by the log-in form."""
    return username_of(await request.body())


def login_cookies(username: str) -> dict[str, str]:
    """The essential PHP session and WordPress log-in cookies a sign-in sets (each one
    HttpOnly, SameSite=Lax)."""
    site_hash = hashlib.md5(b"example-news", usedforsecurity=False).hexdigest()
    return {
        "PHPSESSID": secrets.token_hex(16),
        f"wordpress_logged_in_{site_hash}": f"{username}|{secrets.token_hex(8)}",
    }


def is_login_cookie(name: str) -> bool:
    """Whether log-out deletes the cookie `name`."""
    return name == "PHPSESSID" or name.startswith("wordpress_logged_in_")


def log_in(username: str) -> Response:
    """Set the essential PHP session and WordPress log-in cookies, then go home."""
    response = RedirectResponse("/", status_code=303)
    for name, value in login_cookies(username).items():
        response.set_cookie(name, value, httponly=True, samesite="lax")
    return response


def log_out(request: Request) -> Response:
    """Delete the log-in cookies."""
    response = RedirectResponse("/", status_code=303)
    for name in request.cookies:
        if is_login_cookie(name):
            response.delete_cookie(name)
    return response
