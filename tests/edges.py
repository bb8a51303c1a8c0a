"""Varnish and nginx on loopback in front of an origin, for tests/test_edges.py and
benchmarks/bench_edges.py: each started from the file `consent edge` prints, in a
directory of its own, on free ports; and visitors that keep their cookies as a browser."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx2 as httpx

from consent.cookies import parse_set_cookie
from consent.edge import nginx_conf, varnish_vcl
from tests.servers import free_port, wait_listening
from tests.stacks import active_scripts

VARNISHD = "/usr/sbin/varnishd"
NGINX = "/usr/sbin/nginx"
EDGES = {"varnish": VARNISHD, "nginx": NGINX}
_ROOT = " user root;" if os.geteuid() == 0 else ""


class Edge(NamedTuple):
    """A started edge: its URL, and how to empty its cache (a purge, as after a deploy)."""

    url: str
    kind: str
    directory: Path

    def purge(self) -> None:
        """Forget every stored page (docs/caching.md: after a policy revision bump)."""
        if self.kind == "varnish":
            subprocess.run(
                ["varnishadm", "-n", str(self.directory / "varnish"), "ban", "req.url ~ ."],
                check=True,
                capture_output=True,
            )
        else:
            # nginx finds a removed file missing and asks the origin again.
            for file in (self.directory / "cache" / "pages").rglob("*"):
                if file.is_file():
                    file.unlink()


@contextmanager
def edge(kind: str, backend: str, directory: Path) -> Iterator[Edge]:
    """Start `kind` ("varnish" or "nginx") in front of `backend` (HOST:PORT)."""
    port = free_port()
    if kind == "varnish":
        config = directory / "edge.vcl"
        config.write_text(varnish_vcl(backend))
        command = [
            *(VARNISHD, "-F", "-j", "none", "-a", f"127.0.0.1:{port}", "-f", str(config)),
            *("-n", str(directory / "varnish"), "-s", "malloc,64m", "-T", "127.0.0.1:0"),
        ]
    else:
        (directory / "cache").mkdir()
        config = directory / "nginx.conf"
        config.write_text(nginx_conf(backend, f"127.0.0.1:{port}", str(directory / "cache")))
        command = [
            *(NGINX, "-c", str(config), "-p", str(directory), "-e", str(directory / "error.log")),
            # (Workers of a root master run as another user, who cannot read a private
            # temporary directory.)
            *("-g", f"daemon off; pid {directory / 'nginx.pid'};{_ROOT}"),
        ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_listening(kind, port, process)
        yield Edge(f"http://127.0.0.1:{port}", kind, directory)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


class Browser:
    """One visitor: keeps the cookies the responses set (Max-Age=0 deletes), sends them."""

    def __init__(self, client: httpx.Client, gpc: bool = False) -> None:
        self.client = client
        self.gpc = gpc
        self.cookies: dict[str, str] = {}

    def headers(self) -> dict[str, str]:
        headers = {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if self.gpc:
            headers["sec-gpc"] = "1"
        return headers if self.cookies or self.gpc else {}

    def keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            cookie = parse_set_cookie(header)
            if cookie.deletes():
                self.cookies.pop(cookie.name, None)
            else:
                self.cookies[cookie.name] = cookie.value
        return response

    def get(self, path: str) -> httpx.Response:
        self.client.cookies.clear()
        return self.keep(self.client.get(path, headers=self.headers()))

    def post(self, path: str, json: dict[str, object]) -> httpx.Response:
        self.client.cookies.clear()
        return self.keep(self.client.post(path, json=json, headers=self.headers()))


def renders(origin: str) -> int:
    """How many pages the origin rendered so far."""
    return int(httpx.get(origin + "/renders").text)


class Gating(NamedTuple):
    """What a page lets run."""

    banner: bool
    analytics: bool
    marketing: bool


def gating_of(html: str) -> Gating:
    scripts = set(active_scripts(html))
    analytics = {"/static/stats.js", "/static/raw.js"} & scripts
    assert len(analytics) in (0, 2), html  # both or neither: one consent per page
    return Gating(
        "data-consent-banner" in html,
        bool(analytics),
        bool(re.search(r'<iframe data-consent="youtube" src="https://www\.youtube', html)),
    )
