"""Shared fixtures: a policy shaped like the seed page's, and an app factory; the markers
(`browser`, `postgres`, `load`, `slow`) are given here, by path and fixture, not in the
test files (`pytest_collection_modifyitems` below; CONTRIBUTING.md says how to use them)."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Coroutine, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest
from hypothesis import settings
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

TESTS = Path(__file__).resolve().parent

# `make test-fast` runs Hypothesis with this profile (`--hypothesis-profile=fast`): fewer
# examples for the property tests that do not set their own number; `make test` and CI
# keep Hypothesis's default of 100.
settings.register_profile("fast", max_examples=20)

# Tests that take a second or more of CPU on a quiet machine, for volume (many Hypothesis
# examples, many pages) rather than for waiting: `make test` runs them, `make test-fast`
# leaves them out. "file::function" (every parametrization of it); tests/test_markers.py
# checks that each entry still names a test.
SLOW = frozenset(
    {
        "test_gating.py::test_gate_equals_the_tag_by_tag_reference",
        "test_gating.py::test_no_refused_tag_stays_active",
        "test_gating.py::test_runs_of_a_tag_in_foreign_content_give_the_reference_s_bytes",
        "test_gating.py::test_streamed_output_equals_one_shot",
        "test_gating.py::test_gate_equals_the_reference_on_long_pages",
        "test_gating.py::test_gate_equals_the_reference_on_any_bytes",
        "test_gating_context.py::test_no_refused_tag_stays_active_around_foreign_content",
        "test_gating_elements.py::test_no_refused_element_stays_active",
        "test_gating_encodings.py::test_any_unicode_spelling_of_a_declared_host_is_that_host",
        "test_choices.py::test_random_json_never_crashes_or_grants_unasked",
        "test_choices.py::test_random_form_bytes_never_crash_or_grant_unasked",
        "test_choices.py::test_random_form_fields_never_crash_or_grant_unasked",
        "test_choices.py::test_an_origin_of_another_scheme_host_or_port_is_refused",
        "test_choices.py::test_safe_next_stays_on_this_origin",
        "test_choices.py::test_is_same_origin_never_raises",
        "test_choices.py::test_random_form_dictionaries_never_crash_or_grant_unasked",
        "test_choices.py::test_random_json_bytes_never_crash",
        "test_signing.py::test_decode_well_shaped_forgery_never_grants",
        "test_security.py::test_several_copies_grant_at_most_what_each_valid_one_grants",
        "test_security.py::test_only_a_pair_named_exactly_consent_is_read",
        "test_report.py::test_400_days_stay_within_the_plot",
        "test_scan.py::test_missing_browser_exits_2",
        "test_scan.py::test_other_commands_work_without_playwright",
        "test_docs.py::test_every_test_the_threat_table_names_exists",
        "test_static.py::test_assets_are_served_with_a_long_cache_and_versioned_urls",
        "test_enforce.py::test_deletions_expire_exactly_the_refused_trackers",
        "test_fuzz.py::test_random_inputs_hold",
        "test_cookies.py::test_parse_set_cookie_never_raises",
        "test_receipts.py::test_a_purged_snapshot_is_stored_again",
        "test_gating_encodings.py::test_without_the_idna_package_known_characters_still_map",
        "test_enforce.py::test_any_if_none_match_reaches_the_app_as_it_should",
        # A real uvicorn in its own process, each (issue 18).
        "test_startup.py::test_a_bad_setting_stops_uvicorn_at_start_with_its_message",
        "test_faults.py::test_a_locked_database_refuses_grants_then_recovers",
        "test_header_paths.py::test_response_headers_read_the_same_in_any_case_and_repetition",
        "test_wsgi.py::test_the_environ_reader_s_memo_never_changes_a_request_s_headers",
    }
)
POSTGRES = frozenset({"test_benchmarks.py::test_bench_receipts_runs_with_every_store"})
# Whole files that start servers in other processes and drive traffic through them.
LOAD = frozenset(
    {
        "test_load.py",
        "test_faults_rollout.py",
        "test_benchmarks.py",
        "test_receipts_crash.py",
        "test_edges.py",
    }
)


def _test_file(item: pytest.Item) -> str:
    """The item's file relative to tests/ ("test_x.py", "browser/test_y.py")."""
    return item.path.resolve().relative_to(TESTS).as_posix()


def _needs_postgres(item: pytest.Item) -> bool:
    """The test asks for the PostgreSQL fixtures, directly or through a parametrized
    fixture whose parameter is "postgres" (which calls `getfixturevalue("postgres_dsn")`)."""
    names = getattr(item, "fixturenames", ())
    if "postgres_server" in names or "postgres_dsn" in names:
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "postgres" in callspec.params.values()


@pytest.hookimpl(tryfirst=True)  # before -m and -k deselect, so that they see the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test by what it needs: `browser` (tests/browser/, Chromium), `postgres`
    (a PostgreSQL server), `load` (servers in other processes under traffic) and `slow`
    (SLOW above, and every browser and load test)."""
    for item in items:
        try:
            path = _test_file(item)
        except ValueError:  # a test outside tests/ (not collected by default)
            continue
        function = getattr(item, "originalname", item.name)
        if path.startswith("browser/"):
            item.add_marker(pytest.mark.browser)
        if _needs_postgres(item) or f"{path}::{function}" in POSTGRES:
            item.add_marker(pytest.mark.postgres)
        if path in LOAD:
            item.add_marker(pytest.mark.load)
        if path.startswith("browser/") or path in LOAD or f"{path}::{function}" in SLOW:
            item.add_marker(pytest.mark.slow)


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
    """A browser, database, package or tool the test needs is missing: a failure in CI
    (CI=true), where `.ci/run` installs everything, and a skip with `reason` elsewhere.
    Called while a module is imported (a missing package), it skips or fails that module."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    # allow_module_level: a conftest or test module may call this while it is imported.
    pytest.skip(reason, allow_module_level=True)


# Optional packages (extras of pyproject.toml) that test modules import at the top, and
# what installs them. A test module that cannot be imported for want of one follows the
# same rule as `unavailable`: an error in CI, a skip elsewhere.
OPTIONAL_PACKAGES = {
    "playwright": "scan",
    "axe_playwright_python": "dev",
    "psycopg": "postgres",
    "psycopg_pool": "postgres",
    "brotli": "brotli",
    "atheris": "fuzz",
    "flask": "flask",
}
_MISSING = re.compile(r"No module named '([A-Za-z0-9_]+)")


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A test module that needs a missing optional package is skipped with the extra that
    installs it (outside CI; in CI, where everything is installed, it stays an error)."""
    report = yield
    if report.failed and os.environ.get("CI") != "true":
        found = _MISSING.search(str(report.longrepr))
        if found and found[1] in OPTIONAL_PACKAGES:
            extra = OPTIONAL_PACKAGES[found[1]]
            report.outcome = "skipped"
            report.longrepr = (
                str(collector.path),
                0,
                f"Skipped: {found[1]} is not installed: pip install -e '.[{extra}]'",
            )
    return report


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
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed: pip install -e '.[postgres]' (CI does)")

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
