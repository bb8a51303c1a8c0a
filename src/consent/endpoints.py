"""The consent routes under `path` (default `/consent`).

| route | answer |
|---|---|
| `POST {path}` | record a choice (form: 303 to `next`; JSON: 200 + state) |
| `GET {path}` | the preferences page (a plain form, works without JavaScript) |
| `GET {path}/state` | the visitor's state as JSON, `Cache-Control: no-store` |
| `GET {path}/policy` | the cookie declaration (HTML) |
| `GET {path}/policy.json` | the policy as JSON |
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from consent._scope import ConsentSlot, current_slot, get_consent
from consent.config import ConsentConfig
from consent.cookies import cookie_names, request_cookie_header
from consent.i18n import strings
from consent.jinja import UI
from consent.receipts import LogUnavailable, Receipt, browser_family
from consent.receipts._model import method_of
from consent.requests import (
    BadRequest,
    content_kind,
    is_same_origin,
    parse_choice,
    read_body,
)
from consent.signing import new_receipt_id
from consent.state import ConsentState

__all__ = ["ConsentEndpoints"]

logger = logging.getLogger("consent")

_NO_STORE = {"Cache-Control": "no-store"}
# Consent pages must not be framed: a framed "Accept all" is a click-jacked consent.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "frame-ancestors 'self'",
    "Referrer-Policy": "same-origin",
}


class ConsentEndpoints:
    """A small ASGI app answering the consent routes; the middleware sends it their requests."""

    def __init__(self, config: ConsentConfig) -> None:
        self.config = config
        self.ui = UI(config)
        self.static = StaticFiles(packages=[("consent", "static")])
        self._routes = {
            "": (("GET", "HEAD", "POST"), self.preferences),
            "/state": (("GET", "HEAD"), self.state),
            "/policy": (("GET", "HEAD"), self.declaration),
            "/policy.json": (("GET", "HEAD"), self.policy_json),
        }

    def handles(self, path: str) -> bool:
        """Whether `path` (without root_path) is under the consent routes."""
        base = self.config.path
        return path == base or path.startswith(base + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        sub = path[len(self.config.path) :]
        if sub.startswith("/static/"):
            await self._static(scope, receive, send, sub[len("/static") :])
            return
        route = self._routes.get(sub)
        if route is None:
            response: Response = PlainTextResponse("Not Found", status_code=404)
        elif scope["method"] not in route[0]:
            response = PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": ", ".join(route[0])}
            )
        elif scope["method"] == "POST":
            response = await self.record(scope, receive)
        else:
            response = route[1](Request(scope, receive))
        await response(scope, receive, send)

    async def _static(self, scope: Scope, receive: Receive, send: Send, file: str) -> None:
        # consent.js / consent.css, served as if StaticFiles were mounted at {path}/static;
        # an asset's URL sends the file chosen at start-up (its minified copy, when built).
        asset = self.ui.served.get(file[1:])
        static_scope = dict(scope, path="/" + asset.file if asset else file, root_path="")

        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                # URLs carry a content hash (?v=...), so a long cache is safe.
                MutableHeaders(scope=message)["cache-control"] = "public, max-age=31536000"
            await send(message)

        try:
            await self.static(static_scope, receive, send_cached)
        except HTTPException as exc:  # raised before any response starts: 404, 405
            response = PlainTextResponse(exc.detail, exc.status_code, headers=exc.headers)
            await response(scope, receive, send)

    async def record(self, scope: Scope, receive: Receive) -> Response:
        """`POST {path}`: validate, sign and store the visitor's choice."""
        config = self.config
        headers = Headers(scope=scope)
        wants_json = "json" in headers.get("content-type", "") or "json" in headers.get(
            "accept", ""
        )
        try:
            if not is_same_origin(headers, config.trusted_origins, scope.get("scheme")):
                raise BadRequest(403, "cross-site requests cannot record consent")
            kind = content_kind(headers)
            body = await read_body(headers, receive, config.max_body_size)
            choice = parse_choice(config.policy, kind, body)
        except BadRequest as exc:
            return self._error(exc, wants_json)
        slot = current_slot(scope)
        previous = slot.state
        state = ConsentState.from_choice(
            config.policy,
            choice.action,
            choice.grant,
            issued_at=ConsentState.now(),
            receipt_id=new_receipt_id(),
        )
        if slot.gpc or choice.gpc:
            state = state.with_gpc()  # Global Privacy Control: the signal wins
        # The language the choice was offered in: the page's word, else the request's.
        assert config.negotiate is not None
        shown = config.negotiate.pick(choice.lang) if choice.lang else None
        state = state.in_language(shown or slot.language)
        if config.log is not None:
            kept = await self._keep_receipt(headers, slot, previous, state, choice.action)
            if isinstance(kept, BadRequest):
                return self._error(kept, wants_json, {"Retry-After": "30"})
            state = kept
        slot.replace(state)
        response: Response
        if choice.is_json:
            response = JSONResponse(state.to_json(), headers=_NO_STORE)
        else:
            response = RedirectResponse(choice.next, status_code=303, headers=_NO_STORE)
        self._store(scope, response, state)
        return response

    async def _keep_receipt(
        self,
        headers: Headers,
        slot: ConsentSlot,
        previous: ConsentState,
        state: ConsentState,
        action: str,
    ) -> ConsentState | BadRequest:
        """Store the decision's receipt. When the log fails, a new grant is refused (no
        proof, no consent) while a refusal or withdrawal still takes effect."""
        config = self.config
        assert config.receipts is not None and config.snapshot is not None
        previous_id = previous.receipt_id
        if not previous.decided and slot.raw and not slot.copies:
            # Expired or outdated. (Among several copies, any may be a plant: the new
            # receipt then links to none rather than to someone else's.)
            previous_id = config.codec.receipt_id_of(slot.raw)
        receipt = Receipt.of(
            state,
            method=method_of(action, previous, state),
            snapshot=config.snapshot,
            previous_id=previous_id,
            browser=browser_family(headers.get("user-agent")),
            gpc=state.gpc,
            language=state.language,
        )
        try:
            await config.receipts.write(receipt)  # bounded in time (see ReceiptWriter)
        except LogUnavailable as exc:
            if state.granted - previous.granted or state.services - previous.services:
                logger.error("consent log failed; a new grant was refused: %s", exc)
                return BadRequest(503, str(strings(state.language or "en")["not_recorded"]))
            logger.error("consent log failed; a refusal took effect without a receipt: %s", exc)
            if previous.decided and state.services - config.codec.undecided.services:
                # What is left of the previous grant is proven by the previous receipt.
                state = dataclasses.replace(
                    state, issued_at=previous.issued_at, receipt_id=previous.receipt_id
                )
        return state

    def preferences(self, request: Request) -> Response:
        """`GET {path}`: every category, service and cookie, with the visitor's switches."""
        return self._page(request, "page_preferences.html")

    def declaration(self, request: Request) -> Response:
        """`GET {path}/policy`: the cookie declaration table."""
        return self._page(request, "page_declaration.html")

    def state(self, request: Request) -> Response:
        """`GET {path}/state`: the visitor's current state."""
        response = JSONResponse(self._state(request).to_json(), headers=_NO_STORE)
        response.headers.add_vary_header(self.config.vary)
        return response

    def policy_json(self, request: Request) -> Response:
        """`GET {path}/policy.json`: what the site declares, the consent cookie included."""
        policy = self.config.policy
        data = policy.declaration()
        if self.ui.consent_cookie is not None:
            data["consent_cookie"] = self.ui.consent_cookie.to_json(policy)
        return JSONResponse(data)

    def _state(self, request: Request) -> ConsentState:
        return get_consent(request)

    def _page(self, request: Request, name: str) -> Response:
        # `?lang=de` shows the page in another of the site's languages.
        wanted = request.query_params.get("lang")
        assert self.config.negotiate is not None
        lang = self.config.negotiate.pick(wanted) if wanted else None
        state = self._state(request)
        html = self.ui.render(
            name, request, state, next=request.query_params.get("next"), lang=lang
        )
        response = HTMLResponse(html, headers=_PAGE_HEADERS)
        response.headers.add_vary_header(self.config.vary)
        return response

    def _store(self, scope: Scope, response: Response, state: ConsentState) -> None:
        config = self.config
        https = scope.get("scheme") == "https"
        # Withdrawal takes effect at once: expire what the refused services left behind.
        names = cookie_names(request_cookie_header(scope["headers"]))
        host = Headers(scope=scope).get("host", "")
        for expired in config.guard.deletions(names, state, secure=https, host=host):
            response.headers.append("set-cookie", expired)
        response.headers.append("set-cookie", config.cookie_header(state, https))
        response.headers.add_vary_header(config.vary)

    @staticmethod
    def _error(exc: BadRequest, wants_json: bool, extra: dict[str, str] | None = None) -> Response:
        headers = {**_NO_STORE, **(extra or {})}
        if wants_json:
            body: dict[str, Any] = {"error": exc.message}
            if exc.allowed is not None:
                body["allowed"] = exc.allowed
            return JSONResponse(body, status_code=exc.status, headers=headers)
        text = exc.message
        if exc.allowed is not None:
            text += f" (allowed: {', '.join(exc.allowed)})"
        return PlainTextResponse(text, status_code=exc.status, headers=headers)
