"""Real-browser fixtures: the example apps under uvicorn (gunicorn for Flask), driven by
Debian's Chromium.

Playwright's own browser download does not work here, so the tests launch
/usr/bin/chromium (override with CONSENT_CHROMIUM). In CI (CI=true) a missing browser is
a failure; elsewhere the browser tests are skipped with that reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unavailable
from tests.servers import uvicorn_process, wsgi_process

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # the whole folder needs it: skipped, or failed in CI
    unavailable("Playwright is not installed: pip install -e '.[dev]' (CI does)")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CONSENT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _serve(app: str, **env: str) -> Iterator[str]:
    with uvicorn_process(app, **env) as (url, _):
        yield url


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """The Starlette example site over real HTTP."""
    yield from _serve("examples.app:app")


@pytest.fixture(scope="session")
def broken_log_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example site whose consent log cannot be written (its folder does not exist)."""
    missing = tmp_path_factory.mktemp("log") / "no-such-folder" / "consent.db"
    yield from _serve("examples.app:app", CONSENT_DB=str(missing))


@pytest.fixture(scope="session")
def fastapi_server() -> Iterator[str]:
    """The FastAPI example site over real HTTP."""
    yield from _serve("examples.fastapi_app:app")


@pytest.fixture(scope="session")
def flask_server() -> Iterator[str]:
    """The Flask example site under gunicorn, a real WSGI server."""
    with wsgi_process("examples.flask_app:app") as (url, _):
        yield url


@pytest.fixture(scope="session")
def django_server() -> Iterator[str]:
    """The Django example site (examples/django_site) under uvicorn, over real HTTP."""
    yield from _serve("examples.django_site.asgi:application")


@pytest.fixture(scope="session")
def django_wsgi_server() -> Iterator[str]:
    """The Django example site through its WSGI application, under gunicorn."""
    with wsgi_process("examples.django_site.wsgi:application") as (url, _):
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium (CI does)"
        unavailable(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


NewPage = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    """Open a page in a fresh profile (no cookies); options go to `new_context`."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def factory(**options: Any) -> Page:
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(**options)
        context.set_default_timeout(5000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield factory
    for context in contexts:
        context.close()
    # Every browser test also proves the page ran without a JavaScript error.
    assert errors == []


@pytest.fixture
def page(new_page: NewPage) -> Page:
    return new_page()


@pytest.fixture(scope="session")
def csp_server() -> Iterator[str]:
    """A page under a strict Content-Security-Policy with nonces."""
    yield from _serve("tests.browser.csp_app:app")


@pytest.fixture(scope="session")
def elements_server() -> Iterator[str]:
    """A page with every kind of element the gate holds back (tests/browser/elements_app.py)."""
    yield from _serve("tests.browser.elements_app:app")
