"""The example apps work as documented: the seed page's model, end to end, on every
framework (Starlette, FastAPI, Flask, Django under ASGI and WSGI)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from consent import load_policy
from consent.wsgi import WSGIApp
from examples.app import app as starlette_app
from examples.django_site.asgi import application as django_app
from examples.django_site.wsgi import application as django_wsgi_app
from examples.fastapi_app import app as fastapi_app
from examples.flask_app import app as flask_app
from tests.wsgi_client import WSGITransport

EXAMPLES = Path(__file__).parent.parent / "examples"


def wsgi_client(app: WSGIApp) -> httpx.Client:
    """A WSGI example through its app, as a WSGI server calls it (on localhost, as the demo
    serves it: Django checks the host)."""
    return httpx.Client(transport=WSGITransport(app), base_url="http://localhost")


CLIENTS: dict[str, Callable[[], httpx.Client]] = {
    "starlette": lambda: TestClient(starlette_app),
    "fastapi": lambda: TestClient(fastapi_app),
    "flask": lambda: wsgi_client(flask_app),
    "django": lambda: TestClient(django_app, base_url="http://localhost"),
    "django-wsgi": lambda: wsgi_client(django_wsgi_app),
}
APPS = pytest.mark.parametrize("client", sorted(CLIENTS), indirect=True)


@pytest.fixture
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    # Not entered with `with`: that would run the lifespan protocol, which Django's ASGI
    # handler refuses (uvicorn then runs without it).
    client = CLIENTS[request.param]()
    try:
        yield client
    finally:
        client.close()


def test_example_policy_reproduces_seed_essentials() -> None:
    """The seed's essential group: PHP session and the WordPress cookies, locked on."""
    policy = load_policy(EXAMPLES / "consent.toml")
    essential = policy.category("essential")
    assert essential.required
    names = {rule.name for s in policy.services_of("essential") for rule in s.cookies}
    assert names == {
        "PHPSESSID",
        "wordpress_test_cookie",
        "wordpress_logged_in_*",
        "wordpress_sec_*",
    }
    assert {c.id for c in policy.categories} == {"essential", "analytics", "marketing"}


@APPS
def test_example_first_visit_shows_banner_and_sets_nothing(client: httpx.Client) -> None:
    """A1, B1, B12: banner and settings link present, no cookie at all before a choice."""
    response = client.get("/")
    assert response.status_code == 200
    assert "data-consent-banner" in response.text
    assert "cc-settings-link" in response.text
    assert 'data-analytics="off"' in response.text
    assert 'type="text/plain"' in response.text  # the statistics tag is inert
    assert "set-cookie" not in response.headers
    assert response.headers["vary"] == "Cookie, Sec-GPC, Accept-Language"


@APPS
def test_example_accept_then_reject_without_javascript(client: httpx.Client) -> None:
    """The whole flow with forms and redirects only (B13: withdrawal in one post)."""
    response = client.post(
        "/consent", data={"action": "accept_all", "next": "/privacy"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/privacy"
    page = client.get("/")
    assert "data-consent-banner" not in page.text
    assert 'data-analytics="on"' in page.text
    assert '<script data-consent="matomo" src="/static/analytics.js"></script>' in page.text

    client.post("/consent", data={"action": "reject_all", "next": "/"})
    page = client.get("/")
    assert "data-consent-banner" not in page.text
    assert 'data-analytics="off"' in page.text


@APPS
def test_example_login_sets_essential_cookies(client: httpx.Client) -> None:
    assert "wordpress_test_cookie" in client.get("/login").headers["set-cookie"]
    # Django's forms carry its CSRF token (its cookie came with the form); the others ignore it.
    token = client.cookies.get("csrftoken", "")
    response = client.post(
        "/login", data={"username": "ann", "csrfmiddlewaretoken": token}, follow_redirects=False
    )
    names = {h.split("=", 1)[0] for h in response.headers.get_list("set-cookie")}
    assert "PHPSESSID" in names
    assert any(n.startswith("wordpress_logged_in_") for n in names)
    assert "Signed in as ann" in client.get("/").text


@APPS
def test_example_video_embed_waits_for_consent(client: httpx.Client) -> None:
    page = client.get("/articles/india-japan-vision").text
    assert 'data-consent-src="/embed/video"' in page
    assert "Allow YouTube videos" in page
    client.post("/consent", json={"action": "save", "grant": ["youtube"]})
    page = client.get("/articles/india-japan-vision").text
    assert '<iframe src="/embed/video"' in page
    assert "data-consent-placeholder" not in page


@pytest.mark.parametrize("client", ["fastapi", "flask"], indirect=True)
def test_the_json_route_reads_consent(client: httpx.Client) -> None:
    """FastAPI through a dependency, Flask through get_consent(request)."""
    assert client.get("/api/articles").json()["personalised"] is False
    client.post("/consent", json={"action": "save", "grant": ["marketing"]})
    body = client.get("/api/articles").json()
    assert body["personalised"] is True
    assert body["consent"]["granted"] == ["essential", "marketing"]
