"""Flask through its own test client (Werkzeug's request objects, Flask's `request` proxy in
views and templates): ConsentWSGIMiddleware around `app.wsgi_app`, `install(app.jinja_env)`,
`get_consent(request)` and `consent_html(request)` in views, Flask's session beside it."""

from __future__ import annotations

from typing import Any

import flask
import pytest

from consent import Policy, consent_html, get_consent
from consent.jinja import install
from consent.wsgi import ConsentWSGIMiddleware
from tests.conftest import POLICY_DATA, SECRET

TEMPLATE = (
    "<!doctype html><html><head>{{ consent.head() }}</head><body>{{ consent.banner() }}"
    "{{ consent.script('analytics', src='/static/stats.js') }}"
    "<p data-analytics=\"{{ 'on' if consent.allows('analytics') else 'off' }}\"></p>"
    "<footer>{{ consent.settings_link() }}</footer></body></html>"
)


def make_app(**options: Any) -> flask.Flask:
    app = flask.Flask(__name__)
    app.secret_key = "flask-session-key"
    install(app.jinja_env)

    @app.get("/")
    def home() -> str:
        flask.session["visits"] = flask.session.get("visits", 0) + 1
        return flask.render_template_string(TEMPLATE)

    @app.get("/parts")
    def parts() -> str:
        return str(consent_html(flask.request).banner())

    @app.get("/state")
    def state() -> dict[str, object]:
        consent = get_consent(flask.request)
        return {"decided": consent.decided, "analytics": consent.allows("analytics")}

    policy = Policy.model_validate(POLICY_DATA)
    app.wsgi_app = ConsentWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, policy=policy, secret_key=SECRET, **options
    )
    return app


@pytest.fixture
def client() -> Any:
    return make_app().test_client()


def test_a_flask_template_gets_the_consent_parts_through_install(client: Any) -> None:
    """A1, B1: Flask's `request` proxy in the template context is enough for `consent`."""
    page = client.get("/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "data-consent-banner" in text
    assert 'type="text/plain"' in text and 'data-analytics="off"' in text
    assert "cc-settings-link" in text
    assert "Cookie" in page.headers["Vary"]
    # Flask's own session is essential to the site: it passes (undeclared, logged).
    assert any(v.startswith("session=") for v in page.headers.getlist("Set-Cookie"))


def test_accept_through_the_form_then_the_page_runs_the_script(client: Any) -> None:
    """A6, B13: a form post and its redirect, then the script active; reject withdraws it."""
    answer = client.post("/consent", data={"action": "accept_all", "next": "/"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    text = client.get("/").get_data(as_text=True)
    assert "data-consent-banner" not in text and 'data-analytics="on"' in text
    assert '<script data-consent="analytics" src="/static/stats.js"></script>' in text
    client.post("/consent", json={"action": "reject_all"})
    assert client.get("/state").get_json() == {"decided": True, "analytics": False}


def test_get_consent_and_consent_html_take_flask_s_request(client: Any) -> None:
    assert client.get("/state").get_json() == {"decided": False, "analytics": False}
    assert "data-consent-banner" in client.get("/parts").get_data(as_text=True)
    client.post("/consent", json={"action": "save", "grant": ["analytics"]})
    assert client.get("/state").get_json() == {"decided": True, "analytics": True}
    assert client.get("/parts").get_data(as_text=True) == ""  # decided: no banner


def test_a_cross_site_post_is_refused_and_a_tampered_cookie_is_undecided(client: Any) -> None:
    """A4, E1"""
    refused = client.post(
        "/consent", data={"action": "accept_all"}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403 and "Set-Cookie" not in refused.headers
    client.set_cookie("consent", "1.abc.1.x.y.7.3f.forged")
    assert client.get("/state").get_json() == {"decided": False, "analytics": False}


def test_the_routes_work_under_a_flask_prefix() -> None:
    """Mounted under SCRIPT_NAME (a reverse proxy's prefix): the routes move with it."""
    client = make_app().test_client()
    answer = client.get("/consent/state", base_url="http://localhost/news/")
    assert answer.status_code == 200 and answer.get_json()["decided"] is False
    parts = client.get("/parts", base_url="http://localhost/news/").get_data(as_text=True)
    assert 'action="/news/consent"' in parts and 'href="/news/consent?next=/news/parts"' in parts
