"""Reading a WSGI request as the shared request path reads an ASGI one: its ASGI-style
scope (`wsgi_scope`) and, for the consent routes, its body (`read_body`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import Scope

__all__ = ["Environ", "EnvironReader", "read_body", "wsgi_scope"]

Environ = dict[str, Any]
"""A PEP 3333 environ."""


def read_body(environ: Environ, limit: int) -> bytes:
    """The request body, as far as the consent routes read it: up to `limit` bytes and one
    more (enough for the routes to answer 413), never past Content-Length."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    declared = environ.get("CONTENT_LENGTH", "").strip()
    if declared:
        if not (declared.isascii() and declared.isdigit()) or int(declared) > limit:
            return b""  # the routes refuse it from the header alone
        wanted = int(declared)
    elif environ.get("wsgi.input_terminated"):
        wanted = limit + 1  # a chunked body the server ends: read no more than needed
    else:
        return b""  # PEP 3333: without a length, reading could wait for ever
    chunks = []
    while wanted > 0:
        chunk = stream.read(wanted)
        if not chunk:
            break
        chunks.append(chunk)
        wanted -= len(chunk)
    return b"".join(chunks)


_BODY_HEADERS = {"CONTENT_TYPE": b"content-type", "CONTENT_LENGTH": b"content-length"}


class EnvironReader:
    """Reads the environs of one middleware's requests (`scope`). It remembers the header
    name of each environ key ("HTTP_ACCEPT_LANGUAGE" -> b"accept-language", b"" for a key
    that is no request header, such as "wsgi.input"): a server sends the same few keys
    every time. At most 256 keys of up to 64 characters, like every memo here bounded.

    The server's threads share it: what it knows is one snapshot (the names, and which
    keys among them are headers), replaced whole when a key is learnt, never changed in
    place, so that no thread reads the names of one snapshot with the headers of another.
    """

    __slots__ = ("known",)

    SIZE = 256

    def __init__(self) -> None:
        self.known: tuple[dict[str, bytes], frozenset[str]] = ({}, frozenset())
        """The names of the keys seen, and the keys among them that are headers."""

    def __repr__(self) -> str:
        return f"<EnvironReader of {len(self.known[0])} keys>"

    def scope(self, environ: Environ) -> Scope:
        """The ASGI-style scope of a WSGI request (see `wsgi_scope`)."""
        return wsgi_scope(environ, self)

    def headers(self, environ: Environ) -> list[tuple[bytes, bytes]]:
        """The request headers of `environ`, as lower-case byte pairs."""
        names, header_keys = self.known
        keys = environ.keys()
        if keys <= names.keys():
            # Every key seen before (the usual case): the header keys found by a set
            # intersection in C, not by a Python loop over the whole environ.
            try:
                return [(names[key], environ[key].encode("latin-1")) for key in keys & header_keys]
            except (UnicodeError, AttributeError):
                pass  # a server that breaks PEP 3333's text rule: read it the slow way
        return self._learn(environ, names)

    def _learn(self, environ: Environ, names: dict[str, bytes]) -> list[tuple[bytes, bytes]]:
        """`headers`, learning the keys not seen before (a full memo starts again)."""
        learnt = {} if len(names) >= self.SIZE else dict(names)
        headers = []
        for key, value in environ.items():
            name = names.get(key)
            if name is None:
                name = _header_name(key)
                if len(key) <= 64 and len(learnt) < self.SIZE:
                    learnt[key] = name
            if name:
                # PEP 3333 text is latin-1; a server that breaks the rule gets "?" for the rest.
                text = value if isinstance(value, str) else str(value)
                headers.append((name, text.encode("latin-1", "replace")))
        self.known = (learnt, frozenset(key for key, name in learnt.items() if name))
        return headers


def wsgi_scope(environ: Environ, reader: EnvironReader | None = None) -> Scope:
    """The ASGI-style scope of a WSGI request, as an ASGI server would have made it: the
    path decoded from UTF-8 (PEP 3333 carries its bytes as latin-1 text), the headers as
    lower-case byte pairs. `reader` remembers the header name of each environ key."""
    headers = (reader or EnvironReader()).headers(environ)
    for key, name in _BODY_HEADERS.items():
        value = environ.get(key)
        if value:
            headers.append((name, _latin1(value)))
    script = _text(environ.get("SCRIPT_NAME", ""))
    path = script + _text(environ.get("PATH_INFO", ""))
    server = (environ.get("SERVER_NAME", ""), _port(environ.get("SERVER_PORT")))
    remote = environ.get("REMOTE_ADDR")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.1").partition("/")[2] or "1.1",
        "method": environ.get("REQUEST_METHOD", "GET").upper(),
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": path,
        "root_path": script,
        "query_string": _latin1(environ.get("QUERY_STRING", "")),
        "headers": headers,
        "server": server,
        "client": (remote, _port(environ.get("REMOTE_PORT"))) if remote else None,
    }


def _header_name(key: str) -> bytes:
    """The ASGI header name of the environ key `key` (b"": none). Content-Type and
    Content-Length are read from their own keys, as PEP 3333 names them."""
    if not key.startswith("HTTP_") or key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
        return b""
    return key[5:].lower().replace("_", "-").encode("latin-1", "replace")


def _port(value: object) -> int:
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else 0


def _latin1(value: str) -> bytes:
    # PEP 3333 text is latin-1; a server that breaks the rule gets "?" for the rest.
    return value.encode("latin-1", "replace")


def _text(value: str) -> str:
    """A path from the environ (its bytes as latin-1 text) as the text ASGI gives."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:  # already text (a server that breaks PEP 3333)
        return value
