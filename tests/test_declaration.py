"""`consent declaration`: the cookie declaration as HTML, Markdown, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import html5lib
import pytest
from starlette.testclient import TestClient

from consent import Policy, load_policy
from consent.cli import main
from consent.declaration import Format, render_declaration
from consent.i18n import LANGUAGES
from consent.receipts import LogStats
from consent.report import render_report
from tests.conftest import POLICY_DATA, make_app

POLICY = Policy.model_validate(POLICY_DATA)
RULES = sum(len(s.cookies) for s in POLICY.services)


def test_csv_has_one_row_per_cookie_rule() -> None:
    rows = list(csv.DictReader(io.StringIO(render_declaration(POLICY, "csv"))))
    assert len(rows) == RULES + 1  # and the consent cookie, first
    first = rows[1]
    assert (first["category"], first["required"], first["cookie"]) == (
        "essential",
        "yes",
        "PHPSESSID",
    )


def test_json_carries_the_fingerprint_and_the_rows() -> None:
    data = json.loads(render_declaration(POLICY, "json"))
    assert data["fingerprint"] == POLICY.fingerprint
    assert len(data["cookies"]) == RULES + 1


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


NO_REQUIRED: dict[str, Any] = {
    "categories": [{"id": "analytics", "title": "Analytics", "description": "Visits."}],
    "services": [
        {
            "id": "matomo",
            "category": "analytics",
            "title": "Matomo",
            "cookies": [{"name": "_pk_id.*", "purpose": "Visitor id.", "duration": "13 months"}],
        }
    ],
    "max_age_days": 90,
}


@pytest.mark.parametrize("fmt", ["html", "md", "json", "csv"])
def test_every_format_declares_the_consent_cookie(fmt: Format) -> None:
    """B6: the consent cookie is itself a cookie the site stores: every export lists it
    with its real name, its real duration (max_age_days), its purpose, as essential."""
    text = render_declaration(POLICY, fmt, cookie_name="__Host-consent")
    assert "__Host-consent" in text
    assert "Remembers your privacy choice" in text
    if fmt == "json":
        data = json.loads(text)
        assert data["consent_cookie"]["name"] == "__Host-consent"
        assert data["consent_cookie"]["max_age"] == 180 * 86400
        assert data["consent_cookie"]["category"] == "essential"
        [row] = [r for r in data["cookies"] if r["cookie"] == "__Host-consent"]
    elif fmt == "csv":
        [row] = [r for r in csv.DictReader(io.StringIO(text)) if r["cookie"] == "__Host-consent"]
    else:
        assert "180 days" in text
        return
    assert (row["category"], row["required"], row["duration"]) == ("essential", "yes", "180 days")


def test_the_consent_cookie_is_translated() -> None:
    """B6: in the visitor's language, like the rest of the declaration."""
    text = render_declaration(POLICY, "md", "de")
    assert "| Ihre Datenschutz-Auswahl | `consent` | Speichert Ihre Datenschutz-Auswahl" in text
    assert "180 Tage" in text


@pytest.mark.parametrize("fmt", ["html", "md", "csv"])
def test_without_a_required_category_the_cookie_has_its_own_essential_group(
    fmt: Format,
) -> None:
    """B6: a policy with no required category still declares the consent cookie, in an
    "Essential" group of its own."""
    policy = Policy.model_validate(NO_REQUIRED)
    text = render_declaration(policy, fmt)
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert (rows[0]["category_title"], rows[0]["cookie"], rows[0]["duration"]) == (
            "Essential",
            "consent",
            "90 days",
        )
    elif fmt == "md":
        assert "## Essential (Always on)" in text
        assert "| Your privacy choice | `consent` |" in text
    else:
        document = html5lib.parse(text, treebuilder="dom", namespaceHTMLElements=False)
        assert len(document.getElementsByTagName("table")) == 2
        assert "Essential (Always on)" in text


def test_a_consent_cookie_the_policy_declares_is_not_listed_twice() -> None:
    """B6: a policy that declares the consent cookie itself keeps its own entry."""
    content: dict[str, Any] = json.loads(json.dumps(POLICY_DATA))
    content["services"][0]["cookies"].append(
        {"name": "__Host-consent", "purpose": "Our own words.", "duration": "6 months"}
    )
    policy = Policy.model_validate(content)

    def purposes(cookie_name: str) -> list[str]:
        text = render_declaration(policy, "csv", cookie_name=cookie_name)
        return [r["purpose"] for r in csv.DictReader(io.StringIO(text)) if "consent" in r["cookie"]]

    assert purposes("__Host-consent") == ["Our own words."]
    assert len(purposes("consent")) == 2  # another name: both are declared


def test_cli_takes_the_cookie_name(tmp_path: Path) -> None:
    """B6: the command has no middleware to ask: `--cookie-name`, default `consent`."""
    out = tmp_path / "declaration.csv"
    args = ["declaration", "examples/consent.toml", "--format", "csv", "-o", str(out)]
    assert main([*args, "--cookie-name", "__Host-consent"]) == 0
    assert "__Host-consent" in out.read_text(encoding="utf-8")
    assert main(args) == 0
    assert ",consent," in out.read_text(encoding="utf-8")


def test_the_site_declares_its_own_consent_cookie() -> None:
    """B6: the dialog's cookie tables, `/consent/policy` and `/consent/policy.json` list
    the consent cookie with the middleware's cookie_name and the policy's max_age_days."""
    client = TestClient(
        make_app(cookie_name="__Host-consent", secure=True), base_url="https://testserver"
    )
    data = client.get("/consent/policy.json").json()
    cookie = data["consent_cookie"]
    assert (cookie["name"], cookie["category"], cookie["duration"]) == (
        "__Host-consent",
        "essential",
        "180 days",
    )
    assert cookie["purpose"]["de"].startswith("Speichert Ihre Datenschutz-Auswahl")
    assert len(cookie["purpose"]) == len(LANGUAGES)
    page = client.get("/consent/policy").text
    assert "<code>__Host-consent</code>" in page and "180 days" in page
    settings = client.get("/consent", headers={"accept-language": "fr"}).text
    assert "<code>__Host-consent</code>" in settings
    assert "Retient votre choix de confidentialité" in settings


def test_the_dialog_shows_an_essential_group_without_a_required_category() -> None:
    """B6: with no required category, the settings show the consent cookie in an
    "Essential" group with no switch (there is nothing to grant), and posting the
    form's fields still works."""
    client = TestClient(make_app(Policy.model_validate(NO_REQUIRED)))
    page = client.get("/consent").text
    document = html5lib.parse(page, treebuilder="dom", namespaceHTMLElements=False)
    legends = [node.toxml() for node in document.getElementsByTagName("legend")]
    assert "Essential" in legends[0] and "input" not in legends[0]
    assert "<code>consent</code>" in page and "90 days" in page
    answer = client.post("/consent", json={"action": "save", "grant": ["analytics"]})
    assert answer.status_code == 200


def test_the_report_declares_the_consent_cookie() -> None:
    """B6: the compliance report's declaration lists it too, with the name given."""
    html = render_report(
        POLICY,
        LogStats(),
        [],
        source="consent.db",
        generated_at=datetime(2026, 12, 1, tzinfo=UTC),
        cookie_name="__Host-consent",
    )
    assert "<code>__Host-consent</code>" in html
