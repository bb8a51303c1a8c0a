"""Shared fixtures: a policy shaped like the seed page's, and an app factory."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn, TypeVar

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message

from consent import ConsentMiddleware, Policy, get_consent
from tests import asgi

T = TypeVar("T")

# The example apps keep receipts in CONSENT_DB; tests must not write beside the project.
os.environ.setdefault(
    "CONSENT_DB", os.path.join(tempfile.mkdtemp(prefix="consent-tests-"), "examples.db")
)
POSTGRES_DSN = os.environ.get(
    "CONSENT_TEST_POSTGRES", "postgresql://consent:consent@127.0.0.1:5432/consent_test"
)

SECRET = "test-secret-key-0123456789abcdef-0123456789"
OTHER_SECRET = "another-secret-key-fedcba9876543210-fedcba98"

POLICY_DATA: dict[str, Any] = {
    "revision": 1,
    "categories": [
        {"id": "essential", "title": "Essential", "description": "Needed.", "required": True},
        {"id": "analytics", "title": "Analytics", "description": "Visit counts."},
        {"id": "marketing", "title": "Marketing", "description": "Ads and videos."},
    ],
    "services": [
        {
            "id": "php-session",
            "category": "essential",
            "title": "PHP session",
            "cookies": [{"name": "PHPSESSID", "purpose": "Session id.", "duration": "session"}],
        },
        {
            "id": "wordpress",
            "category": "essential",
            "title": "WordPress",
            "cookies": [
                {
                    "name": "wordpress_test_cookie",
                    "purpose": "Cookie check.",
                    "duration": "session",
                },
                {"name": "wordpress_logged_in_*", "purpose": "Login.", "duration": "session"},
                {"name": "wordpress_sec_*", "purpose": "Security.", "duration": "session"},
            ],
        },
        {
            "id": "matomo",
            "category": "analytics",
            "title": "Matomo",
            "cookies": [{"name": "_pk_id.*", "purpose": "Visitor id.", "duration": "13 months"}],
        },
        {
            "id": "google-analytics",
            "category": "analytics",
            "title": "Google Analytics",
            "cookies": [{"name": "_ga", "purpose": "Client id.", "duration": "13 months"}],
        },
        {
            "id": "youtube",
            "category": "marketing",
            "title": "YouTube",
            "cookies": [{"name": "YSC", "purpose": "View counts.", "duration": "session"}],
        },
    ],
}


@pytest.fixture
def policy() -> Policy:
    return Policy.model_validate(POLICY_DATA)


async def whoami(request: Request) -> JSONResponse:
    """An endpoint that reports what the middleware decided for this request."""
    state = get_consent(request)
    return JSONResponse(
        {
            "decided": state.decided,
            "granted": sorted(state.granted),
            "services": sorted(state.services),
        }
    )


def make_app(policy: Policy | None = None, **overrides: Any) -> Starlette:
    """The test application: `/` reports the consent state; options go to the middleware."""
    options: dict[str, Any] = {
        "policy": policy or Policy.model_validate(POLICY_DATA),
        "secret_key": SECRET,
    }
    options.update(overrides)
    return Starlette(
        routes=[Route("/", whoami)],
        middleware=[Middleware(ConsentMiddleware, **options)],
    )


@pytest.fixture
def client_factory() -> Callable[..., TestClient]:
    def factory(**overrides: Any) -> TestClient:
        return TestClient(make_app(**overrides))

    return factory


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app())


def unavailable(reason: str) -> NoReturn:
    """A browser, database or tool the test needs is missing: a failure in CI (CI=true),
    where `.ci/run` installs everything, and a skip with `reason` elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh event loop in its own thread.

    The browser tests' Playwright session keeps an event loop running in the main thread,
    where `asyncio.run` would refuse to start.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def call_asgi(
    app: ASGIApp,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    chunks: list[bytes],
    host: bytes = b"testserver",
) -> list[Message]:
    """One request straight into an ASGI app (no test client): the body in `chunks`, the
    messages the app sent returned in order."""
    scope, receive, send, sent = asgi.request(method, path, headers, chunks, host=host.decode())

    async def call() -> None:
        await app(scope, receive, send)

    run_async(call())
    return sent


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The DSN of a reachable PostgreSQL server. Skipped when there is none, except in CI
    (CI=true), where a missing server is a failure."""
    import psycopg

    try:
        psycopg.connect(POSTGRES_DSN, connect_timeout=3).close()
    except psycopg.Error as exc:
        reason = (
            f"no PostgreSQL server for the tests ({exc.__class__.__name__}); start one with "
            "`make postgres` (Debian, as root) or point CONSENT_TEST_POSTGRES at one"
        )
        unavailable(reason)
    return POSTGRES_DSN


@pytest.fixture
def postgres_dsn(postgres_server: str) -> Iterator[str]:
    """A DSN whose tables live in a fresh schema, dropped after the test."""
    import psycopg

    schema = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in postgres_server else "?"
    yield f"{postgres_server}{joiner}options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
