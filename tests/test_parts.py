"""`consent_html(request)`: the template parts without a template engine, for any kind of
request, and the FastAPI dependency (`consent.fastapi.Consent`, `Depends(get_consent)`).

Checklist items: A2 (inert markup before a choice), B1, B12.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Depends, FastAPI, WebSocket
from jinja2 import DictLoader, Environment
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.testclient import TestClient

from consent import ConsentMiddleware, ConsentParts, ConsentState, Policy, consent_html, get_consent
from consent.fastapi import Consent
from consent.jinja import install
from tests.conftest import POLICY_DATA, SECRET

POLICY = Policy.model_validate(POLICY_DATA)

PAGE = """{{ consent.head() }}|{{ consent.banner() }}|{{ consent.preferences() }}|\
{{ consent.settings_link() }}|{{ consent.script("analytics", src="/a.js") }}|\
{{ consent.iframe("youtube", src="/v", title="Video") }}|\
{{ consent.template("marketing", "<img src=/p.gif>") }}"""


def plain_page(parts: ConsentParts) -> str:
    return "|".join(
        [
            parts.head(),
            parts.banner(),
            parts.preferences(),
            parts.settings_link(),
            parts.script("analytics", src="/a.js"),
            parts.iframe("youtube", src="/v", title="Video"),
            parts.template("marketing", "<img src=/p.gif>"),
        ]
    )


def build() -> TestClient:
    templates = Jinja2Templates(env=install(Environment(loader=DictLoader({"p": PAGE}))))

    async def plain(request: Request) -> Response:
        return HTMLResponse(plain_page(consent_html(request)))

    async def scope(request: Request) -> Response:
        return HTMLResponse(plain_page(consent_html(request.scope)))

    async def jinja(request: Request) -> Response:
        return templates.TemplateResponse(request, "p")

    app = Starlette(
        routes=[Route("/plain", plain), Route("/scope", scope), Route("/jinja", jinja)],
        middleware=[Middleware(ConsentMiddleware, policy=POLICY, secret_key=SECRET)],
    )
    return TestClient(app)


def same(client: TestClient, path: str, as_path: str) -> str:
    html = client.get(path).text
    assert f'value="{path}"' in html and f"next={path}" in html
    html = html.replace(f'value="{path}"', f'value="{as_path}"')
    return html.replace(f"next={path}", f"next={as_path}")


def test_every_part_is_markup_and_the_same_as_in_a_template() -> None:
    """B1, B12: the banner, the dialog and the settings link, without a template engine;
    the same bytes whether asked of the request, its scope or a Jinja2 template."""
    client = build()
    plain = client.get("/plain")
    # (The forms return to the page they are on: its path is the one difference.)
    assert plain.text == same(client, "/scope", "/plain") == same(client, "/jinja", "/plain")
    assert "data-consent-banner" in plain.text and "cc-settings-link" in plain.text
    assert plain.headers["vary"].startswith("Cookie")
    assert '<script data-consent="analytics" src="/a.js" type="text/plain"></script>' in plain.text
    assert '<template data-consent="marketing"><img src=/p.gif></template>' in plain.text


def test_after_a_choice_the_parts_follow_it() -> None:
    """A2: granted markup is active, the rest stays inert; no banner once decided."""
    client = build()
    client.post("/consent", json={"action": "save", "grant": ["marketing"]})
    html = client.get("/plain").text
    assert html == same(client, "/jinja", "/plain")
    assert "data-consent-banner" not in html
    assert '<noscript data-consent="marketing"></noscript><img src=/p.gif>' in html
    assert '<script data-consent="analytics" src="/a.js" type="text/plain">' in html


def test_arguments_are_escaped_and_parts_are_markup() -> None:
    seen: dict[str, Any] = {}

    async def page(request: Request) -> Response:
        parts = consent_html(request)
        seen["script"] = parts.script("analytics", src='/a.js?x="><b>', data_x="<i>")
        seen["state"] = parts.state()
        seen["allows"] = parts.allows("analytics")
        return HTMLResponse("")

    app = Starlette(
        routes=[Route("/", page)],
        middleware=[Middleware(ConsentMiddleware, policy=POLICY, secret_key=SECRET)],
    )
    TestClient(app).get("/")
    assert isinstance(seen["script"], Markup)
    assert '"><b>' not in seen["script"] and 'data-x="&lt;i&gt;"' in seen["script"]
    assert isinstance(seen["state"], ConsentState) and seen["allows"] is False


def test_without_the_middleware_or_with_no_request_it_explains() -> None:
    async def page(request: Request) -> Response:
        consent_html(request)
        return HTMLResponse("unreachable")

    with pytest.raises(RuntimeError, match="ConsentMiddleware must be installed"):
        TestClient(Starlette(routes=[Route("/", page)])).get("/")
    with pytest.raises(TypeError, match="cannot read consent from 'int'"):
        consent_html(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot read consent from 'object'"):
        get_consent(object())  # type: ignore[arg-type]


# --- FastAPI -------------------------------------------------------------------------------


def fastapi_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(ConsentMiddleware, policy=POLICY, secret_key=SECRET)

    @app.get("/annotated")
    async def annotated(consent: Consent) -> dict[str, bool]:
        return {"decided": consent.decided, "analytics": consent.allows("analytics")}

    @app.get("/depends")
    def depends(state: ConsentState = Depends(get_consent)) -> dict[str, bool]:  # noqa: B008
        return {"decided": state.decided, "analytics": state.allows("analytics")}

    @app.get("/fragment")
    async def fragment(consent: Consent, request: Request) -> HTMLResponse:
        return HTMLResponse(consent_html(request).script("analytics", src="/a.js"))

    @app.websocket("/ws")
    async def socket(websocket: WebSocket, consent: Consent) -> None:
        await websocket.accept()
        await websocket.send_json({"decided": consent.decided})
        await websocket.close()

    return app


def test_fastapi_consent_dependency_in_routes_and_websockets() -> None:
    client = TestClient(fastapi_app())
    for route in ("/annotated", "/depends"):
        response = client.get(route)
        assert response.json() == {"decided": False, "analytics": False}
        assert response.headers["vary"].startswith("Cookie")
    assert 'type="text/plain"' in client.get("/fragment").text
    client.post("/consent", json={"action": "accept_all"})
    for route in ("/annotated", "/depends"):
        assert client.get(route).json() == {"decided": True, "analytics": True}
    assert 'type="text/plain"' not in client.get("/fragment").text
    with client.websocket_connect("/ws") as socket:
        assert socket.receive_json() == {"decided": True}


def test_fastapi_openapi_stays_valid_and_shows_no_consent_parameter() -> None:
    schema = TestClient(fastapi_app()).get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert set(paths) == {"/annotated", "/depends", "/fragment"}
    for path in paths.values():
        assert "parameters" not in path["get"], path  # the consent is no query parameter


def test_get_consent_route_json() -> None:
    """`Depends(get_consent)` reads the same consent as the middleware's own route."""
    app = fastapi_app()

    @app.get("/both")
    def both(request: Request, state: ConsentState = Depends(get_consent)) -> JSONResponse:  # noqa: B008
        return JSONResponse({"same": state is get_consent(request)})

    assert TestClient(app).get("/both").json() == {"same": True}
