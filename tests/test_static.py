"""The browser assets: small, no inline code required, served with a long cache."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
import shutil
from importlib.resources import files
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from consent import Policy
from consent.assets import ASSETS, served_assets
from tests.conftest import POLICY_DATA, make_app
from tests.test_consent_mode import POLICY as CONSENT_MODE_POLICY
from tests.test_consent_mode import head_app

BUDGET = 5120  # bytes, gzip -9, consent.js and consent.css together, as served

REBUILD = "no minified copy is served: build the assets (`python hatch_build.py`)"


def source(name: str) -> bytes:
    """The readable source of an asset, as kept in the repository."""
    return files("consent").joinpath("static", name).read_bytes()


def linked_assets(client: TestClient) -> dict[str, str]:
    """The asset URLs the `consent.head()` part links, by file name."""
    html = client.get("/").text
    urls = re.findall(r'(?:src|href)="(/consent/static/([^"?]+)\?v=[^"]+)"', html)
    return {name: url for url, name in urls}


def test_served_assets_fit_the_size_budget() -> None:
    """What a visitor downloads (the bodies of the URLs head() links, through the
    middleware), compressed with gzip -9: at most 5,120 bytes together."""
    client = TestClient(head_app(Policy.model_validate(POLICY_DATA)))
    urls = linked_assets(client)
    assert set(urls) == {"consent.js", "consent.css"}
    total = sum(len(gzip.compress(client.get(url).content, 9)) for url in urls.values())
    assert total <= BUDGET, f"{total} bytes gzipped"


def test_the_minified_copies_are_served() -> None:
    """Every asset's URL sends its minified copy, made from today's source (`pip install`
    and `make` build it): a check never passes on the readable source by accident."""
    client = TestClient(make_app())
    static = files("consent").joinpath("static")
    for name, asset in served_assets().items():
        assert asset.file != name, REBUILD
        body = client.get(f"/consent/static/{name}").content
        assert body == static.joinpath(asset.file).read_bytes()
        assert len(body) < len(source(name))


def test_asset_urls_carry_the_hash_of_the_bytes_served() -> None:
    """The `?v=` of each linked URL is the SHA-256 of its body, so a long cache is safe."""
    client = TestClient(head_app(CONSENT_MODE_POLICY))
    urls = linked_assets(client)
    assert set(urls) == set(ASSETS)
    for url in urls.values():
        body = client.get(url).content
        assert url.endswith("?v=" + hashlib.sha256(body).hexdigest()[:10])


def test_a_missing_or_stale_copy_serves_the_source(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A copy made from another version of its source, or none at all: the readable source
    is sent (and versioned) instead, with a warning that says how to rebuild."""
    static = tmp_path / "static"
    shutil.copytree(Path(str(files("consent").joinpath("static"))), static)
    listing = {
        name: {"file": name.replace(".", ".min.", 1), "source_sha256": "0" * 64} for name in ASSETS
    }
    (static / "minified.json").write_text(json.dumps(listing), encoding="utf-8")
    for name in ASSETS:
        (static / name.replace(".", ".min.", 1)).write_text("/* old */", encoding="utf-8")
    for _ in ("stale", "missing"):
        with caplog.at_level(logging.WARNING, logger="consent"):
            served = served_assets(static)
        for name in ASSETS:
            version = hashlib.sha256((static / name).read_bytes()).hexdigest()[:10]
            assert served[name] == (name, version)
        assert "python hatch_build.py" in caplog.text
        caplog.clear()
        (static / "minified.json").unlink(missing_ok=True)


def test_script_needs_no_eval_and_exposes_one_global() -> None:
    served = TestClient(make_app()).get("/consent/static/consent.js").text
    for script in (source("consent.js").decode(), served):
        assert not re.search(r"\beval\(|new Function|setTimeout\(\s*['\"]", script)
        assert "innerHTML" not in script  # only nodes, never strings, become markup
        assert script.count("window.") == 1


def test_stylesheet_uses_logical_properties_only() -> None:
    """Right-to-left layouts mirror by themselves (no left/right in the stylesheet)."""
    css = source("consent.css").decode()
    assert not re.search(r"(margin|padding|border)-(left|right)|\b(left|right)\s*:", css)
    assert "prefers-color-scheme: dark" in css


def test_assets_are_served_with_a_long_cache_and_versioned_urls() -> None:
    client = TestClient(make_app())
    static = files("consent").joinpath("static")
    served = served_assets()
    for name, kind in (("consent.js", "javascript"), ("consent.css", "text/css")):
        response = client.get(f"/consent/static/{name}")
        assert response.status_code == 200
        assert kind in response.headers["content-type"]
        assert response.headers["cache-control"] == "public, max-age=31536000"
        assert response.content == static.joinpath(served[name].file).read_bytes()
    assert client.get("/consent/static/nope.js").status_code == 404
    assert client.post("/consent/static/consent.js").status_code == 405
