"""`consent declaration`: the cookie declaration as HTML, Markdown, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import html5lib
import pytest

from consent import Policy, load_policy
from consent.cli import main
from consent.declaration import Format, render_declaration
from tests.conftest import POLICY_DATA

POLICY = Policy.model_validate(POLICY_DATA)
RULES = sum(len(s.cookies) for s in POLICY.services)


def test_csv_has_one_row_per_cookie_rule() -> None:
    rows = list(csv.DictReader(io.StringIO(render_declaration(POLICY, "csv"))))
    assert len(rows) == RULES
    first = rows[0]
    assert (first["category"], first["required"], first["cookie"]) == (
        "essential",
        "yes",
        "PHPSESSID",
    )


def test_json_carries_the_fingerprint_and_the_rows() -> None:
    data = json.loads(render_declaration(POLICY, "json"))
    assert data["fingerprint"] == POLICY.fingerprint
    assert len(data["cookies"]) == RULES


def test_markdown_has_a_table_per_category_and_escapes_pipes() -> None:
    content: dict[str, Any] = json.loads(json.dumps(POLICY_DATA))
    content["services"][2]["cookies"][0]["purpose"] = "a | b"
    text = render_declaration(Policy.model_validate(content), "md")
    assert text.count("| Service | Cookie | Purpose | Duration |") == 3
    assert "a \\| b" in text
    assert "| WordPress | `wordpress_logged_in_*` |" in text


def test_html_is_a_complete_escaped_document() -> None:
    evil = "<script>alert(1)</script>"
    content: dict[str, Any] = json.loads(json.dumps(POLICY_DATA))
    content["categories"][1]["description"] = evil
    page = render_declaration(Policy.model_validate(content), "html")
    assert page.startswith("<!doctype html>") and evil not in page
    document = html5lib.parse(page, treebuilder="dom", namespaceHTMLElements=False)
    assert not document.getElementsByTagName("script")
    assert len(document.getElementsByTagName("table")) == 3


def test_language_picks_translated_texts() -> None:
    content: dict[str, Any] = json.loads(json.dumps(POLICY_DATA))
    content["categories"][1]["title"] = {"en": "Analytics", "de": "Statistik"}
    policy = Policy.model_validate(content)
    assert "## Statistik" in render_declaration(policy, "md", "de")
    assert "## Analytics" in render_declaration(policy, "md", "fr")


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_missing_translations_fall_back_to_the_default_language(fmt: Format) -> None:
    """Issue 7 (policy texts per language): a text without the asked language is shown
    in the policy's default language, not in whichever language the file lists first."""
    content: dict[str, Any] = json.loads(json.dumps(POLICY_DATA))
    content["default_language"] = "de"
    content["controller"] = {"fr": "Exemple SA", "de": "Beispiel GmbH"}
    content["categories"][1]["description"] = {"fr": "Mesure d'audience.", "de": "Reichweite."}
    policy = Policy.model_validate(content)
    text = render_declaration(policy, fmt, "it")
    assert "Beispiel GmbH" in text and "Reichweite." in text
    assert "Exemple SA" not in text and "Mesure" not in text


@pytest.mark.parametrize("fmt", ["html", "md", "json", "csv"])
def test_cli_writes_each_format(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"declaration.{fmt}"
    assert main(["declaration", "examples/consent.toml", "--format", fmt, "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "PHPSESSID" in text and "wordpress_logged_in_*" in text
    assert text == render_declaration(load_policy("examples/consent.toml"), fmt)  # type: ignore[arg-type]


def test_cli_refuses_a_broken_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("revision = \n")
    assert main(["declaration", str(broken)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
