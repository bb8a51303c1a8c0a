"""The markers tests/conftest.py gives by name still name tests (a renamed test would
otherwise silently move into `make test-fast`)."""

from __future__ import annotations

import importlib

import pytest

from tests.conftest import POSTGRES, SLOW


@pytest.mark.parametrize("entry", sorted(SLOW | POSTGRES))
def test_each_named_test_exists(entry: str) -> None:
    path, function = entry.split("::")
    module = importlib.import_module("tests." + path.removesuffix(".py").replace("/", "."))
    assert callable(getattr(module, function, None)), entry


def test_markers_follow_path_and_fixtures(request: pytest.FixtureRequest) -> None:
    """This test is none of them; the session's items carry them as the rules say."""
    marks = {m.name for m in request.node.iter_markers()}
    assert not marks & {"browser", "postgres", "load", "slow"}
    for item in request.session.items:
        names = {m.name for m in item.iter_markers()}
        path = item.nodeid.split("::")[0]
        assert ("browser" in names) == path.startswith("tests/browser/"), item.nodeid
        if "postgres_dsn" in getattr(item, "fixturenames", ()):
            assert "postgres" in names, item.nodeid
        if {"browser", "load"} & names:
            assert "slow" in names, item.nodeid
