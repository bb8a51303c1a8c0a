"""What both example apps share: the templates, the articles and the fake log-in.

The site imitates the seed page: a small news site on a PHP/WordPress-like stack whose
session and log-in cookies are essential, with optional statistics and video embeds.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from consent import load_policy
from consent.jinja import context_processor
from consent.receipts import open_log

HERE = Path(__file__).parent
policy = load_policy(HERE / "consent.toml")
# A real site reads its key from the environment or a secret store; the fallback only
# serves the local demo.
SECRET_KEY = os.environ.get("CONSENT_SECRET_KEY", "demo-only-key-change-me-0123456789abcdef")
# Proof of consent: every decision gets a receipt in this SQLite file (`make demo` keeps it
# beside the project; read it with `consent log stats --db consent-demo.db`). CONSENT_DB
# may also be a postgresql:// URL.
consent_log = open_log(os.environ.get("CONSENT_DB", "consent-demo.db"))
templates = Jinja2Templates(directory=HERE / "templates", context_processors=[context_processor])
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


def logged_in_user(request: Request) -> str | None:
    """The user named by the WordPress-style log-in cookie, if any."""
    for name, value in request.cookies.items():
        if name.startswith("wordpress_logged_in_") and "|" in value:
            return value.split("|", 1)[0]
    return None


def page(request: Request, name: str, **context: object) -> Response:
    """Render one of the site's templates with the common context."""
    return templates.TemplateResponse(
        request, name, {"user": logged_in_user(request), "articles": ARTICLES, **context}
    )


async def username_from(request: Request) -> str:
    """The user name posted by the log-in form (any name works in the demo)."""
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    return (fields.get("username", [""])[0].strip()[:40]) or "reader"


def log_in(username: str) -> Response:
    """Set the essential PHP session and WordPress log-in cookies, then go home."""
    response = RedirectResponse("/", status_code=303)
    site_hash = hashlib.md5(b"example-news", usedforsecurity=False).hexdigest()
    response.set_cookie("PHPSESSID", secrets.token_hex(16), httponly=True, samesite="lax")
    response.set_cookie(
        f"wordpress_logged_in_{site_hash}",
        f"{username}|{secrets.token_hex(8)}",
        httponly=True,
        samesite="lax",
    )
    return response


def log_out(request: Request) -> Response:
    """Delete the log-in cookies."""
    response = RedirectResponse("/", status_code=303)
    for name in request.cookies:
        if name == "PHPSESSID" or name.startswith("wordpress_logged_in_"):
            response.delete_cookie(name)
    return response
