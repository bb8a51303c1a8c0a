"""What the middleware reads from a request before anything is answered: the one reading
that the ASGI middleware and the WSGI middleware share.

`arrive` takes an ASGI scope (the WSGI middleware builds one from the environ) and returns
an `Arrival`: the request's visit (a `ConsentResponder` when the request reaches the app),
the consent route asked for, whether a Global Privacy Control signal must withdraw a
stored grant first, and the Accept-Encoding to hand the app. It answers nothing itself:
each middleware answers the route and runs the withdrawal in its own way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple

from consent.etags import TAGGED
from consent.gpc import WELL_KNOWN_GPC, gpc_signal
from consent.responder import ConsentResponder
from consent.visit import SCOPE_KEY, Visit

if TYPE_CHECKING:
    from starlette.types import Scope, Send

    from consent.site import Site

__all__ = ["Arrival", "arrive"]


class Arrival(NamedTuple):
    """One request, as read by `arrive`."""

    visit: Visit
    """The request's consent (also in the scope under `SCOPE_KEY`)."""
    responder: ConsentResponder | None
    """The same object, when the request reaches the app (an HTTP page): the `send` that
    enforces the consent on the response. None for a consent route or a WebSocket."""
    route: str | None
    """The consent route asked for (its path without root_path), `WELL_KNOWN_GPC`, or
    None: a page of the app."""
    withdraw: bool
    """A GPC signal meets a stored consent cookie: `gpc_withdrawal` must run first."""
    accept_encoding: bytes | None
    """The Accept-Encoding the app must see instead of the request's (the codings the gate
    cannot decode removed); None: the request's, as it is."""


_record = tuple.__new__


def arrive(
    site: Site,
    scope: Scope,
    send: Send,
    handles: Callable[[str], bool],
    responder: type[ConsentResponder] = ConsentResponder,
) -> Arrival:
    """Read the request `scope` (type "http" or "websocket").

    Args:
        site: the middleware's site.
        scope: the request; its visit is put in it under `SCOPE_KEY`.
        send: where the responder sends the enforced response.
        handles: whether a path (without root_path) is one of the consent routes.
        responder: the class of the responder made for a page of the app.
    """
    http = scope["type"] == "http"
    # This runs on every request: a dict built in C instead of a Python loop over the
    # headers, and the few this middleware reads looked up in it. (Repeated headers, as
    # HTTP/2 sends Cookie, take `_repeated`.)
    headers = scope["headers"]
    if type(headers) is not list:  # ASGI allows any iterable: read it once
        headers = scope["headers"] = list(headers)
    named = dict(headers)
    if len(named) != len(headers):
        named = _repeated(headers, site.accept_encoding)
    header = named.get(b"cookie", b"")
    cookies = site.reader.known.get(header) or site.reader.read(header)
    raw, copies, _, current = cookies
    accept = named.get(b"accept-language")
    language = site.negotiate(accept.decode("latin-1")) if accept else None
    gpc = b"sec-gpc" in named and gpc_signal(named[b"sec-gpc"])
    state = None
    if current is not None and not gpc and (language is None or language == site.language):
        # A valid cookie seen before: its state is known while it lasts (expired, or
        # from the future: decoded again, and refused).
        state, since, until = current
        if not since <= time.time() <= until:
            state = None
    # Which route: a consent route (answered by the middleware), or a page of the app.
    path: str = scope["path"]
    route = None
    if http and (site.path in path or site.well_known_gpc is not None):
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path == WELL_KNOWN_GPC and site.well_known_gpc is not None:
            route = path
        elif handles(path):
            route = path
    page = None
    if http and route is None:
        # A page of the app: its visit is also the `send` that enforces the consent.
        page = responder(site, scope, header, cookies, gpc, language, state, send)
        visit: Visit = page
    else:
        visit = Visit(site, raw, gpc, language, copies, state)
    scope[SCOPE_KEY] = visit
    match = named.get(b"if-none-match")
    if match is not None and match.find(TAGGED) >= 0:
        visit.revalidated = site.tags.revalidating(scope, visit.state)
    withdraw = False
    if gpc and raw and http and site.policy.gpc_ids:
        # (Not for a choice being posted: the choice itself carries the signal.)
        withdraw = route is None or scope["method"] != "POST"
    trimmed = None
    if page is not None and site.gate_html:
        codings = named.get(b"accept-encoding")
        if codings is not None:
            # An HTML page in a coding the middleware cannot decode is refused: the app
            # is asked for none of those.
            trimmed = site.accept_encoding(codings)
            if trimmed == codings:
                trimmed = None
    # (`tuple.__new__` makes the record without the Python-level `__new__` of a
    # NamedTuple: this runs on every request.)
    return _record(Arrival, (visit, page, route, withdraw, trimmed))


def _repeated(
    headers: Iterable[tuple[bytes, bytes]], trim: Callable[[bytes], bytes]
) -> dict[bytes, bytes]:
    """The request headers the middleware reads, when some name comes more than once:
    Cookie fields joined with `; ` (HTTP/2 sends one per cookie), If-None-Match lists
    joined, the Global Privacy Control signal if any field carries it, an Accept-Encoding
    that the middleware must trim if any must be; otherwise the last field. (Joined once
    at the end: time linear in the headers, however many Cookie fields there are.)"""
    named: dict[bytes, bytes] = {}
    lists: dict[bytes, list[bytes]] = {b"cookie": [], b"if-none-match": []}
    for key, value in headers:
        if key in lists:
            lists[key].append(value)
        elif key in named:
            if key == b"sec-gpc" and gpc_signal(named[key]):
                continue
            if key == b"accept-encoding" and trim(named[key]) != named[key]:
                continue
        named[key] = value
    if lists[b"cookie"]:
        named[b"cookie"] = b"; ".join(lists[b"cookie"])
    if lists[b"if-none-match"]:
        named[b"if-none-match"] = b", ".join(lists[b"if-none-match"])
    return named
