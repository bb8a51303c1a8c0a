"""A deliberately leaky site: what `consent scan` must catch, one planted case each.

Served on loopback by uvicorn; the browser maps `tracker.test` and `cdn.test` to the same
server (`--host-resolver-rules`), which answers by host name. The site has its own banner
(German, form posts, no JavaScript needed) and keeps the choice in `leaky_consent`.

Planted (policy: consent.toml beside this file):
1. `lk_stats`: Set-Cookie before any choice (declared analytics); deleted on refusal.
2. `lk_ad`: set by the tracker's script through document.cookie before any choice
   (declared marketing); deleted on refusal.
3. `lk_visitor`: a localStorage key written before any choice (declared analytics);
   removed by the page once the visitor refused.
4. requests to `tracker.test` (declared marketing) before any choice.
5. `lk_survivor`: Set-Cookie before any choice that the refusal forgets to delete: found
   before the choice and again after "Reject all".
6. `lk_newthing`: set after "Accept all", declared nowhere.
7. `_ga`: declared essential, known to the catalog as Analytics.
8. `lk_old_widget`: declared, never set (a stale declaration).

Allowed, so never reported: `session_id` (Set-Cookie, essential), `lk_tab` (sessionStorage,
essential), `leaky_consent` (the choice, essential) and a script from `cdn.test`, a host
nobody classifies.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

CHOICE = "leaky_consent"
YEAR = 365 * 86400

BANNER = """<div role="dialog" aria-label="Datenschutz">
<p>Wir verwenden Cookies.</p>
<form method="post" action="/choice">
<input type="hidden" name="next" value="{next}">
<button name="action" value="accept">Alle akzeptieren</button>
<button name="action" value="reject">Alle ablehnen</button>
</form>
</div>"""
# A banner whose buttons say something else: only a selector finds them.
CUSTOM_BANNER = """<div id="cmp">
<form method="post" action="/choice">
<input type="hidden" name="next" value="/custom">
<button id="cmp-no" name="action" value="reject">Nein danke</button>
<button id="cmp-yes" name="action" value="accept">Na klar</button>
</form>
</div>"""


def _choice(request: Request) -> str | None:
    return request.cookies.get(CHOICE)


def _page(request: Request, title: str, body: str, *, banner: str = BANNER) -> HTMLResponse:
    choice = _choice(request)
    port = request.url.port
    tracker = f"http://tracker.test:{port}"
    parts = [
        f"<!doctype html><html lang='de'><head><meta charset='utf-8'><title>{title}</title>",
        f"<script src='http://cdn.test:{port}/lib.js'></script></head><body>",
    ]
    if choice is None:
        parts.append(banner.format(next=escape(request.url.path)))
    if choice != "rejected":
        parts += [
            f"<script src='{tracker}/t.js'></script>",
            f"<img src='{tracker}/pixel.gif' alt=''>",
            "<script>localStorage.setItem('lk_visitor', String(Date.now()));</script>",
        ]
    else:
        parts.append("<script>localStorage.removeItem('lk_visitor');</script>")
    parts += [
        "<script>sessionStorage.setItem('lk_tab', '1');</script>",
        "<nav><a href='/'>Start</a> <a href='/a'>Seite A</a> <a href='/b'>Seite B</a> ",
        "<a href='/report.pdf'>PDF</a> <a href='http://elsewhere.test/'>Anderswo</a></nav>",
        f"<main><h1>{title}</h1>{body}</main></body></html>",
    ]
    return HTMLResponse("".join(parts))


async def home(request: Request) -> Response:
    response = _page(request, "Start", "<p>Willkommen.</p>")
    if "session_id" not in request.cookies:
        response.set_cookie("session_id", "s1", httponly=True, samesite="lax")
    if _choice(request) != "rejected":
        response.set_cookie("lk_stats", "1", max_age=YEAR, samesite="lax")
    if _choice(request) is None:
        response.set_cookie("lk_survivor", "1", max_age=90 * 86400, samesite="lax")
    return response


async def page_a(request: Request) -> Response:
    response = _page(request, "Seite A", "<p>A.</p>")
    response.set_cookie("_ga", "GA1.1.1", max_age=YEAR, samesite="lax")
    return response


async def page_b(request: Request) -> Response:
    response = _page(request, "Seite B", "<p>B.</p>")
    if _choice(request) == "accepted":
        response.set_cookie("lk_newthing", "1", max_age=30 * 86400, samesite="lax")
    return response


async def custom(request: Request) -> Response:
    return _page(request, "Eigenes Banner", "<p>C.</p>", banner=CUSTOM_BANNER)


async def choice(request: Request) -> Response:
    form = parse_qs((await request.body()).decode())
    target = form.get("next", ["/"])[0]
    response = RedirectResponse(target if target.startswith("/") else "/", status_code=303)
    accepted = form.get("action") == ["accept"]
    response.set_cookie(CHOICE, "accepted" if accepted else "rejected", max_age=YEAR)
    if not accepted:
        # The planted mistake: lk_survivor is forgotten here.
        for name in ("lk_stats", "lk_ad"):
            response.delete_cookie(name)
    return response


async def tracker(request: Request) -> Response:
    if request.url.path == "/t.js":
        script = "document.cookie = 'lk_ad=' + Math.random() + '; path=/; max-age=7776000';"
        return Response(script, media_type="text/javascript")
    # A 1x1 transparent GIF.
    gif = bytes.fromhex(
        "47494638396101000100800000000000ffffff21f90401000000002c000000000100010000020144003b"
    )
    return Response(gif, media_type="image/gif")


async def cdn(request: Request) -> Response:
    return Response("window.cdnLoaded = true;", media_type="text/javascript")


site = Starlette(
    routes=[
        Route("/", home),
        Route("/a", page_a),
        Route("/b", page_b),
        Route("/custom", custom),
        Route("/choice", choice, methods=["POST"]),
    ]
)


hosts = {
    "tracker.test": Starlette(routes=[Route("/t.js", tracker), Route("/pixel.gif", tracker)]),
    "cdn.test": Starlette(routes=[Route("/lib.js", cdn)]),
}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The site, or the stand-in tracker or CDN, chosen by the Host header."""
    host = Headers(scope=scope).get("host", "").rsplit(":", 1)[0] if scope["type"] == "http" else ""
    await hosts.get(host, site)(scope, receive, send)
