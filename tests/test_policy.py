"""The policy model: loading, validation messages (file, field, fix), fingerprint.

Checklist items: C5 (a changed policy re-asks), B11 groundwork (a readable, lintable policy).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from consent import CookieRule, Policy, PolicyError, load_policy
from consent.policy import localize
from tests.conftest import POLICY_DATA

SEED_TOML = """
revision = 2

[[categories]]
id = "essential"
title = "Essential"
required = true

[[services]]
id = "php-session"
category = "essential"
title = "PHP session"
cookies = [{ name = "PHPSESSID", purpose = "Session id.", duration = "session" }]

[[services]]
id = "wordpress"
category = "essential"
title = "WordPress"
cookies = [
  { name = "wordpress_test_cookie", purpose = "Cookie check.", duration = "session" },
  { name = "wordpress_logged_in_*", purpose = "Login.", duration = "session" },
  { name = "wordpress_sec_*", purpose = "Security.", duration = "session" },
]
"""


def data(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(POLICY_DATA)
    result.update(changes)
    return result


def write(tmp_path: Path, name: str, content: str | dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_load_toml_with_the_seed_model(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "consent.toml", SEED_TOML))
    assert policy.revision == 2
    assert policy.max_age_days == 180
    assert policy.required_ids == {"essential"}
    rules = {r.name: s.id for s, r in policy.cookie_rules()}
    assert rules["wordpress_logged_in_*"] == "wordpress"
    wordpress = policy.service("wordpress")
    assert any(r.matches("wordpress_logged_in_5f2a9c") for r in wordpress.cookies)
    assert not any(r.matches("wordpress_logged_out") for r in wordpress.cookies)


def test_load_json_equals_model_validate(tmp_path: Path) -> None:
    from_file = load_policy(write(tmp_path, "consent.json", POLICY_DATA))
    assert from_file == Policy.model_validate(POLICY_DATA)
    assert from_file.fingerprint == Policy.model_validate(POLICY_DATA).fingerprint


def test_models_are_frozen() -> None:
    policy = Policy.model_validate(POLICY_DATA)
    with pytest.raises(ValidationError):
        policy.revision = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        policy.categories[0].required = False  # type: ignore[misc]


BAD: list[tuple[dict[str, Any], str, str]] = [
    (
        data(categories=[{"id": "Essential", "title": "E"}]),
        "categories[0] (id 'Essential').id",
        "not a valid id",
    ),
    (
        data(categories=[{"id": "a", "title": "A"}, {"id": "a", "title": "B"}], services=[]),
        "categories[1].id",
        "already used",
    ),
    (
        data(services=[{"id": "essential", "category": "essential", "title": "x"}]),
        "services[0].id",
        "already used",
    ),
    (
        data(services=[{"id": "s", "category": "nope", "title": "x"}]),
        "services[0].category",
        "'nope' is not a category",
    ),
    (
        data(
            services=[
                {"id": "s", "category": "analytics", "title": "x", "cookies": [{"name": "a b"}]}
            ]
        ),
        "services[0] (id 's').cookies[0].name",
        "not a cookie name",
    ),
    (
        data(
            services=[
                {"id": "s", "category": "analytics", "title": "x", "cookies": [{"name": "*"}]}
            ]
        ),
        "services[0] (id 's').cookies[0].name",
        "not a cookie name",
    ),
    (
        data(
            services=[
                {"id": "s", "category": "analytics", "title": "x", "cookies": [{"name": "x*y"}]}
            ]
        ),
        "services[0] (id 's').cookies[0].name",
        "not a cookie name",
    ),
    (
        data(
            services=[
                {
                    "id": "s",
                    "category": "analytics",
                    "title": "x",
                    "cookies": [{"name": "x", "duration": "2 weeks"}],
                }
            ]
        ),
        "services[0] (id 's').cookies[0].duration",
        "not a duration",
    ),
    (
        data(
            services=[
                {
                    "id": "s",
                    "category": "analytics",
                    "title": "x",
                    "cookies": [{"name": "x", "duration": "0 days"}],
                }
            ]
        ),
        "services[0] (id 's').cookies[0].duration",
        "not a duration",
    ),
    (
        data(categories=[{"id": "a", "title": "A", "requird": True}], services=[]),
        "categories[0] (id 'a').requird",
        "did you mean 'required'",
    ),
    (data(revision="x"), "revision", "whole number"),
    (data(max_age_days=5000), "max_age_days", "less than or equal"),
    (data(categories=[], services=[]), "categories", "at least one"),
    (
        data(categories=[{"id": "a", "title": 5}], services=[]),
        "categories[0] (id 'a').title",
        "text or a mapping",
    ),
    (
        data(categories=[{"id": "a", "title": {"english": "A"}}], services=[]),
        "categories[0] (id 'a').title",
        "not a language tag",
    ),
    (
        data(
            services=[
                {"id": "s", "category": "analytics", "title": "x", "hosts": ["https://x.com/"]}
            ]
        ),
        "services[0] (id 's').hosts",
        "not a host name",
    ),
    (
        data(
            services=[
                {"id": "s", "category": "analytics", "title": "x", "cookies": [{"name": "_ga"}]},
                {"id": "t", "category": "analytics", "title": "y", "cookies": [{"name": "_ga"}]},
            ]
        ),
        "services[1].cookies",
        "also declared by service 's'",
    ),
]


@pytest.mark.parametrize(("content", "where", "what"), BAD)
def test_errors_name_file_field_and_fix(
    tmp_path: Path, content: dict[str, Any], where: str, what: str
) -> None:
    path = write(tmp_path, "site.json", content)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert str(path) in message
    assert any(p[0] == where for p in caught.value.problems), caught.value.problems
    line = next(line for line in message.splitlines() if f": {where}: " in line)
    assert what in line and "Fix:" in line


@pytest.mark.parametrize(
    ("name", "content", "what"),
    [
        ("broken.toml", "revision = \n", "not valid TOML"),
        ("broken.json", "{", "not valid JSON"),
        ("list.json", "[]", "must be an object"),
        ("policy.yaml", "revision: 1", "unknown file type"),
    ],
)
def test_unusable_files_are_reported(tmp_path: Path, name: str, content: str, what: str) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(PolicyError, match=what) as caught:
        load_policy(path)
    assert str(path) in str(caught.value)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path / "absent.toml")


def test_policy_error_is_a_value_error() -> None:
    assert issubclass(PolicyError, ValueError)


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        ("session", None),
        ("30 minutes", 1800),
        ("1 hour", 3600),
        ("30 days", 2592000),
        ("13 months", 33696000),
        ("2 years", 63072000),
        ("1  Day", 86400),
    ],
)
def test_durations(duration: str, seconds: int | None) -> None:
    assert CookieRule(name="x", duration=duration).max_age_seconds == seconds


def test_localize_falls_back() -> None:
    text = {"en": "Analytics", "de": "Statistik", "pt-BR": "Análise"}
    assert localize(text, "de") == "Statistik"
    assert localize(text, "de-AT") == "Statistik"
    assert localize(text, "pt-BR") == "Análise"
    assert localize(text, "fr") == "Analytics"
    assert localize({"de": "Statistik"}, "fr") == "Statistik"
    assert localize("plain", "fr") == "plain"


def test_lookups_raise_key_error_naming_known_ids() -> None:
    policy = Policy.model_validate(POLICY_DATA)
    assert policy.kind_of("analytics") == "category"
    assert policy.kind_of("matomo") == "service"
    with pytest.raises(KeyError, match="analytics"):
        policy.kind_of("nope")
    with pytest.raises(KeyError, match="essential, analytics, marketing"):
        policy.category("matomo")
    with pytest.raises(KeyError, match="php-session"):
        policy.service("analytics")
    assert [s.id for s in policy.services_of("analytics")] == ["matomo", "google-analytics"]


def test_too_many_services_for_the_cookie_are_refused() -> None:
    services = [{"id": f"s{i}", "category": "analytics", "title": "s"} for i in range(257)]
    with pytest.raises(ValidationError, match="256"):
        Policy.model_validate(data(services=services))


# Fingerprint: C5. Prose does not re-ask; anything visitors consent to does.


def fingerprint(content: dict[str, Any]) -> str:
    return Policy.model_validate(content).fingerprint


def test_fingerprint_ignores_prose() -> None:
    changed = data(controller="Someone else")
    changed["categories"][1]["title"] = "Statistics"
    changed["categories"][1]["description"] = "Different words."
    changed["services"][2]["cookies"][0]["purpose"] = "New purpose."
    changed["services"][2]["cookies"][0]["duration"] = "6 months"
    assert fingerprint(changed) == fingerprint(POLICY_DATA)


def _add_cookie(d: dict[str, Any]) -> None:
    d["services"][2]["cookies"].append({"name": "_pk_ses.*"})


def _rename_cookie(d: dict[str, Any]) -> None:
    d["services"][3]["cookies"][0]["name"] = "_gid"


def _move_service(d: dict[str, Any]) -> None:
    d["services"][4]["category"] = "analytics"


def _flip_required(d: dict[str, Any]) -> None:
    d["categories"][1]["required"] = True


def _reorder(d: dict[str, Any]) -> None:
    d["categories"][1], d["categories"][2] = d["categories"][2], d["categories"][1]


def _add_category(d: dict[str, Any]) -> None:
    d["categories"].append({"id": "functional", "title": "Functional"})


def _remove_service(d: dict[str, Any]) -> None:
    del d["services"][3]


@pytest.mark.parametrize(
    "change",
    [
        _add_cookie,
        _rename_cookie,
        _move_service,
        _flip_required,
        _reorder,
        _add_category,
        _remove_service,
    ],
)
def test_fingerprint_changes_with_what_visitors_consent_to(change: Any) -> None:
    changed = data()
    change(changed)
    assert fingerprint(changed) != fingerprint(POLICY_DATA)
