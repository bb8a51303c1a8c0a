"""`consent check`: the policy lint for compliance staff.

Checklist items: B7 (vague purposes), B11 (known analytics/marketing cookies declared
essential), C2 (consent kept at most six months).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from consent.cli import main
from consent.lint import lint
from consent.policy import Policy

ESSENTIAL: dict[str, Any] = {
    "id": "essential",
    "title": "Essential",
    "required": True,
    "description": "Keeps you logged in.",
}
ANALYTICS: dict[str, Any] = {
    "id": "analytics",
    "title": "Analytics",
    "description": "Counts visits per article.",
}


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "consent.json"
    path.write_text(json.dumps(data))
    return path


def codes(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.level, f.code) for f in lint(Policy.model_validate(data), data)]


def cookie(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "purpose": "Keeps the session.", "duration": "session", **extra}


def test_analytics_cookie_declared_essential_is_an_error() -> None:
    """B11: the EDPB taskforce's "misclassified essential" finding."""
    data = {
        "categories": [ESSENTIAL],
        "services": [
            {"id": "site", "category": "essential", "title": "Site", "cookies": [cookie("_ga")]}
        ],
    }
    assert codes(data) == [("error", "misclassified-essential")]
    finding = lint(Policy.model_validate(data), data)[0]
    assert "Analytics (Google Analytics)" in finding.message
    assert finding.where == "services[0] (id 'site').cookies[0] (_ga)"


def test_tracking_preset_in_a_required_category_is_an_error() -> None:
    data = {
        "categories": [ESSENTIAL],
        "services": [{"id": "ads", "preset": "meta-pixel", "category": "essential"}],
    }
    found = codes(data)
    assert ("error", "misclassified-essential") in found


def test_essential_presets_do_not_trip_over_name_clashes() -> None:
    """Django's "sessionid" is also an Instagram cookie in the catalog."""
    data = {"categories": [ESSENTIAL], "services": [{"id": "web", "preset": "django"}]}
    assert codes(data) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"max_age_days": 365}, ("warning", "max-age")),
        ({"purpose": "To improve your experience"}, ("warning", "vague-purpose")),
        ({"purpose": ""}, ("warning", "missing-purpose")),
        ({"duration": "2 years"}, ("warning", "long-duration")),
        ({"drop_duration": True}, ("warning", "missing-duration")),
        ({"empty_category": True}, ("warning", "empty-category")),
        ({"hosts_only": True}, ("warning", "hosts-without-cookies")),
        ({"category_description": "Used for marketing purposes"}, ("warning", "vague-purpose")),
    ],
)
def test_warnings(change: dict[str, Any], expected: tuple[str, str]) -> None:
    rule = cookie(
        "_stats",
        duration=change.get("duration", "13 months"),
        purpose=change.get("purpose", "Counts visits."),
    )
    if change.get("drop_duration"):
        del rule["duration"]
    analytics = dict(
        ANALYTICS, description=change.get("category_description", ANALYTICS["description"])
    )
    services: list[dict[str, Any]] = [
        {"id": "stats", "category": "analytics", "title": "Stats", "cookies": [rule]},
        {"id": "web", "preset": "php-session"},
    ]
    if change.get("hosts_only"):
        services.append(
            {"id": "cdn", "category": "analytics", "title": "CDN", "hosts": ["cdn.example.com"]}
        )
    categories = [ESSENTIAL, analytics]
    if change.get("empty_category"):
        categories.append({"id": "marketing", "title": "Marketing", "description": "Ads."})
    data: dict[str, Any] = {"categories": categories, "services": services}
    if "max_age_days" in change:
        data["max_age_days"] = change["max_age_days"]
    assert codes(data) == [expected]


def test_cli_clean_policy_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(Path("examples/consent.toml"))]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out


def test_cli_errors_exit_one_with_file_field_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        {
            "categories": [ESSENTIAL],
            "services": [
                {
                    "id": "site",
                    "category": "essential",
                    "title": "Site",
                    "cookies": [cookie("_fbp")],
                }
            ],
        },
    )
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: services[0] (id 'site').cookies[0] (_fbp): error:" in out
    assert "Fix: move the service" in out


def test_cli_warnings_pass_unless_strict(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "max_age_days": 400,
            "categories": [ESSENTIAL],
            "services": [{"id": "web", "preset": "php-session"}],
        },
    )
    assert main(["check", str(path)]) == 0
    assert main(["check", "--strict", str(path)]) == 1


def test_cli_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        {
            "max_age_days": 400,
            "categories": [ESSENTIAL],
            "services": [{"id": "web", "preset": "php-session"}],
        },
    )
    main(["check", "--format", "json", str(path)])
    report = json.loads(capsys.readouterr().out)
    assert report["file"] == str(path)
    assert (report["errors"], report["warnings"]) == (0, 1)
    assert report["findings"][0]["code"] == "max-age"


def test_cli_schema_errors_exit_one_and_unusable_files_exit_two(tmp_path: Path) -> None:
    schema = write(tmp_path, {"categories": [{"id": "Bad", "title": "x"}]})
    assert main(["check", str(schema)]) == 1
    broken = tmp_path / "broken.toml"
    broken.write_text("revision = \n")
    assert main(["check", str(broken)]) == 2
    assert main(["check", str(tmp_path / "missing.toml")]) == 2


def test_a_host_several_services_claim_is_a_warning() -> None:
    """A2: gtag.js's host belongs to the Google Analytics, Google Ads and Tag Manager
    presets; with two of them a tag from it is gated as one only, so say which."""
    marketing = {"id": "marketing", "title": "Ads", "description": "Ad conversions."}
    data = {
        "categories": [ESSENTIAL, ANALYTICS, marketing],
        "services": [
            {"id": "ga", "preset": "google-analytics"},
            {"id": "ads", "preset": "google-ads"},
        ],
    }
    shared = [f for f in lint(Policy.model_validate(data), data) if f.code == "shared-host"]
    assert [(f.level, f.where) for f in shared] == [
        ("warning", "services[1] (id 'ads').hosts (www.googletagmanager.com)")
    ]
    assert "'ga'" in shared[0].message and "data-consent" in shared[0].fix
    alone = {**data, "services": data["services"][:1]}
    assert "shared-host" not in {f.code for f in lint(Policy.model_validate(alone), alone)}
