"""A page with every kind of element the gate holds back, for tests/browser/test_gating_elements.py.

Everything it would load from elsewhere is on `http://tracker.test/` (the tests answer those
requests themselves and log them): the host of the service "pixel" (category "marketing"),
so that what has no `data-consent` is held back by its host, and what has one by its id.
"""

from __future__ import annotations

from jinja2 import DictLoader, Environment
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from consent import ConsentMiddleware, Policy
from consent.jinja import context_processor

T = "http://tracker.test"
# Each element, with what it loads named after it (the tests look for "/<name>").
ELEMENTS = f"""
<img alt="" src="{T}/img.gif">
<img alt="" data-consent="marketing" src="/local.gif"
 srcset="{T}/srcset.gif 1x, {T}/srcset-2x.gif 2x">
<picture><source srcset="{T}/picture.gif"><img alt="" src="{T}/picture-img.gif"></picture>
<noscript><img alt="" src="{T}/noscript.gif"></noscript>
<iframe data-consent="marketing" title="doc"
 srcdoc="<script>parent.ran.push('srcdoc')</script><img src={T}/srcdoc.gif>"></iframe>
<iframe title="doc by host" srcdoc="<img src={T}/srcdoc-host.gif>"></iframe>
<div id="host"><template shadowrootmode="open" data-consent="marketing">
<img alt="" src="{T}/shadow.gif"><script>window.ran.push("shadow")</script>
<p>in the shadow</p></template></div>
<link rel="preload" as="image" href="{T}/preload.gif">
<link rel="Prefetch" href="{T}/prefetch.txt">
<video poster="{T}/poster.gif" width="20" height="20"></video>
<video data-consent="marketing" preload="auto">
<source src="{T}/video.webm" type="video/webm"></video>
<embed type="text/html" src="{T}/embed.html">
<object type="text/html" data="{T}/object.html"></object>
<input type="image" alt="go" src="{T}/input.gif">
"""
NAMES = [
    *("img.gif", "srcset.gif", "picture.gif", "srcdoc.gif", "shadow.gif", "preload.gif"),
    *("prefetch.txt", "poster.gif", "video.webm", "embed.html", "object.html", "input.gif"),
    "srcdoc-host.gif",
]

PAGE = """<!doctype html><html lang="en"><head><title>Elements</title>
<script src="/setup.js"></script>
{{ consent.head() }}</head>
<body>{{ consent.banner() }}<main><h1>Elements</h1>{{ elements | safe }}</main>
{{ consent.preferences() }}</body></html>"""

# Only the first <base href> counts: relative URLs after it resolve against the tracker.
BASE_PAGE = f"""<!doctype html><html lang="en"><head><title>Base</title></head>
<body><base href="{T}/"><img alt="" src="/base.gif"><img alt="" src="{T}/../abs.gif">
<base href="/"><img alt="" src="second.gif"></body></html>"""

POLICY = Policy.model_validate(
    {
        "revision": 1,
        "categories": [
            {"id": "essential", "title": "Essential", "description": "Needed.", "required": True},
            {"id": "marketing", "title": "Marketing", "description": "Pixels and videos."},
        ],
        "services": [
            {
                "id": "pixel",
                "category": "marketing",
                "title": "Tracker",
                "hosts": ["tracker.test"],
            }
        ],
    }
)

templates = Jinja2Templates(
    env=Environment(loader=DictLoader({"page.html": PAGE}), autoescape=True),
    context_processors=[context_processor],
)


async def page(request: Request) -> Response:
    return templates.TemplateResponse(request, "page.html", {"elements": ELEMENTS})


async def base(request: Request) -> Response:
    return Response(BASE_PAGE, media_type="text/html")


async def setup(request: Request) -> Response:
    return PlainTextResponse("window.ran = [];", media_type="text/javascript")


app = Starlette(
    routes=[Route("/", page), Route("/base", base), Route("/setup.js", setup)],
    middleware=[
        Middleware(
            ConsentMiddleware,
            policy=POLICY,
            secret_key="elements-test-secret-0123456789abcdef",
        )
    ],
)
