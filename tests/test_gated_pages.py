"""A2: a whole page is gated once per consent while the site remembers it (`GatedPages`),
and a remembered page is exactly what the gate writes for that consent, never another
visitor's copy. Through the real middleware, with raw ASGI apps and the test client."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from consent import ConsentMiddleware, Policy
from consent.gated_response import GatedPages, GatedText
from tests.conftest import POLICY_DATA, SECRET
from tests.test_enforce import raw_app

POLICY = Policy.model_validate(POLICY_DATA)
HTML = [(b"content-type", b"text/html; charset=utf-8")]
PAGE = (
    b'<p>news</p><script data-consent="analytics" src="/a.js"></script>'
    b'<iframe data-consent="marketing" src="https://ads.example/x"></iframe>'
)


def site_client(app: Any) -> tuple[TestClient, ConsentMiddleware]:
    middleware = ConsentMiddleware(app, policy=POLICY, secret_key=SECRET)
    return TestClient(middleware, base_url="https://example.com"), middleware


def decide(client: TestClient, action: str) -> None:
    assert client.post("/consent", json={"action": action}).status_code == 200


def test_a_remembered_page_is_what_the_gate_writes_for_that_consent() -> None:
    app = raw_app(HTML, PAGE)
    fresh = [site_client(app)[0] for _ in range(3)]  # each with a site of its own
    for client, action in zip(fresh[1:], ["reject_all", "accept_all"], strict=True):
        decide(client, action)
    first = [client.get("/").content for client in fresh]

    _, middleware = site_client(app)
    visitors = [TestClient(middleware, base_url="https://example.com") for _ in range(3)]
    for visitor, action in zip(visitors[1:], ["reject_all", "accept_all"], strict=True):
        decide(visitor, action)
    for _ in range(3):  # the first round gates, the next ones remember
        assert [visitor.get("/").content for visitor in visitors] == first
    assert len(middleware.site.pages) == 2  # undecided and refused leave the same consent
    assert b'type="text/plain"' in first[0] and b'type="text/plain"' not in first[2]
    assert first[1] == first[0] and first[2] != first[0]


def test_pages_that_stream_or_are_large_are_gated_every_time() -> None:
    big = PAGE + b"<p>" + b"x" * GatedPages.LONGEST + b"</p>"
    for body in ([PAGE[:20], PAGE[20:]], big):
        client, middleware = site_client(raw_app(HTML, body))
        for _ in range(2):
            content = client.get("/").content
            assert b'<script type="text/plain"' in content and b"news" in content
        assert len(middleware.site.pages) == 0


def test_a_remembered_page_keeps_its_rewritten_charset() -> None:
    """A UTF-16 page is sent as UTF-8, its Content-Type saying so, remembered or not."""
    page = "\ufeff<p>é</p><script data-consent='analytics' src='/a.js'></script>"
    client, middleware = site_client(raw_app(HTML, page.encode("utf-16-le")))
    answers = [client.get("/") for _ in range(2)]
    assert len(middleware.site.pages) == 1
    for response in answers:
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "é" in response.text and "text/plain" in response.text
    assert answers[0].content == answers[1].content


def test_a_page_the_app_changes_is_gated_again() -> None:
    pages = iter([PAGE, PAGE.replace(b"news", b"more news"), PAGE])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HTML})
        message: Message = {"type": "http.response.body", "body": next(pages)}
        await send(message)

    client, middleware = site_client(app)
    contents = [client.get("/").content for _ in range(3)]
    assert b"more news" in contents[1] and contents[0] == contents[2]
    assert len(middleware.site.pages) == 2


def test_the_memo_is_bounded_in_bytes() -> None:
    pages = GatedPages()
    consent = (frozenset({"essential"}), frozenset[str]())
    size = GatedPages.LONGEST
    count = 2 * GatedPages.BUDGET // size
    for number in range(count):
        body = number.to_bytes(4, "big") * (size // 8)  # half the longest page
        pages.keep((consent, None, body), GatedText(body, None))
    assert 0 < len(pages) < count
    assert len(pages) * size <= GatedPages.BUDGET
    last = (count - 1).to_bytes(4, "big") * (size // 8)
    assert pages.get((consent, None, last)) == GatedText(last, None)
