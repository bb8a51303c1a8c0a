"""The origin of tests/test_edges.py and benchmarks/bench_edges.py, under uvicorn behind
Varnish or nginx: news pages that count their renders.

* ``GET /news/{n}``: a gated page (`Cache-Control: public, max-age=0, s-maxage=300`: a
  shared cache may keep it, a browser revalidates); each render adds one to a counter;
* ``GET /renders``: that counter (plain text, `no-store`, read without consent);
* ``POST /_bump``: the policy's next revision from now on (as a deployment would bring).

`EDGE_SHARED_CACHE=0` builds the middleware without `shared_cache`.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from consent import ConsentMiddleware, Policy, consent_html
from tests.conftest import POLICY_DATA, SECRET
from tests.stacks import page_html

_renders = itertools.count()
_count = [0]
SHARED = os.environ.get("EDGE_SHARED_CACHE", "1") == "1"


def policy(revision: int) -> Policy:
    data: dict[str, Any] = {**POLICY_DATA, "revision": revision}
    data["categories"] = [dict(c) for c in POLICY_DATA["categories"]]
    data["categories"][2]["gpc_opt_out"] = True  # marketing: denied under Sec-GPC
    return Policy.model_validate(data)


async def news(request: Request) -> Response:
    _count[0] = next(_renders) + 1
    html = page_html(consent_html(request)).replace("<h1>News</h1>", "<h1>News %s</h1>")
    return HTMLResponse(
        html % request.path_params["n"],
        headers={"cache-control": "public, max-age=0, s-maxage=300"},
    )


async def renders(request: Request) -> Response:
    return PlainTextResponse(str(_count[0]), headers={"cache-control": "no-store"})


def _site(revision: int) -> Starlette:
    return Starlette(
        routes=[Route("/news/{n}", news), Route("/renders", renders)],
        middleware=[
            Middleware(
                ConsentMiddleware, policy=policy(revision), secret_key=SECRET, shared_cache=SHARED
            )
        ],
    )


_sites = [_site(1), _site(2)]
_current = [0]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope["path"] == "/_bump":
        _current[0] = 1
        await PlainTextResponse("bumped", headers={"cache-control": "no-store"})(
            scope, receive, send
        )
        return
    await _sites[_current[0]](scope, receive, send)
