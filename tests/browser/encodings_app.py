"""Pages in the encodings and codings a gate must read as the browser does, for the browser
tests: each served as written under /raw/ and through ConsentMiddleware elsewhere."""

from __future__ import annotations

import gzip
from typing import Any

from starlette.types import Receive, Scope, Send

from consent import ConsentMiddleware, Policy
from tests.conftest import POLICY_DATA, SECRET

TRACKER = "http://tracker.test"
POLICY: dict[str, Any] = {
    **POLICY_DATA,
    "services": [
        *POLICY_DATA["services"],
        {"id": "tracker", "category": "analytics", "title": "Tracker", "hosts": ["tracker.test"]},
    ],
}
MARKUP = (
    "<!doctype html><title>Grüße</title><p>Grüße ✓</p>"
    f'<script src="{TRACKER}/by-host.js"></script>'
    f'<script data-consent="analytics" src="{TRACKER}/by-category.js"></script>'
)
# path: (Content-Type, Content-Encoding or None, body)
PAGES: dict[str, tuple[bytes, bytes | None, bytes]] = {
    "/utf16": (b"text/html; charset=utf-16", None, MARKUP.encode("utf-16-le")),
    "/utf16-bom": (b"text/html", None, b"\xfe\xff" + MARKUP.encode("utf-16-be")),
    "/gzip": (b"text/html; charset=utf-8", b"gzip", gzip.compress(MARKUP.encode())),
    "/fullwidth": (
        b"text/html; charset=utf-8",
        None,
        MARKUP.replace("tracker.test", "\uff54racker\u3002test").encode(),
    ),
}


async def pages(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    path = scope["path"].removeprefix("/raw")
    content_type, coding, body = PAGES.get(path, (b"text/plain", None, b"not found"))
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if coding is not None:
        headers.append((b"content-encoding", coding))
    status = 200 if path in PAGES else 404
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


gated = ConsentMiddleware(pages, policy=Policy.model_validate(POLICY), secret_key=SECRET)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope["path"].startswith("/raw/"):
        await pages(scope, receive, send)  # as written: the case is real in this browser
    else:
        await gated(scope, receive, send)
