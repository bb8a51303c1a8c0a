"""One request's consent: read from the request's cookies, kept in the ASGI scope for the
app (`get_consent`), and enforced on the response.

`CookieReader` reads the Cookie header (once per distinct header, remembered); `Visit` is
the per-request object the middleware puts in the scope: it points at its `Site` and holds
only what belongs to this request.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from starlette.requests import HTTPConnection, Request
from starlette.websockets import WebSocket

from consent.bounded_memo import remember
from consent.cookies import cookie_values
from consent.enforce import CookieGuard
from consent.signing import ConsentCodec, Current
from consent.state import ConsentState

if TYPE_CHECKING:
    from consent.site import Site

__all__ = [
    "ENVIRON_KEY",
    "MAX_COPIES",
    "SCOPE_KEY",
    "AnyRequest",
    "CookieReader",
    "Visit",
    "carrier_of",
    "current_visit",
    "get_consent",
    "visit_of",
]

SCOPE_KEY = "consent"
"""Where an ASGI request's `Visit` lives in its scope."""
ENVIRON_KEY = "consent.visit"
"""Where a WSGI request's `Visit` lives in its environ (PEP 3333 asks for a dotted name)."""
MAX_COPIES = 8
"""How many further copies of the consent cookie a request may carry and still count."""

# Starlette's (and so FastAPI's) own classes, known at a glance: `isinstance` against
# HTTPConnection, an ABC by way of Mapping, costs several times more.
_CONNECTIONS = frozenset({HTTPConnection, Request, WebSocket})


class RequestCookies(NamedTuple):
    """What the middleware needs from one Cookie header."""

    raw: str | None
    """The first consent cookie's value (None: there is none)."""
    copies: tuple[str, ...]
    """Further consent cookies (at most one more than `MAX_COPIES`: enough to tell that
    there are too many)."""
    carries: bool
    """Whether the header may hold cookies of optional services or known trackers (to
    expire while refused)."""
    current: Current | None
    """The state a valid consent cookie holds, when it is the only one."""


_NO_COOKIES = RequestCookies(None, (), False, None)


class CookieReader:
    """Reads Cookie headers for the middleware. A returning visitor sends the same header
    on every page, so the answer is remembered for up to 4,096 headers of up to 2 KiB.

    Args:
        name: the consent cookie's name.
        codec: verifies consent cookies.
        guard: tells which cookies belong to optional services.
    """

    __slots__ = ("_codec", "_guard", "_name", "_name_bytes", "known")

    LONGEST = 2048
    """The longest header remembered (a longer one is read every time)."""

    def __init__(self, name: str, codec: ConsentCodec, guard: CookieGuard) -> None:
        self._name = name
        self._name_bytes = name.encode("latin-1")
        self._codec = codec
        self._guard = guard
        self.known: dict[bytes, RequestCookies] = {b"": _NO_COOKIES}
        """The answers remembered, by header (read it, never write it: `read` does)."""

    def __len__(self) -> int:
        return len(self.known)

    def __contains__(self, header: object) -> bool:
        """Whether the answer for `header` is remembered."""
        return header in self.known

    def read(self, header: bytes) -> RequestCookies:
        """What `header` (the request's Cookie fields, joined with `; `) holds."""
        found = self.known.get(header)
        if found is not None:
            return found
        if not header:
            return _NO_COOKIES
        text = header.decode("latin-1")
        raw: str | None = None
        copies: tuple[str, ...] = ()
        if header.find(self._name_bytes) >= 0:  # (else it needs no parsing)
            values = cookie_values(text, self._name)
            if values:
                raw, copies = values[0], tuple(values[1 : MAX_COPIES + 2])
        carries = self._guard.may_carry_refused(text)
        current = self._codec.current(raw) if raw and not copies else None
        found = RequestCookies(raw, copies, carries, current)
        if len(header) <= self.LONGEST:
            remember(self.known, header, found)
        return found


class Visit:
    """One request's consent: decodes the cookie on first use and notes what the response
    must say about it (whether it was read, in which language, a new cookie to send)."""

    __slots__ = (
        "_raw",
        "_state",
        "accessed",
        "copies",
        "gpc",
        "language",
        "localized",
        "reissue",
        "revalidated",
        "site",
    )

    def __init__(
        self,
        site: Site,
        raw: str | None,
        gpc: bool = False,
        language: str | None = None,
        copies: tuple[str, ...] = (),
        state: ConsentState | None = None,
    ) -> None:
        self.site = site
        self.copies = copies  # further consent cookies in the same request
        self._raw = raw
        self.gpc = gpc
        self.language = language = language or site.language
        if state is None and not raw:
            state = site.codec.undecided_in(language, gpc)
        # `state`, when given, is what `raw` decodes to (the middleware knows it already).
        self._state = state
        self.accessed = False  # the app read the consent: the response varies on it
        self.localized = False  # a part was rendered in the negotiated language
        self.reissue: ConsentState | None = None  # a new consent cookie to send
        self.revalidated = False  # If-None-Match named an ETag made for this consent

    @property
    def state(self) -> ConsentState:
        """The request's consent (decoded lazily, once; a GPC signal applied)."""
        if self._state is None:
            state = self.stored
            if self.gpc:
                state = state.with_gpc()
            self._state = state.in_language(self.language)
        return self._state

    @property
    def stored(self) -> ConsentState:
        """What the request's consent cookies say together, before any GPC signal: one
        cookie's choice, or what several leave (`together`)."""
        codec = self.site.codec
        if not self.copies:
            return codec.decode(self._raw or "")
        return together(codec, [self._raw or "", *self.copies])

    @property
    def raw(self) -> str | None:
        """The consent cookie's value as the request carried it."""
        return self._raw

    def replace(self, state: ConsentState) -> None:
        """Record a new decision made during this request."""
        self._state = state


def together(codec: ConsentCodec, values: list[str]) -> ConsentState:
    """The consent that several consent cookies in one request leave.

    A sibling sub-domain can plant copies ("cookie tossing"), and nothing in a value tells
    the visitor's own copy from a planted one, so a plant must never widen any copy:
    * more than `MAX_COPIES` further copies: no decision (the visitor's own could be any
      of them, or pushed out of what the browser sends);
    * a genuine but expired or outdated copy (the visitor's own, perhaps): no decision;
    * otherwise only what every valid copy grants. Values that were never signed by this
      site cannot be the visitor's own choice and count for nothing.
    """
    if len(values) > 1 + MAX_COPIES:
        return codec.decode("")
    states = []
    for value in values:
        state = codec.decode(value)
        if not state.decided and codec.receipt_id_of(value) is not None:
            return state  # genuine, but no longer a choice: nothing may stand in for it
        states.append(state)
    return most_restrictive(states)


def most_restrictive(states: list[ConsentState]) -> ConsentState:
    """Only what every decided state grants (undecided ones count for nothing)."""
    decided = [s for s in states if s.decided]
    if len(decided) < 2:
        return decided[0] if decided else states[0]
    base = min(decided, key=lambda s: len(s.granted) + len(s.services))
    granted = frozenset.intersection(*(s.granted for s in decided))
    services = frozenset.intersection(*(s.services for s in decided))
    return dataclasses.replace(base, granted=granted, services=services)


class _HasScope(Protocol):
    @property
    def scope(self) -> MutableMapping[str, Any]: ...


class _HasEnviron(Protocol):
    @property
    def environ(self) -> MutableMapping[str, Any]: ...


AnyRequest = _HasScope | _HasEnviron | MutableMapping[str, Any]
"""What `get_consent` and `consent_html` take: a Starlette/FastAPI request or websocket, a
Django request (ASGI: `.scope`; WSGI: `.environ`), a Flask/Werkzeug request (`.environ`), an
ASGI scope or a WSGI environ."""

_MISSING = (
    "ConsentMiddleware must be installed to read consent (ConsentWSGIMiddleware for a "
    "WSGI application): add Middleware(ConsentMiddleware, policy=..., secret_key=...) to "
    "the application, or wrap it: ConsentWSGIMiddleware(app, policy=..., secret_key=...)"
)


def current_visit(scope: MutableMapping[str, Any]) -> Visit:
    """The visit kept in an ASGI scope or a WSGI environ; RuntimeError when no consent
    middleware put one there."""
    visit = scope.get(SCOPE_KEY)
    if isinstance(visit, Visit):
        return visit
    visit = scope.get(ENVIRON_KEY)
    if isinstance(visit, Visit):
        return visit
    raise RuntimeError(_MISSING)


def carrier_of(request: AnyRequest) -> MutableMapping[str, Any]:
    """The mapping that holds the request's visit: the ASGI scope or the WSGI environ of
    any framework's request object, or the mapping itself.

    Raises:
        TypeError: `request` is none of the kinds `AnyRequest` names.
    """
    if type(request) is dict or isinstance(request, MutableMapping):
        return request
    # Werkzeug's (Flask's) requests, even behind Flask's proxy, and Django's WSGIRequest:
    # the environ; Starlette's connections and Django's ASGIRequest: the scope. (The
    # environ first when it holds a visit: asking Flask's proxy for a missing `scope`
    # raises inside it, which costs more than the look-up.)
    environ = getattr(request, "environ", None)
    if type(environ) is dict and ENVIRON_KEY in environ:
        return environ
    for name in ("scope", "environ"):
        carrier = getattr(request, name, None)
        if isinstance(carrier, MutableMapping):
            return carrier
    raise TypeError(
        f"cannot read consent from {type(request).__name__!r}: pass the request (Starlette, "
        "FastAPI, Django or Flask), an ASGI scope or a WSGI environ"
    )


def visit_of(request: AnyRequest) -> Visit:
    """The visit of any framework's request (see `AnyRequest`)."""
    return current_visit(carrier_of(request))


def get_consent(request: AnyRequest) -> ConsentState:
    """The visitor's consent for this request.

    Accepts a Starlette/FastAPI `Request` or `WebSocket`, a Django `HttpRequest` (under
    ASGI or WSGI), a Flask/Werkzeug request, an ASGI scope or a WSGI environ. Reading it
    marks the response as depending on the consent cookie (`Vary: Cookie`).

    Raises:
        RuntimeError: no consent middleware is installed around this application.
    """
    # On every request that reads consent: plain dict and attribute access only.
    # The cheap tests first: a plain dict, then Starlette's Request or WebSocket (an ABC
    # test such as MutableMapping's costs several times more).
    visit: object
    if type(request) is dict:
        visit = request.get(SCOPE_KEY) or request.get(ENVIRON_KEY)  # ASGI, or WSGI
    elif type(request) in _CONNECTIONS:
        visit = request.scope.get(SCOPE_KEY)  # type: ignore[union-attr]
    else:
        visit = None
    if not isinstance(visit, Visit):
        visit = visit_of(request)  # any other kind, or the explanatory RuntimeError
    visit.accessed = True
    state = visit._state
    return state if state is not None else visit.state


# What FastAPI reads to inject the request when a route says `Depends(get_consent)`: the
# connection (a Request, or a WebSocket) is the one parameter it knows how to fill. The
# annotations above, which take every framework's request, stay for type checkers.
get_consent.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter(
            "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=HTTPConnection
        )
    ],
    return_annotation=ConsentState,
)
