"""Start-up errors are seen: a bad setting stops the server at start, with its message,
under uvicorn's default command (`--lifespan auto`) for Starlette and FastAPI, which build
their middleware on their first call."""

from __future__ import annotations

import subprocess
import sys

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from consent import ConsentMiddleware, Policy
from tests.conftest import POLICY_DATA, run_async
from tests.servers import ROOT, free_port

# Only a guard against a server that hangs instead of exiting: it exits within a second.
EXIT_DEADLINE = 60.0


@pytest.mark.parametrize("app", ["starlette_app", "fastapi_app"])
def test_a_bad_setting_stops_uvicorn_at_start_with_its_message(app: str) -> None:
    port = free_port()
    run = subprocess.run(
        [sys.executable, "-m", "uvicorn", f"tests.startup_apps:{app}", "--port", str(port)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=EXIT_DEADLINE,
    )
    assert run.returncode != 0
    assert "ConsentMiddleware cannot start: ValueError: secret_key" in run.stderr
    assert "Application startup failed. Exiting." in run.stderr
    assert "appears unsupported" not in run.stderr


def test_the_lifespan_start_up_fails_and_requests_raise_the_error() -> None:
    policy = Policy.model_validate(POLICY_DATA)
    app = Starlette(middleware=[Middleware(ConsentMiddleware, policy=policy, secret_key="x")])
    with pytest.raises(ValueError, match="secret_key"), TestClient(app):
        pass  # the start-up fails
    # Without a lifespan (`--lifespan off`), each request raises it again (a 500).
    client = TestClient(app)
    for _ in range(2):
        with pytest.raises(ValueError, match="secret_key"):
            client.get("/")


def test_outside_a_running_application_the_constructor_raises_at_once() -> None:
    policy = Policy.model_validate(POLICY_DATA)
    with pytest.raises(ValueError, match="secret_key"):
        ConsentMiddleware(Starlette(), policy=policy, secret_key="x")
    with pytest.raises(TypeError, match=r"policy must be a consent\.Policy"):
        ConsentMiddleware(Starlette(), policy="consent.toml", secret_key="x" * 40)  # type: ignore[arg-type]


def test_inside_a_running_loop_a_direct_construction_still_raises() -> None:
    """Only an application building its middleware defers the error: code that constructs
    the middleware itself, even inside a running event loop, gets it at once."""
    policy = Policy.model_validate(POLICY_DATA)

    async def main() -> None:
        with pytest.raises(ValueError, match="secret_key"):
            ConsentMiddleware(Starlette(), policy=policy, secret_key="x")

    run_async(main())  # (a fresh loop in its own thread: see tests.conftest.run_async)
