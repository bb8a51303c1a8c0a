"""Global Privacy Control: reading the signal, withdrawing what it forbids, and the
`/.well-known/gpc.json` support resource (see docs/privacy-signals.md)."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import TYPE_CHECKING

from starlette.types import Message, Scope, Send

from consent.receipts import LogUnavailable
from consent.signing import new_receipt_id
from consent.state import ConsentState

if TYPE_CHECKING:
    from consent.site import Site
    from consent.visit import Visit

__all__ = [
    "WELL_KNOWN_GPC",
    "gpc_json",
    "gpc_signal",
    "gpc_withdrawal",
    "reissuing",
    "well_known_gpc",
]

logger = logging.getLogger("consent")
WELL_KNOWN_GPC = "/.well-known/gpc.json"


def gpc_signal(value: bytes) -> bool:
    """Whether a `Sec-GPC` header value is the signal: exactly "1" (several headers joined
    with commas count when one of them is); anything else is ignored, as the spec says."""
    return value == b"1" or any(part.strip() == b"1" for part in value.split(b","))


def gpc_json(last_update: str) -> bytes:
    """The body of `/.well-known/gpc.json`."""
    return json.dumps({"gpc": True, "lastUpdate": last_update}).encode()


async def gpc_withdrawal(site: Site, visit: Visit, scope: Scope) -> None:
    """A Global Privacy Control signal meets a stored grant of an opt-out category:
    withdraw it for good (a later request without the signal is no opt-in), with a
    receipt of source "gpc", and send the visitor the new cookie."""
    stored = visit.stored  # every copy of the cookie counts: a planted one widens nothing
    if not stored.decided or not (stored.granted | stored.services) & site.policy.gpc_ids:
        return
    state = dataclasses.replace(stored.with_gpc(), receipt_id=new_receipt_id())
    receipts = site.receipts
    if receipts is not None:
        user_agent = next((v for k, v in scope["headers"] if k == b"user-agent"), b"")
        receipt = receipts.receipt(
            state,
            method="withdrawal",
            user_agent=user_agent.decode("latin-1"),
            previous_id=stored.receipt_id,
            source="gpc",
            recorded_at=ConsentState.now(),
        )
        try:
            await receipts.write(receipt)  # bounded in time: never holds the page
        except LogUnavailable as exc:  # the withdrawal goes through all the same
            logger.error("consent log failed; a GPC withdrawal has no receipt: %s", exc)
            state = dataclasses.replace(state, receipt_id=stored.receipt_id)
    visit.replace(state)
    visit.reissue = state


def reissuing(site: Site, send: Send, visit: Visit, scope: Scope) -> Send:
    """`send` for a consent route's answer that must also carry the new cookie."""

    async def send_with_cookie(message: Message) -> None:
        if message["type"] == "http.response.start" and visit.reissue is not None:
            https = scope.get("scheme") == "https"
            headers = message.setdefault("headers", [])
            for cookie in site.set_cookies(visit.reissue, https=https):
                headers.append((b"set-cookie", cookie))
        await send(message)

    return send_with_cookie


async def well_known_gpc(body: bytes, send: Send) -> None:
    """Answer `/.well-known/gpc.json`, the GPC support resource."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"public, max-age=86400"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
