"""Vary on pages that depend on consent: the app's own Vary fields keep every name they
held, and each header name comes once (Django's SessionMiddleware says `Vary: Cookie`)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send

from consent import ConsentMiddleware, get_consent, load_policy
from tests.asgi import request
from tests.conftest import SECRET, run_async

# The example's policy honours GPC: its pages vary on Cookie and Sec-GPC.
POLICY = load_policy(Path(__file__).parent.parent / "examples" / "consent.toml")

NAMES = ["Cookie", "cookie", "COOKIE", "Origin", "Accept-Encoding", "accept-encoding", "*"]
fields = st.lists(
    st.lists(st.sampled_from(NAMES), max_size=3).map(", ".join), min_size=1, max_size=3
)


def vary_fields(fields: list[str], key: bytes, html: bool) -> list[tuple[bytes, bytes]]:
    """The response's Vary fields when the app sends `fields` (as header `key`)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        get_consent(scope)
        kind = b"text/html" if html else b"text/plain"
        headers = [(b"content-type", kind), *((key, f.encode()) for f in fields)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"<p>hi</p>"})

    middleware = ConsentMiddleware(app, policy=POLICY, secret_key=SECRET)
    scope, receive, send, sent = request("GET", "/", [], [])
    run_async(middleware(scope, receive, send))
    return [(k, v) for k, v in sent[0]["headers"] if k.lower() == b"vary"]


@given(fields=fields, key=st.sampled_from([b"vary", b"Vary"]), html=st.booleans())
def test_one_vary_field_names_each_header_once(fields: list[str], key: bytes, html: bool) -> None:
    (found,) = vary_fields(fields, key, html)
    names = [n.strip() for n in found[1].decode().split(",")]
    wanted = {n.strip().lower() for f in fields for n in f.split(",") if n.strip()}
    if "*" in wanted:
        assert names == ["*"]
        return
    assert len({n.lower() for n in names}) == len(names)  # each once
    assert {n.lower() for n in names} == wanted | {"cookie", "sec-gpc"}


def test_django_s_vary_cookie_is_not_repeated() -> None:
    """The case Django showed: `Vary: Cookie` from SessionMiddleware, on a gated page."""
    assert vary_fields(["Cookie"], b"Vary", True) == [(b"vary", b"Cookie, Sec-GPC")]
    assert vary_fields(["Accept-Encoding", "Origin"], b"vary", False) == [
        (b"vary", b"Accept-Encoding, Origin, Cookie, Sec-GPC")
    ]
