"""Where the request's consent lives in the ASGI scope, and how code reads it."""

from __future__ import annotations

import dataclasses
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Protocol, cast

from starlette.requests import HTTPConnection, Request
from starlette.websockets import WebSocket

from consent.signing import ConsentCodec
from consent.state import ConsentState

if TYPE_CHECKING:
    from consent.jinja import UI

SCOPE_KEY = "consent"
# Starlette's (and so FastAPI's) own classes, known at a glance: `isinstance` against
# HTTPConnection, an ABC by way of Mapping, costs several times more.
_CONNECTIONS = frozenset({HTTPConnection, Request, WebSocket})


class _HasScope(Protocol):
    @property
    def scope(self) -> MutableMapping[str, Any]: ...


class ConsentSlot:
    """Per-request holder: decodes the cookie on first use and notes that it was read."""

    __slots__ = (
        "_codec",
        "_raw",
        "_state",
        "accessed",
        "changed",
        "copies",
        "gpc",
        "language",
        "localized",
        "reissue",
        "revalidated",
        "ui",
    )

    def __init__(
        self,
        codec: ConsentCodec,
        raw: str | None,
        ui: UI,
        gpc: bool = False,
        language: str | None = None,
        copies: tuple[str, ...] = (),
        state: ConsentState | None = None,
    ) -> None:
        self._codec = codec
        self.copies = copies  # further consent cookies in the same request
        self.ui = ui
        self._raw = raw
        self.gpc = gpc
        self.language = language = language or codec._language
        if state is None and not raw:
            state = codec.undecided_in(language, gpc)
        # `state`, when given, is what `raw` decodes to (the middleware knows it already).
        self._state = state
        self.accessed = False
        self.localized = False  # a part was rendered in the negotiated language
        self.changed = False
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
        codec = self._codec
        if not self.copies:
            return codec.decode(self._raw or "")
        return together(codec, [self._raw or "", *self.copies])

    @property
    def raw(self) -> str | None:
        """The consent cookie's value as the request carried it."""
        return self._raw

    @property
    def had_cookie(self) -> bool:
        """Whether the request carried a consent cookie at all (valid or not)."""
        return self._raw is not None

    def replace(self, state: ConsentState) -> None:
        """Record a new decision made during this request."""
        self._state = state
        self.changed = True


MAX_COPIES = 8
"""How many further copies of the consent cookie a request may carry and still count."""


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


def current_slot(scope: MutableMapping[str, Any]) -> ConsentSlot:
    """The request's slot; RuntimeError when ConsentMiddleware is not installed."""
    slot = scope.get(SCOPE_KEY)
    if not isinstance(slot, ConsentSlot):
        raise RuntimeError(
            "ConsentMiddleware must be installed to read consent: add "
            "Middleware(ConsentMiddleware, policy=..., secret_key=...) to the application"
        )
    return slot


def get_consent(request_or_scope: _HasScope | MutableMapping[str, Any]) -> ConsentState:
    """The visitor's consent for this request.

    Accepts a Starlette/FastAPI `Request` (or `WebSocket`) or a raw ASGI scope. Reading it
    marks the response as depending on the consent cookie (`Vary: Cookie`).

    Raises:
        RuntimeError: ConsentMiddleware is not installed around this application.
    """
    # On every request that reads consent: plain dict and attribute access only.
    # The cheap tests first: a plain dict, then Starlette's Request or WebSocket (an ABC
    # test such as MutableMapping's costs several times more).
    scope: MutableMapping[str, Any]
    if type(request_or_scope) is dict:
        scope = request_or_scope
    elif type(request_or_scope) in _CONNECTIONS:
        scope = cast(HTTPConnection, request_or_scope).scope
    elif isinstance(request_or_scope, HTTPConnection):
        scope = request_or_scope.scope
    elif isinstance(request_or_scope, MutableMapping):
        scope = request_or_scope
    else:
        scope = request_or_scope.scope
    slot = scope.get(SCOPE_KEY)
    if slot.__class__ is not ConsentSlot:
        slot = current_slot(scope)  # raises the explanatory RuntimeError
    slot.accessed = True
    state = slot._state
    return state if state is not None else slot.state
