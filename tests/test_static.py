"""The browser assets: small, no inline code required, served with a long cache."""

from __future__ import annotations

import gzip
import re
from importlib.resources import files

from starlette.testclient import TestClient

from tests.conftest import make_app

BUDGET = 4864  # bytes, gzip -9, consent.js and consent.css together


def asset(name: str) -> bytes:
    return files("consent").joinpath("static", name).read_bytes()


def test_assets_fit_the_size_budget() -> None:
    total = sum(len(gzip.compress(asset(n), 9)) for n in ("consent.js", "consent.css"))
    assert total <= BUDGET, f"{total} bytes gzipped"


def test_script_needs_no_eval_and_exposes_one_global() -> None:
    script = asset("consent.js").decode()
    assert not re.search(r"\beval\(|new Function|setTimeout\(\s*['\"]", script)
    assert "innerHTML" not in script  # only nodes, never strings, become markup
    assert script.count("window.") == 1


def test_stylesheet_uses_logical_properties_only() -> None:
    """Right-to-left layouts mirror by themselves (no left/right in the stylesheet)."""
    css = asset("consent.css").decode()
    assert not re.search(r"(margin|padding|border)-(left|right)|\b(left|right)\s*:", css)
    assert "prefers-color-scheme: dark" in css


def test_assets_are_served_with_a_long_cache_and_versioned_urls() -> None:
    client = TestClient(make_app())
    for name, kind in (("consent.js", "javascript"), ("consent.css", "text/css")):
        response = client.get(f"/consent/static/{name}")
        assert response.status_code == 200
        assert kind in response.headers["content-type"]
        assert response.headers["cache-control"] == "public, max-age=31536000"
        assert response.content == asset(name)
    assert client.get("/consent/static/nope.js").status_code == 404
    assert client.post("/consent/static/consent.js").status_code == 405
