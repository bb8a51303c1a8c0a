"""What the package deliberately does not do (checklist B10, H1)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient

from consent import Category, Policy
from examples.app import app as example_app
from tests.conftest import POLICY_DATA

STATIC = Path(__file__).resolve().parent.parent / "src" / "consent" / "static"
LEGITIMATE = re.compile(r"legitimate|\bobject(ion)?\b|berechtigt", re.IGNORECASE)


def test_no_legitimate_interest_switch_anywhere() -> None:
    """B10: no per-category "legitimate interest" or "object" control, no second refusal
    step, in the banner, the dialog, the settings page or the policy schema."""
    client = TestClient(example_app)
    for path in ("/", "/consent", "/consent/policy", "/?lang=de", "/consent?lang=fr"):
        html = client.get(path).text
        assert not LEGITIMATE.search(re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S))
    fields = set(property_names(Policy.model_json_schema()))
    assert "required" in fields and "gpc_opt_out" in fields  # the walk finds the fields
    assert not [f for f in fields if re.search(r"legitimate|interest|object|basis", f)]
    with pytest.raises(ValidationError, match="legitimate_interest"):
        Category.model_validate({"id": "ads", "title": "Ads", "legitimate_interest": True})
    data = {**POLICY_DATA, "categories": [*POLICY_DATA["categories"]]}
    data["categories"][1] = {**data["categories"][1], "basis": "legitimate_interest"}
    with pytest.raises(ValidationError, match="basis"):
        Policy.model_validate(data)


def property_names(schema: Any) -> Iterator[str]:
    """Every field name anywhere in a JSON schema."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from property_names(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from property_names(item)


def test_no_tcf_emulation_in_the_assets() -> None:
    """H1: the scripts define no __tcfapi, write no euconsent-v2 cookie, build no TC string
    (the browser side is checked in browser/test_out_of_scope.py)."""
    for asset in STATIC.glob("*.js"):
        text = asset.read_text()
        for marker in ("__tcfapi", "euconsent", "TCString", "tcString"):
            assert marker not in text, (asset.name, marker)
