"""One HTTP request as raw ASGI parts, for the tests' and the fuzzers' in-process drivers
(each runs the app its own way: the tests on an event loop, the fuzzers without one)."""

from __future__ import annotations

from typing import Any

from starlette.types import Message, Receive, Scope, Send


def request(
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    chunks: list[bytes],
    *,
    scheme: str = "http",
    host: str = "testserver",
) -> tuple[Scope, Receive, Send, list[Message]]:
    """The scope, `receive` (the body in `chunks`, then a disconnect), `send`, and the list
    that collects what the app sends."""
    sent: list[Message] = []
    pending = list(chunks)

    async def receive() -> Message:
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "scheme": scheme,
        "query_string": b"",
        "server": (host, 443 if scheme == "https" else 80),
        "client": ("127.0.0.1", 5000),
        "headers": [(b"host", host.encode()), *headers],
    }
    return scope, receive, send, sent
