"""A2, A3: the middleware reads request and response headers through a shortcut (a dict
built in C) and falls back to a loop when names repeat or are not in lower case. Whatever
the headers, both readings give the same answer: these properties send the same headers
once as the shortcut takes them and once in a shape only the loop takes."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from consent import ConsentMiddleware, ConsentState, Policy, get_consent
from consent.signing import ConsentCodec, new_receipt_id
from consent.state import Action
from tests.conftest import POLICY_DATA, SECRET, call_asgi

POLICY = Policy.model_validate(POLICY_DATA)
CODEC = ConsentCodec(POLICY, SECRET)
PAGE = b'<p>x</p><script data-consent="analytics" src="/a.js"></script>'


def consent_cookie(action: Action) -> bytes:
    state = ConsentState.from_choice(
        POLICY, action, issued_at=datetime.now(UTC), receipt_id=new_receipt_id()
    )
    return b"consent=" + CODEC.encode(state).encode()


COOKIES = st.sampled_from(
    [b"", consent_cookie("accept_all"), consent_cookie("reject_all"), b"_ga=GA1.1.1; x=1"]
)
RESPONSE_HEADERS = st.lists(
    st.tuples(
        st.sampled_from(
            [b"content-type", b"set-cookie", b"vary", b"etag", b"link", b"x-frame-options"]
        ),
        st.sampled_from(
            [
                b"text/html",
                b"text/plain; charset=utf-8",
                b"_ga=GA1.1.1; Path=/",
                b"PHPSESSID=1; Path=/",
                b'"v1"',
                b"Accept-Language",
                b"<https://www.google-analytics.com/a.js>; rel=preload",
            ]
        ),
    ),
    max_size=6,
)


def answer(
    headers: list[tuple[bytes, bytes]], reads: bool, request: list[tuple[bytes, bytes]]
) -> list[Message]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if reads:
            get_consent(scope)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE})

    middleware = ConsentMiddleware(app, policy=POLICY, secret_key=SECRET)
    return call_asgi(middleware, "GET", "/", request, [b""], host=b"www.example.com")


@settings(max_examples=150, deadline=None)
@given(headers=RESPONSE_HEADERS, reads=st.booleans(), cookie=COOKIES)
def test_response_headers_read_the_same_in_any_case_and_repetition(
    headers: list[tuple[bytes, bytes]], reads: bool, cookie: bytes
) -> None:
    request = [(b"cookie", cookie)] if cookie else []
    unique = list(dict(headers).items())  # no name twice: the shortcut reads these
    expected = answer(unique, reads, request)
    shouted = [(name.upper(), value) for name, value in unique]  # only the loop reads these
    assert lowered(answer(shouted, reads, request)) == lowered(expected)
    if unique:  # a repeated name takes the loop too
        repeated = [*unique, (b"x-extra", b"1"), (b"x-extra", b"2")]
        got = answer(repeated, reads, request)
        extra = [(b"x-extra", b"1"), (b"x-extra", b"2")]
        assert sorted(got[0]["headers"]) == sorted([*expected[0]["headers"], *extra])
        assert got[1:] == expected[1:]


def lowered(sent: list[Message]) -> list[Message]:
    """The messages with header names in lower case (a response the middleware leaves as
    it is keeps the app's spelling; HTTP ignores the case)."""
    start = {**sent[0], "headers": [(k.lower(), v) for k, v in sent[0]["headers"]]}
    return [start, *sent[1:]]


@settings(max_examples=100, deadline=None)
@given(
    cookie=COOKIES,
    language=st.sampled_from([None, b"de", b"fr;q=0.9, en"]),
    gpc=st.sampled_from([None, b"1", b"0"]),
)
def test_request_headers_read_the_same_when_names_repeat(
    cookie: bytes, language: bytes | None, gpc: bytes | None
) -> None:
    """Cookie fields split over several headers (as HTTP/2 sends them) and a repeated
    unrelated header read as the same request."""
    base = [(b"accept", b"*/*")]
    if language is not None:
        base.append((b"accept-language", language))
    if gpc is not None:
        base.append((b"sec-gpc", gpc))
    joined = [*base, (b"cookie", cookie + b"; n=1")] if cookie else base
    expected = answer([(b"content-type", b"text/html")], True, joined)
    split = [*base, (b"accept", b"text/html")]
    if cookie:
        split += [(b"cookie", cookie), (b"cookie", b"n=1")]
    assert answer([(b"content-type", b"text/html")], True, split) == expected
