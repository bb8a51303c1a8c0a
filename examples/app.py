"""The example news site: a Starlette app with the consent middleware.

Run it with `make demo` and open http://127.0.0.1:8000.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consent import ConsentMiddleware, get_consent, load_policy

HERE = Path(__file__).parent
policy = load_policy(HERE / "consent.toml")
# A real site reads its key from the environment or a secret store; the fallback only
# serves the local demo.
SECRET_KEY = os.environ.get("CONSENT_SECRET_KEY", "demo-only-key-change-me-0123456789abcdef")


def _layout(request: Request, title: str, body: str) -> HTMLResponse:
    state = get_consent(request)
    status = (
        "You have not chosen yet: only essential cookies are in use."
        if not state.decided
        else "Allowed: " + ", ".join(sorted(state.granted))
    )
    banner = ""
    if not state.decided:
        banner = f"""
<section role="dialog" aria-labelledby="cb-title" data-consent-banner>
  <h2 id="cb-title">Your privacy choices</h2>
  <p>We would like to count visits and show ads that pay for our journalism. Nothing
  optional runs until you decide; you can change your mind at any time.</p>
  <form method="post" action="/consent">
    <input type="hidden" name="next" value="{escape(request.url.path)}">
    <button name="action" value="accept_all">Accept all</button>
    <button name="action" value="reject_all">Reject all</button>
    <a href="/consent?next={escape(request.url.path)}">Settings</a>
  </form>
</section>"""
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · Example News</title></head>
<body>
<header><a href="/">Example News</a></header>
{banner}
<main><h1>{escape(title)}</h1>{body}<p><small>{escape(status)}</small></p></main>
<footer><a href="/consent?next={escape(request.url.path)}">Cookie settings</a> ·
<a href="/consent/policy">Cookie declaration</a> · <a href="/privacy">Privacy policy</a></footer>
</body></html>"""
    return HTMLResponse(html)


async def home(request: Request) -> HTMLResponse:
    state = get_consent(request)
    stats = (
        '<p data-analytics="on">Visit statistics are counted for this page.</p>'
        if state.allows("analytics")
        else '<p data-analytics="off">Visit statistics are off for you.</p>'
    )
    body = (
        "<p>India and Japan agree a joint vision for the next decade of their partnership.</p>"
        + stats
    )
    return _layout(request, "Top stories", body)


async def privacy(request: Request) -> HTMLResponse:
    return _layout(
        request,
        "Privacy policy",
        "<p>What we store and why is listed in the "
        '<a href="/consent/policy">cookie declaration</a>.</p>',
    )


app = Starlette(
    routes=[Route("/", home), Route("/privacy", privacy)],
    middleware=[Middleware(ConsentMiddleware, policy=policy, secret_key=SECRET_KEY)],
)
