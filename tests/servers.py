"""Real servers for tests, each in its own process on loopback: an ASGI app under
uvicorn, a WSGI app under gunicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
# Only a guard against a server that never comes up: starting takes about a second.
START_DEADLINE = 60.0


class Running(NamedTuple):
    """A started server: its base URL and its process (tests may kill it)."""

    url: str
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _command(app: str, port: int, wsgi: bool) -> list[str]:
    if wsgi:
        # One worker with threads (the loop thread of ConsentWSGIMiddleware is per worker);
        # no control socket, which would be one path for every gunicorn on the machine.
        return [
            *(sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}"),
            *("--workers", "1", "--threads", "4", "--no-control-socket"),
        ]
    return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]


def _spawn(
    app: str, env: Mapping[str, str], wsgi: bool = False
) -> tuple[int, subprocess.Popen[bytes]]:
    port = free_port()
    process = subprocess.Popen(
        _command(app, port, wsgi),
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return port, process


def wait_listening(app: str, port: int, process: subprocess.Popen[bytes]) -> None:
    """Return once the server `process` (serving `app`, for the message) accepts
    connections on `port`; RuntimeError with its stderr if it exits first."""
    deadline = time.monotonic() + START_DEADLINE
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, err = process.communicate()
                raise RuntimeError(f"the server did not start for {app}:\n{err.decode()}") from None
            time.sleep(0.02)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    process.wait(timeout=10)
    if process.stderr is not None:
        process.stderr.close()


@contextmanager
def uvicorn_processes(
    apps: Sequence[tuple[str, Mapping[str, str]]], *, wsgi: bool = False
) -> Iterator[list[Running]]:
    """Start several `uvicorn app` servers at once (`gunicorn app` with `wsgi=True`), each
    `(app, extra environment)`; they start in parallel (each is a process of its own), and
    all stop afterwards."""
    with ExitStack() as stack:
        spawned = []
        for app, env in apps:
            port, process = _spawn(app, env, wsgi)
            stack.callback(_stop, process)
            spawned.append((app, port, process))
        for app, port, process in spawned:
            wait_listening(app, port, process)
        yield [Running(f"http://127.0.0.1:{port}", process) for _, port, process in spawned]


@contextmanager
def uvicorn_process(app: str, **env: str) -> Iterator[Running]:
    """Start `uvicorn app` with extra environment variables; yields its base URL and the
    process (tests may kill it), and stops it afterwards."""
    with uvicorn_processes([(app, env)]) as (running,):
        yield running


@contextmanager
def wsgi_process(app: str, **env: str) -> Iterator[Running]:
    """Start the WSGI app `app` ("module:name") under gunicorn, as `uvicorn_process` does
    an ASGI one."""
    with uvicorn_processes([(app, env)], wsgi=True) as (running,):
        yield running
