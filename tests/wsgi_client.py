"""A test client transport for WSGI apps that builds the environ as PEP 3333 says, the
way a real WSGI server does (gunicorn, waitress): header values and the path are the
request's bytes as latin-1 text (httpx2's own WSGITransport refuses any byte above 127),
repeated request headers are joined into one field, and what the app passes to `write()`
is part of the body."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx2 as httpx

WSGIApp = Callable[[dict[str, Any], Callable[..., Callable[[bytes], object]]], Iterable[bytes]]


class WSGITransport(httpx.BaseTransport):
    """Calls `app` for each request, in the calling thread.

    Args:
        app: the WSGI application.
        script_name: where it is mounted (SCRIPT_NAME).
    """

    def __init__(self, app: WSGIApp, script_name: str = "") -> None:
        self.app = app
        self.script_name = script_name

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        url = request.url
        port = url.port or {"http": 80, "https": 443}[url.scheme]
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": self.script_name,
            # The path's percent-escapes decoded to bytes, carried as latin-1 text.
            "PATH_INFO": unquote_to_bytes(url.raw_path.split(b"?")[0]).decode("latin-1"),
            "QUERY_STRING": url.query.decode("latin-1"),
            "SERVER_NAME": url.host,
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
        }
        if body and "content-length" not in request.headers:
            environ["CONTENT_LENGTH"] = str(len(body))
        for raw_name, raw_value in request.headers.raw:
            name = raw_name.decode("latin-1").upper().replace("-", "_")
            if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                name = "HTTP_" + name
            value = raw_value.decode("latin-1")
            if name in environ:  # one field, as servers join repeated headers
                value = environ[name] + ("; " if name == "HTTP_COOKIE" else ", ") + value
            environ[name] = value

        started: list[Any] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            if exc_info is not None and started and written:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return written.append

        result = self.app(environ, start_response)
        try:
            chunks = list(result)  # what `write()` took comes first: it was written first
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        return httpx.Response(
            int(status.split()[0]),
            # (Field values without the blanks around them, as they arrive over the wire:
            # Django writes " name=value" for each cookie.)
            headers=[(k.encode("latin-1"), v.strip(" \t").encode("latin-1")) for k, v in headers],
            content=b"".join([*written, *chunks]),
        )
