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

from consent.choices import BadRequest, content_kind, parse_choice, read_body
from consent.cookies import cookie_names, request_cookie_header
from consent.i18n import strings
from consent.origin import is_same_origin
from consent.parts import render_part
from consent.receipts import LogUnavailable
from consent.receipts.receipt import method_of
from consent.signing import new_receipt_id
from consent.site import Site
from consent.state import ConsentState
from consent.visit import Visit, current_visit, get_consent

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

    def __init__(self, site: Site) -> None:
        self.site = site
        self.static = StaticFiles(packages=[("consent", "static")])
        self._routes = {
            "": (("GET", "HEAD", "POST"), self.preferences),
            "/state": (("GET", "HEAD"), self.state),
            "/policy": (("GET", "HEAD"), self.declaration),
            "/policy.json": (("GET", "HEAD"), self.policy_json),
        }

    def handles(self, path: str) -> bool:
        """Whether `path` (without root_path) is under the consent routes."""
        base = self.site.path
        return path == base or path.startswith(base + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        sub = path[len(self.site.path) :]
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
        asset = self.site.renderer.served.get(file[1:])
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
        site = self.site
        headers = Headers(scope=scope)
        wants_json = "json" in headers.get("content-type", "") or "json" in headers.get(
            "accept", ""
        )
        try:
            if not is_same_origin(headers, site.trusted_origins, scope.get("scheme")):
                raise BadRequest(403, "cross-site requests cannot record consent")
            kind = content_kind(headers)
            body = await read_body(headers, receive, site.max_body_size)
            choice = parse_choice(site.policy, kind, body)
        except BadRequest as exc:
            return self._error(exc, wants_json)
        visit = current_visit(scope)
        previous = visit.state
        state = ConsentState.from_choice(
            site.policy,
            choice.action,
            choice.grant,
            issued_at=ConsentState.now(),
            receipt_id=new_receipt_id(),
        )
        if visit.gpc or choice.gpc:
            state = state.with_gpc()  # Global Privacy Control: the signal wins
        # The language the choice was offered in: the page's word, else the request's.
        shown = site.negotiate.pick(choice.lang) if choice.lang else None
        state = state.in_language(shown or visit.language)
        if site.receipts is not None:
            try:
                state = await self._keep_receipt(headers, visit, previous, state, choice.action)
            except BadRequest as exc:
                return self._error(exc, wants_json, {"Retry-After": "30"})
        visit.replace(state)
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
        visit: Visit,
        previous: ConsentState,
        state: ConsentState,
        action: str,
    ) -> ConsentState:
        """Store the decision's receipt; the state to store in the cookie.

        Raises:
            BadRequest: 503, the log failed and the decision grants something new (no
                proof, no consent). A refusal or withdrawal still takes effect.
        """
        site = self.site
        receipts = site.receipts
        assert receipts is not None
        previous_id = previous.receipt_id
        if not previous.decided and visit.raw and not visit.copies:
            # Expired or outdated. (Among several copies, any may be a plant: the new
            # receipt then links to none rather than to someone else's.)
            previous_id = site.codec.receipt_id_of(visit.raw)
        receipt = receipts.receipt(
            state,
            method=method_of(action, previous, state),
            user_agent=headers.get("user-agent"),
            previous_id=previous_id,
        )
        try:
            await receipts.write(receipt)  # bounded in time (see ReceiptWriter)
        except LogUnavailable as exc:
            if state.granted - previous.granted or state.services - previous.services:
                logger.error("consent log failed; a new grant was refused: %s", exc)
                message = str(strings(state.language or "en")["not_recorded"])
                raise BadRequest(503, message) from None
            logger.error("consent log failed; a refusal took effect without a receipt: %s", exc)
            if previous.decided and state.services - site.codec.undecided.services:
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
        response.headers.add_vary_header(self.site.vary)
        return response

    def policy_json(self, request: Request) -> Response:
        """`GET {path}/policy.json`: what the site declares, the consent cookie included."""
        policy = self.site.policy
        data = policy.declaration()
        cookie = self.site.renderer.consent_cookie
        if cookie is not None:
            data["consent_cookie"] = cookie.to_json(policy)
        return JSONResponse(data)

    def _state(self, request: Request) -> ConsentState:
        return get_consent(request)

    def _page(self, request: Request, name: str) -> Response:
        # `?lang=de` shows the page in another of the site's languages.
        wanted = request.query_params.get("lang")
        lang = self.site.negotiate.pick(wanted) if wanted else None
        html = render_part(request, name, next=request.query_params.get("next"), lang=lang)
        response = HTMLResponse(html, headers=_PAGE_HEADERS)
        # (In the visitor's language: where the site speaks several, Accept-Language too.)
        response.headers.add_vary_header(self.site.vary_localized.decode())
        return response

    def _store(self, scope: Scope, response: Response, state: ConsentState) -> None:
        site = self.site
        https = scope.get("scheme") == "https"
        # Withdrawal takes effect at once: expire what the refused services left behind.
        names = cookie_names(request_cookie_header(scope["headers"]))
        host = Headers(scope=scope).get("host", "")
        for expired in site.guard.deletions(names, state, secure=https, host=host):
            response.headers.append("set-cookie", expired)
        for cookie in site.set_cookies(state, https=https):
            response.headers.append("set-cookie", cookie.decode("latin-1"))
        response.headers.add_vary_header(site.vary)

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
