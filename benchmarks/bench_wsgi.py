"""What the consent middleware costs a Flask app per request: the native WSGI middleware
(ConsentWSGIMiddleware) against a bare Flask app, Flask's own signed session, and the
bridge through a2wsgi (`ASGIMiddleware(ConsentMiddleware(WSGIMiddleware(flask_app)))`).

Each configuration is a WSGI callable called in-process (no network, no test client) with a
fresh environ, its body read and closed as a server does. Wall-clock: all configurations in
one run, in interleaved rounds, the median of the rounds. Instructions (`make bench`, when
valgrind is installed): `benchmarks/callgrind.py`, the difference of two run lengths with
PYTHONHASHSEED=0; the bridge runs part of each request in two other threads (a2wsgi's
event loop and its thread pool), and callgrind counts every thread's instructions.
Run with `make bench` (`--quick` for a short run).
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import a2wsgi
import flask

from consent import ConsentMiddleware, ConsentState, get_consent, load_policy
from consent.signing import ConsentCodec, new_receipt_id
from consent.wsgi import ConsentWSGIMiddleware

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `benchmarks.callgrind` when run as a script
POLICY = load_policy(ROOT / "examples" / "consent.toml")
KEY = "benchmark-secret-key-0123456789abcdef"
ARTICLE = (Path(__file__).resolve().parent / "article.html").read_bytes()
Environ = dict[str, Any]
WSGIApp = Callable[[Environ, Any], Iterable[bytes]]


def flask_app(read: str) -> flask.Flask:
    """A hello page that reads nothing, the session, or the consent (`read`); `/article`
    sends the 6.3 KB article."""
    app = flask.Flask(__name__)
    app.secret_key = KEY

    @app.get("/")
    def hello() -> str:
        if read == "session":
            return "yes" if flask.session.get("n") else "no"
        if read == "consent":
            return "yes" if get_consent(flask.request).allows("analytics") else "no"
        if read == "bridge":
            # Under the bridge the visit is in the ASGI scope that a2wsgi puts in the environ.
            scope = flask.request.environ["asgi.scope"]
            return "yes" if get_consent(scope).allows("analytics") else "no"
        return "no"

    @app.get("/article")
    def article() -> flask.Response:
        return flask.Response(ARTICLE, mimetype="text/html")

    return app


def consent_cookie() -> str:
    state = ConsentState.from_choice(
        POLICY, "accept_all", issued_at=ConsentState.now(), receipt_id=new_receipt_id()
    )
    return "consent=" + ConsentCodec(POLICY, KEY).encode(state)


def session_cookie() -> str:
    app = flask_app("session")
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    return "session=" + str(serializer.dumps({"n": 1}))


def native(read: str) -> WSGIApp:
    app = flask_app(read)
    return ConsentWSGIMiddleware(app.wsgi_app, policy=POLICY, secret_key=KEY)


def bridge(read: str) -> WSGIApp:
    app = flask_app(read)
    inner = ConsentMiddleware(a2wsgi.WSGIMiddleware(app), policy=POLICY, secret_key=KEY)  # type: ignore[arg-type]
    return a2wsgi.ASGIMiddleware(inner)  # type: ignore[arg-type,return-value]


def _configs() -> dict[str, tuple[WSGIApp, str, str, bytes | None]]:
    """name -> (app, path, Cookie header, expected body; None: a gated article)."""
    cookie = consent_cookie()
    return {
        "flask, bare": (flask_app("nothing"), "/", "", b"no"),
        "flask, session": (flask_app("session"), "/", session_cookie(), b"yes"),
        "flask + ConsentWSGIMiddleware": (native("consent"), "/", cookie, b"yes"),
        "flask + a2wsgi bridge": (bridge("bridge"), "/", cookie, b"yes"),
        "article, bare": (flask_app("nothing"), "/article", "", ARTICLE),
        "article, ConsentWSGIMiddleware": (native("nothing"), "/article", cookie, None),
        "article, a2wsgi bridge": (bridge("nothing"), "/article", cookie, None),
    }


CONFIGS = _configs()


def environ(path: str, cookie: str) -> Environ:
    """The environ a WSGI server builds for `GET path` (as gunicorn does)."""
    out: Environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if cookie:
        out["HTTP_COOKIE"] = cookie
    return out


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def call(app: WSGIApp, env: Environ) -> bytes:
    """One request, as a server answers it: the body read, the iterable closed."""
    result = app(env, _start_response)
    try:
        return b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


def check(name: str, app: WSGIApp, path: str, cookie: str, expected: bytes | None) -> None:
    """Prove a configuration answers what it should, so that no error path is timed."""
    got: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got.append(status)

    result = app(environ(path, cookie), start_response)
    body = b"".join(result)
    getattr(result, "close", lambda: None)()
    if expected is None:
        if b'data-consent="analytics"' not in body or b'type="text/plain"' in body:
            raise SystemExit(f"{name}: expected the accepted article, got {body[:200]!r}")
    elif body != expected or not got or not got[0].startswith("200"):
        raise SystemExit(f"{name}: expected 200 {expected!r}, got {got} {body!r}")


def measure(app: WSGIApp, path: str, cookie: str, n: int) -> float:
    environs = [environ(path, cookie) for _ in range(n)]
    pop = environs.pop
    start = time.perf_counter_ns()
    while environs:
        call(app, pop())
    return (time.perf_counter_ns() - start) / n / 1000


def run(rounds: int, n: int) -> dict[str, float]:
    for name, (app, path, cookie, expected) in CONFIGS.items():
        check(name, app, path, cookie, expected)
        measure(app, path, cookie, 500)  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for _ in range(rounds):
        for name, (app, path, cookie, _) in CONFIGS.items():
            samples[name].append(measure(app, path, cookie, n))
    return {name: statistics.median(values) for name, values in samples.items()}


def report(results: dict[str, float], unit: str, digits: int) -> None:
    bare, session = results["flask, bare"], results["flask, session"]
    page = results["article, bare"]
    print(f"{'configuration':32} {unit:>14} {'overhead':>12} {'x session':>10}")
    for name, value in results.items():
        base = page if name.startswith("article") else bare
        extra = value - base
        ratio = f"{extra / (session - bare):10.2f}" if value != base else ""
        print(f"{name:32} {value:14.{digits}f} {extra:12.{digits}f} {ratio}")
    native_cost = results["flask + ConsentWSGIMiddleware"] - bare
    bridge_cost = results["flask + a2wsgi bridge"] - bare
    if native_cost > 0:
        print(f"the bridge costs {bridge_cost / native_cost:.1f} x the native middleware")
    else:  # (wall-clock on a busy machine: below what this run can resolve)
        print(f"the bridge costs {bridge_cost:.{digits}f} over the bare app; the native")
        print("middleware's overhead is below what this run resolves")


_RUNS = 5
_SETUP = """
import sys
sys.path.insert(0, {root!r})
from benchmarks.bench_wsgi import CONFIGS, call, environ
app, path, cookie, _ = CONFIGS[{name!r}]
def many(n):
    for _ in range(n):
        call(app, environ(path, cookie))
many(200)
"""


def instruction_counts() -> dict[str, float]:
    """Instructions per request of each configuration (needs valgrind)."""
    from benchmarks.callgrind import instructions_per_run

    out = {}
    for name in CONFIGS:
        setup = _SETUP.format(root=str(ROOT), name=name)
        out[name] = instructions_per_run(setup, "many(100)", _RUNS, cwd=str(ROOT)) / 100
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument(
        "--no-instructions", action="store_true", help="skip the callgrind instruction counts"
    )
    args = parser.parse_args(argv)
    print(
        f"Python {platform.python_version()}, flask {version('flask')}, "
        f"werkzeug {version('werkzeug')}, a2wsgi {version('a2wsgi')}, "
        f"asgi-consent {version('asgi-consent')}"
    )
    rounds, n = (3, 300) if args.quick else (15, 3000)
    print("\nWall-clock, µs per request (median of interleaved rounds):")
    report(run(rounds, n), "µs/request", 2)
    if not args.quick and not args.no_instructions:
        from benchmarks.callgrind import available

        if available():
            print("\nInstructions per request (callgrind, PYTHONHASHSEED=0, two run lengths):")
            report(instruction_counts(), "instructions", 0)
        else:
            print("(valgrind is not installed: no instruction counts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
