"""The example apps work as documented: the seed page's model, end to end."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from consent import load_policy
from examples.app import app as starlette_app
from examples.fastapi_app import app as fastapi_app

EXAMPLES = Path(__file__).parent.parent / "examples"


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


def test_example_app_first_visit_shows_banner_and_sets_nothing() -> None:
    """A1, B1: the banner is there and no cookie at all is set before a choice."""
    client = TestClient(starlette_app)
    response = client.get("/")
    assert response.status_code == 200
    assert "data-consent-banner" in response.text
    assert 'data-analytics="off"' in response.text
    assert "set-cookie" not in response.headers
    assert response.headers["vary"] == "Cookie"


def test_example_app_accept_then_reject_without_javascript() -> None:
    """The whole flow with forms and redirects only (B13: withdrawal in one post)."""
    client = TestClient(starlette_app)
    response = client.post(
        "/consent", data={"action": "accept_all", "next": "/privacy"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/privacy"
    page = client.get("/")
    assert "data-consent-banner" not in page.text
    assert 'data-analytics="on"' in page.text

    client.post("/consent", data={"action": "reject_all", "next": "/"})
    page = client.get("/")
    assert "data-consent-banner" not in page.text
    assert 'data-analytics="off"' in page.text


def test_fastapi_example_reads_consent_through_a_dependency() -> None:
    client = TestClient(fastapi_app)
    assert client.get("/api/articles").json()["personalised"] is False
    client.post("/consent", json={"action": "save", "grant": ["marketing"]})
    body = client.get("/api/articles").json()
    assert body["personalised"] is True
    assert body["consent"]["granted"] == ["essential", "marketing"]
