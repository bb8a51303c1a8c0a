"""The policy model: loading, validation messages (file, field path, fix), lookups, fingerprint.

Checklist items: C5 (what visitors consent to is fingerprinted, so a change re-asks them),
B11 groundwork (a readable, lintable policy whose every error says how to fix it).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from consent import Category, CookieRule, Policy, PolicyError, Service, load_policy
from consent.policy import localize
from consent.policy.problems import field_names
from tests.conftest import POLICY_DATA

# The seed page's model (DESIGN.md "Where it came from"), written the way a developer would.
SEED_TOML = """\
revision = 2
max_age_days = 90
controller = "Example News Ltd"

[[categories]]
id = "essential"
title = { en = "Essential", de = "Essenziell" }
description = "Needed for the site to work."
required = true            # always on; shown locked

[[categories]]
id = "analytics"
title = "Analytics"

[[services]]
id = "php-session"
category = "essential"
title = "PHP session"
cookies = [{ name = "PHPSESSID", purpose = "Keeps your session.", duration = "session" }]

[[services]]
id = "wordpress"
category = "essential"
title = "WordPress"
cookies = [
  { name = "wordpress_test_cookie", purpose = "Checks cookies work.", duration = "session" },
  { name = "wordpress_logged_in_*", purpose = "Remembers the login.", duration = "14 days" },
  { name = "wordpress_sec_*", purpose = "Protects the login.", duration = "14 days" },
]

[[services]]
id = "matomo"
category = "analytics"
title = "Matomo"
hosts = ["Stats.Example.com"]
cookies = [{ name = "_pk_id.*", purpose = "Visitor id.", duration = "13 months" }]
"""


def data(**changes: Any) -> dict[str, Any]:
    """A deep copy of the shared policy data with top-level keys replaced."""
    result = copy.deepcopy(POLICY_DATA)
    result.update(changes)
    return result


def with_cookie(**cookie: Any) -> dict[str, Any]:
    """A policy whose first service is 'wp' holding exactly one cookie rule."""
    return {
        "categories": [{"id": "essential", "title": "Essential", "required": True}],
        "services": [
            {"id": "wp", "category": "essential", "title": "WordPress", "cookies": [cookie]}
        ],
    }


def with_categories(*categories: dict[str, Any]) -> dict[str, Any]:
    return {"categories": list(categories)}


def write(tmp_path: Path, name: str, content: str | dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return path


def problem_line(error: PolicyError, where: str) -> str:
    """The one line of the message that reports the field `where`."""
    lines = [line for line in str(error).splitlines() if f": {where}: " in line]
    assert len(lines) == 1, str(error)
    return lines[0]


# --- loading real files ------------------------------------------------------------------


def test_load_policy_toml_with_the_seed_model(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "consent.toml", SEED_TOML))
    assert policy.revision == 2
    assert policy.max_age_days == 90
    assert policy.controller == "Example News Ltd"
    assert [c.id for c in policy.categories] == ["essential", "analytics"]
    assert policy.required_ids == {"essential"}
    assert policy.category("essential").title == {"en": "Essential", "de": "Essenziell"}
    assert [s.id for s in policy.services_of("essential")] == ["php-session", "wordpress"]
    owners = {rule.name: service.id for service, rule in policy.cookie_rules()}
    assert owners == {
        "PHPSESSID": "php-session",
        "wordpress_test_cookie": "wordpress",
        "wordpress_logged_in_*": "wordpress",
        "wordpress_sec_*": "wordpress",
        "_pk_id.*": "matomo",
    }
    # Hosts are stored lower-case, so matching them later is case-insensitive.
    assert policy.service("matomo").hosts == ("stats.example.com",)


def test_load_policy_seed_prefix_rules_cover_wordpress_cookies(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "consent.toml", SEED_TOML))
    rules = policy.service("wordpress").cookies

    def owner(cookie: str) -> str | None:
        return next((r.name for r in rules if r.matches(cookie)), None)

    assert owner("wordpress_logged_in_5f2a9c0e") == "wordpress_logged_in_*"
    assert owner("wordpress_sec_5f2a9c0e") == "wordpress_sec_*"
    assert owner("wordpress_test_cookie") == "wordpress_test_cookie"
    assert owner("wordpress_test_cookie2") is None  # exact names stay exact
    assert owner("wordpress_logged_out") is None
    assert owner("PHPSESSID") is None  # another service's cookie


def test_load_policy_json_equals_model_validate(tmp_path: Path) -> None:
    from_file = load_policy(write(tmp_path, "consent.json", POLICY_DATA))
    from_dict = Policy.model_validate(POLICY_DATA)
    assert from_file == from_dict
    assert from_file.fingerprint == from_dict.fingerprint


def test_load_policy_toml_and_json_of_the_same_policy_are_equal(tmp_path: Path) -> None:
    from_toml = load_policy(write(tmp_path, "consent.toml", SEED_TOML))
    from_json = load_policy(write(tmp_path, "consent.json", from_toml.model_dump(mode="json")))
    assert from_json == from_toml
    assert from_json.fingerprint == from_toml.fingerprint


def test_load_policy_accepts_str_path_and_upper_case_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "POLICY.TOML", SEED_TOML)
    assert load_policy(str(path)).revision == 2


def test_load_policy_defaults(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "min.toml", '[[categories]]\nid = "a"\ntitle = "A"\n'))
    assert policy.revision == 1
    assert policy.max_age_days == 180  # C2 / compliance.md 2.1: six months by default
    assert policy.default_language == "en"
    assert policy.services == ()
    assert policy.required_ids == frozenset()
    category = policy.category("a")
    assert category.required is False and category.description == ""


def test_model_validate_strips_whitespace_and_normalises_duration() -> None:
    policy = Policy.model_validate(with_cookie(name="  PHPSESSID ", duration=" 30  Days "))
    rule = policy.service("wp").cookies[0]
    assert rule.name == "PHPSESSID"
    assert rule.duration == "30 days"
    assert rule.max_age_seconds == 30 * 86400


def test_model_validate_error_carries_the_fix() -> None:
    """Policy.model_validate raises pydantic's error, whose text still says how to fix it."""
    with pytest.raises(ValidationError) as caught:
        Policy.model_validate(with_cookie(name="a b"))
    text = str(caught.value)
    assert "services.0.cookies.0.name" in text
    assert "'a b' is not a cookie name. Fix:" in text


def test_models_are_frozen() -> None:
    policy = Policy.model_validate(POLICY_DATA)
    with pytest.raises(ValidationError, match="frozen"):
        policy.revision = 3  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        policy.categories[0].required = False  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        policy.services[0].category = "analytics"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        policy.services[0].cookies[0].name = "other"  # type: ignore[misc]
    assert isinstance(policy.categories, tuple)
    assert isinstance(policy.services[1].cookies, tuple)
    assert policy.categories[0].required is True
    assert policy.services[0].cookies[0].name == "PHPSESSID"


# --- validation errors: file, field path, fix ---------------------------------------------

SLUG_FIX = "use lower-case letters, digits"
BAD_POLICIES = [
    # ids are slugs
    pytest.param(
        with_categories({"id": "Essential", "title": "E"}),
        "categories[0] (id 'Essential').id",
        "'Essential' is not a valid id",
        id="id-upper-case",
    ),
    pytest.param(
        with_categories({"id": "a b", "title": "E"}),
        "categories[0] (id 'a b').id",
        "is not a valid id",
        id="id-space",
    ),
    pytest.param(
        with_categories({"id": "a-", "title": "E"}),
        "categories[0] (id 'a-').id",
        "is not a valid id",
        id="id-trailing-dash",
    ),
    pytest.param(
        with_categories({"id": "", "title": "E"}),
        "categories[0] (id '').id",
        "is not a valid id",
        id="id-empty",
    ),
    pytest.param(
        with_categories({"id": "a" * 65, "title": "E"}),
        f"categories[0] (id '{'a' * 65}').id",
        "is not a valid id",
        id="id-too-long",
    ),
    pytest.param(
        data(services=[{"id": "Wp", "category": "essential", "title": "x"}]),
        "services[0] (id 'Wp').id",
        "is not a valid id",
        id="service-id",
    ),
    pytest.param(
        data(services=[{"id": "wp", "category": "Essential", "title": "x"}]),
        "services[0] (id 'wp').category",
        "'Essential' is not a valid id",
        id="service-category-not-a-slug",
    ),
    # ids are unique across categories and services
    pytest.param(
        data(categories=[{"id": "a", "title": "A"}, {"id": "a", "title": "B"}], services=[]),
        "categories[1].id",
        "'a' is already used by categories[0]",
        id="duplicate-category",
    ),
    pytest.param(
        data(
            services=[
                {"id": "wp", "category": "essential", "title": "x"},
                {"id": "wp", "category": "analytics", "title": "y"},
            ]
        ),
        "services[1].id",
        "'wp' is already used by services[0]",
        id="duplicate-service",
    ),
    pytest.param(
        data(services=[{"id": "analytics", "category": "analytics", "title": "x"}]),
        "services[0].id",
        "'analytics' is already used by categories[1]",
        id="service-reuses-category-id",
    ),
    # references
    pytest.param(
        data(services=[{"id": "wp", "category": "nope", "title": "x"}]),
        "services[0].category",
        "'nope' is not a category",
        id="unknown-category",
    ),
    pytest.param(
        data(
            services=[
                {"id": "s", "category": "analytics", "title": "x", "cookies": [{"name": "_ga"}]},
                {"id": "t", "category": "analytics", "title": "y", "cookies": [{"name": "_ga"}]},
            ]
        ),
        "services[1].cookies",
        "'_ga' is also declared by service 's'",
        id="cookie-in-two-services",
    ),
    # cookie names
    pytest.param(
        with_cookie(name="a b"),
        "services[0] (id 'wp').cookies[0].name",
        "'a b' is not a cookie name",
        id="cookie-space",
    ),
    pytest.param(
        with_cookie(name="*"),
        "services[0] (id 'wp').cookies[0].name",
        "'*' is not a cookie name",
        id="cookie-star-only",
    ),
    pytest.param(
        with_cookie(name="x*y"),
        "services[0] (id 'wp').cookies[0].name",
        "'x*y' is not a cookie name",
        id="cookie-star-inside",
    ),
    pytest.param(
        with_cookie(name="x**"),
        "services[0] (id 'wp').cookies[0].name",
        "'x**' is not a cookie name",
        id="cookie-two-stars",
    ),
    pytest.param(
        with_cookie(name="a;b"),
        "services[0] (id 'wp').cookies[0].name",
        "is not a cookie name",
        id="cookie-semicolon",
    ),
    pytest.param(
        with_cookie(name=""),
        "services[0] (id 'wp').cookies[0].name",
        "'' is not a cookie name",
        id="cookie-empty",
    ),
    pytest.param(
        with_cookie(purpose="x"),
        "services[0] (id 'wp').cookies[0].name",
        "is missing",
        id="cookie-name-missing",
    ),
    # durations
    pytest.param(
        with_cookie(name="x", duration="2 weeks"),
        "services[0] (id 'wp').cookies[0].duration",
        "'2 weeks' is not a duration",
        id="duration-weeks",
    ),
    pytest.param(
        with_cookie(name="x", duration="0 days"),
        "services[0] (id 'wp').cookies[0].duration",
        "'0 days' is not a duration",
        id="duration-zero",
    ),
    pytest.param(
        with_cookie(name="x", duration="-1 days"),
        "services[0] (id 'wp').cookies[0].duration",
        "is not a duration",
        id="duration-negative",
    ),
    pytest.param(
        with_cookie(name="x", duration="30days"),
        "services[0] (id 'wp').cookies[0].duration",
        "is not a duration",
        id="duration-no-space",
    ),
    pytest.param(
        with_cookie(name="x", duration="forever"),
        "services[0] (id 'wp').cookies[0].duration",
        "'forever' is not a duration",
        id="duration-word",
    ),
    pytest.param(
        with_cookie(name="x", duration=30),
        "services[0] (id 'wp').cookies[0].duration",
        "valid string",
        id="duration-number",
    ),
    # other cookie fields
    pytest.param(
        with_cookie(name="x", path="admin"),
        "services[0] (id 'wp').cookies[0].path",
        "'admin' is not a cookie path",
        id="cookie-path",
    ),
    pytest.param(
        with_cookie(name="x", domain="https://example.com"),
        "services[0] (id 'wp').cookies[0].domain",
        "is not a domain",
        id="cookie-domain",
    ),
    pytest.param(
        data(
            services=[
                {"id": "s", "category": "analytics", "title": "x", "hosts": ["https://x.com/"]}
            ]
        ),
        "services[0] (id 's').hosts",
        "not a host name",
        id="host-with-scheme",
    ),
    # misspelled fields (extra="forbid"), with a did-you-mean where one is close
    pytest.param(
        with_categories({"id": "a", "title": "A", "requird": True}),
        "categories[0] (id 'a').requird",
        "did you mean 'required'?",
        id="typo-required",
    ),
    pytest.param(
        with_cookie(name="x", durration="30 days"),
        "services[0] (id 'wp').cookies[0].durration",
        "did you mean 'duration'?",
        id="typo-duration",
    ),
    pytest.param(
        data(services=[{"id": "wp", "category": "essential", "titel": "x", "title": "x"}]),
        "services[0] (id 'wp').titel",
        "did you mean 'title'?",
        id="typo-title",
    ),
    pytest.param(
        data(revison=2),
        "revison",
        "did you mean 'revision'?",
        id="typo-top-level",
    ),
    pytest.param(
        data(banner={"title": "Cookies", "txt": "We use cookies."}),
        "banner.txt",
        "did you mean 'text'?",
        id="typo-banner",
    ),
    pytest.param(
        with_categories({"id": "a", "title": "A", "colour": "red"}),
        "categories[0] (id 'a').colour",
        "is not a known field",
        id="unknown-field",
    ),
    # wrong types and missing fields
    pytest.param(data(revision="x"), "revision", "whole number", id="revision-text"),
    pytest.param(data(revision=0), "revision", "greater than or equal to 1", id="revision-0"),
    pytest.param(
        with_categories({"id": "a", "title": "A", "required": "maybe"}),
        "categories[0] (id 'a').required",
        "true or false",
        id="required-not-bool",
    ),
    pytest.param(
        with_categories({"id": "a"}), "categories[0] (id 'a').title", "is missing", id="no-title"
    ),
    pytest.param(data(categories=5), "categories", "write a list", id="categories-not-a-list"),
    pytest.param(
        data(
            services=[{"id": "wp", "category": "essential", "title": "x", "cookies": "PHPSESSID"}]
        ),
        "services[0] (id 'wp').cookies",
        "write a list",
        id="cookies-not-a-list",
    ),
    pytest.param(
        data(categories=[], services=[]), "categories", "at least one", id="no-categories"
    ),
    pytest.param({"revision": 1}, "categories", "is missing", id="categories-missing"),
    pytest.param(
        data(privacy_policy_url="javascript:alert(1)"),
        "privacy_policy_url",
        "is not a link",
        id="privacy-url",
    ),
    # texts: a string or a language mapping
    pytest.param(
        with_categories({"id": "a", "title": 5}),
        "categories[0] (id 'a').title",
        "must be text or a mapping of language -> text",
        id="title-number",
    ),
    pytest.param(
        data(controller=["Example Ltd"]),
        "controller",
        "must be text or a mapping of language -> text",
        id="controller-list",
    ),
    pytest.param(
        with_categories({"id": "a", "title": {}}),
        "categories[0] (id 'a').title",
        "is an empty mapping",
        id="title-empty-mapping",
    ),
    pytest.param(
        with_categories({"id": "a", "title": {"english": "A"}}),
        "categories[0] (id 'a').title",
        "'english' is not a language tag",
        id="title-bad-language",
    ),
    pytest.param(
        with_categories({"id": "a", "title": "A", "description": {"EN": "A"}}),
        "categories[0] (id 'a').description",
        "'EN' is not a language tag",
        id="description-upper-case-language",
    ),
    pytest.param(
        with_cookie(name="x", purpose={"en_US": "Login"}),
        "services[0] (id 'wp').cookies[0].purpose",
        "'en_US' is not a language tag",
        id="purpose-underscore-language",
    ),
    pytest.param(
        data(default_language="English"),
        "default_language",
        "'English' is not a language tag",
        id="default-language",
    ),
    # bounds
    pytest.param(data(max_age_days=0), "max_age_days", "greater than or equal to 1", id="age-0"),
    pytest.param(
        data(max_age_days=3651), "max_age_days", "less than or equal to 3650", id="age-3651"
    ),
    pytest.param(
        data(services=[{"id": f"s{i}", "category": "analytics", "title": "s"} for i in range(257)]),
        "services",
        "at most 256",
        id="too-many-services",
    ),
    pytest.param(
        with_categories(*({"id": f"c{i}", "title": "c"} for i in range(257))),
        "categories",
        "at most 256",
        id="too-many-categories",
    ),
]


@pytest.mark.parametrize(("content", "where", "what"), BAD_POLICIES)
def test_load_policy_error_names_file_field_and_fix(
    tmp_path: Path, content: dict[str, Any], where: str, what: str
) -> None:
    path = write(tmp_path, "site.json", content)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    error = caught.value
    assert error.file == str(path)
    assert where in [p[0] for p in error.problems], error.problems
    line = problem_line(error, where)
    assert line.startswith(f"{path}: {where}: ")
    assert what in line
    assert "Fix: " in line
    # The fix is more than an empty promise.
    assert len(line.split("Fix: ", 1)[1]) > 10
    assert str(error).splitlines()[0].startswith(f"{path}: ")


def test_load_policy_error_in_toml_names_the_field_path(tmp_path: Path) -> None:
    content = SEED_TOML.replace(
        'duration = "14 days" },\n  { name = "wordpress_sec_*"',
        'duration = "2 weeks" },\n  { name = "wordpress_sec_*"',
    )
    assert content != SEED_TOML
    path = write(tmp_path, "consent.toml", content)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    line = problem_line(caught.value, "services[1] (id 'wordpress').cookies[1].duration")
    assert str(path) in line and "'2 weeks' is not a duration" in line and "Fix: " in line


def test_load_policy_typo_in_toml_suggests_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, "consent.toml", SEED_TOML.replace("required = true", "requird = true"))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    line = problem_line(caught.value, "categories[0] (id 'essential').requird")
    assert "is not a known field. Fix: did you mean 'required'?" in line
    assert "id, title, description, required" in line  # and it lists the allowed fields


def test_load_policy_typo_of_languages_suggests_languages(tmp_path: Path) -> None:
    """B11: the hint offers the field meant, not the nearest one in a list kept by hand."""
    path = write(tmp_path, "site.json", data(languagse=["en"]))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    line = problem_line(caught.value, "languagse")
    assert "Fix: did you mean 'languages'?" in line


# A policy that holds every kind of entry once, so that each model has a place to probe.
EVERY_ENTRY: dict[str, Any] = {
    "banner": {"title": "Cookies"},
    "google_consent_mode": {"regions": [{"region": ["US"]}]},
    "categories": [{"id": "essential", "title": "Essential", "required": True}],
    "services": [{"id": "wp", "category": "essential", "title": "WP", "cookies": [{"name": "wp"}]}],
}


def policy_models() -> dict[tuple[str, ...], type[BaseModel]]:
    """Every model a policy file can write, by the keys leading to it (`()` is Policy)."""
    found: dict[tuple[str, ...], type[BaseModel]] = {}

    def inner(annotation: Any) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [model for arg in get_args(annotation) for model in inner(arg)]

    def walk(model: type[BaseModel], place: tuple[str, ...]) -> None:
        found[place] = model
        for name, info in model.model_fields.items():
            for sub in inner(info.annotation):
                walk(sub, (*place, info.alias or name))

    walk(Policy, ())
    return found


def entry_at(content: dict[str, Any], place: tuple[str, ...]) -> dict[str, Any]:
    """The first entry of EVERY_ENTRY-like `content` at `place` (lists: their first item)."""
    node: Any = content
    for key in place:
        node = node[key]
        node = node[0] if isinstance(node, list) else node
    assert isinstance(node, dict)
    return node


def test_every_field_of_every_policy_model_is_offered(tmp_path: Path) -> None:
    """B11: an unknown field anywhere lists every field its entry may have (read from the
    models, so none is forgotten), and a near miss of any field suggests that field."""
    models = policy_models()
    assert len(models) >= 7  # Policy, Banner, the Consent Mode table and regions, ...
    Policy.model_validate(EVERY_ENTRY)
    for place, model in models.items():
        fields = [info.alias or name for name, info in model.model_fields.items()]
        for field in fields:
            content = copy.deepcopy(EVERY_ENTRY)
            entry_at(content, place)[field + field[-1]] = True  # "languages" -> "languagess"
            with pytest.raises(PolicyError) as caught:
                load_policy(write(tmp_path, "site.json", content))
            (problem,) = [p for p in caught.value.problems if p.what == "is not a known field"]
            offered = problem.fix.split("use one of: ", 1)[1].split(", ")
            assert offered == fields, (place, problem)
            assert problem.fix.startswith(f"did you mean {field!r}?"), (place, problem)


def test_field_hints_offer_the_name_a_file_writes() -> None:
    """A field with an alias is offered by its alias (what a policy file writes), and the
    fields of models inside unions and tuples have their own place."""

    class Inner(BaseModel):
        model_config = ConfigDict(extra="forbid")
        max_age: int = Field(alias="max-age")

    class Outer(BaseModel):
        model_config = ConfigDict(extra="forbid")
        one: Inner | None = None
        many: tuple[Inner, ...] = ()

    assert field_names(Outer) == {
        (): ("one", "many"),
        ("one",): ("max-age",),
        ("many",): ("max-age",),
    }


def test_load_policy_reports_every_broken_field_once(tmp_path: Path) -> None:
    content = data()
    content["categories"][1]["requird"] = True
    content["services"][2]["cookies"][0]["duration"] = "2 weeks"
    content["max_age_days"] = 0
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, "site.json", content))
    wheres = [p[0] for p in caught.value.problems]
    assert sorted(wheres) == sorted(
        [
            "categories[1] (id 'analytics').requird",
            "services[2] (id 'matomo').cookies[0].duration",
            "max_age_days",
        ]
    )
    assert "3 problem(s)" in str(caught.value).splitlines()[0]


def test_load_policy_single_bad_category_reports_only_that_problem(tmp_path: Path) -> None:
    """A typo in the only category must not also claim that no category was declared.

    The fix "declare at least one entry" would be wrong: one was declared.
    """
    path = write(tmp_path, "site.json", with_categories({"id": "a", "title": "A", "requird": True}))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert [p[0] for p in caught.value.problems] == ["categories[0] (id 'a').requird"]


@pytest.mark.parametrize(
    ("name", "content", "what"),
    [
        ("broken.toml", "revision = \n", "is not valid TOML"),
        ("broken.toml", '[[categories]]\nid = "a\n', "is not valid TOML"),
        ("broken.json", "{", "is not valid JSON"),
        ("broken.json", '{"revision": 1,}', "is not valid JSON"),
        ("list.json", "[]", "must be an object"),
        ("policy.yaml", "revision: 1", "unknown file type '.yaml'"),
        ("policy", "revision = 1", "unknown file type '(none)'"),
    ],
)
def test_load_policy_unusable_file_is_reported(
    tmp_path: Path, name: str, content: str, what: str
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert what in message
    assert "Fix: " in message


def test_load_policy_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.toml", 'revision = 1\n\n[[categories]]\nid = "a\n')
    with pytest.raises(PolicyError, match=r"line 4") as caught:
        load_policy(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("name", ["absent.toml", "absent.json"])
def test_load_policy_missing_file_is_reported(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "cannot be read" in message and "Fix: check the path" in message


def test_load_policy_directory_and_non_utf8_are_reported(tmp_path: Path) -> None:
    directory = tmp_path / "dir.toml"
    directory.mkdir()
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(directory)
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('[[categories]]\nid = "a"\ntitle = "Caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(PolicyError, match="UTF-8"):
        load_policy(latin1)


def test_policy_error_is_a_value_error_with_problems() -> None:
    error = PolicyError("x.toml", [("revision", "is wrong", "write 1")])
    assert isinstance(error, ValueError)
    assert error.file == "x.toml"
    assert error.problems == [("revision", "is wrong", "write 1")]
    (problem,) = error.problems
    assert (problem.where, problem.what, problem.fix) == ("revision", "is wrong", "write 1")
    assert str(error) == (
        "x.toml: 1 problem(s) in the consent policy\nx.toml: revision: is wrong. Fix: write 1"
    )


# --- bounds that are accepted --------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 180, 395, 3650])
def test_policy_max_age_days_within_bounds(days: int) -> None:
    assert Policy.model_validate(data(max_age_days=days)).max_age_days == days


def test_policy_256_services_fit() -> None:
    services = [{"id": f"s{i}", "category": "analytics", "title": "s"} for i in range(256)]
    assert len(Policy.model_validate(data(services=services)).services) == 256


@pytest.mark.parametrize("tag", ["en", "de", "pt-BR", "fil", "zh-Hant-TW", "sr-Latn"])
def test_policy_language_tags_accepted(tag: str) -> None:
    policy = Policy.model_validate(
        data(default_language=tag, controller={tag: "Example"}, banner={"title": {tag: "Hi"}})
    )
    assert policy.default_language == tag
    assert policy.controller == {tag: "Example"}


# --- cookie rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cookie", "expected"),
    [
        ("PHPSESSID", "PHPSESSID", True),
        ("PHPSESSID", "phpsessid", False),  # cookie names are case-sensitive
        ("PHPSESSID", "PHPSESSID2", False),
        ("PHPSESSID", "PHPSESS", False),
        ("wordpress_logged_in_*", "wordpress_logged_in_abc123", True),
        ("wordpress_logged_in_*", "wordpress_logged_in_", True),
        ("wordpress_logged_in_*", "wordpress_logged_in", False),
        ("wordpress_logged_in_*", "xwordpress_logged_in_abc", False),
        ("wordpress_sec_*", "wordpress_sec_f00", True),
        ("_pk_id.*", "_pk_id.1.abcd", True),
        ("_pk_id.*", "_pk_idx", False),
        ("_ga", "_ga_ABC123", False),
        ("_ga_*", "_ga_ABC123", True),
    ],
)
def test_cookie_rule_matches(name: str, cookie: str, expected: bool) -> None:
    rule = CookieRule(name=name)
    assert rule.matches(cookie) is expected
    assert rule.is_prefix is name.endswith("*")


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        ("session", None),
        ("Session", None),
        ("30 minutes", 30 * 60),
        ("1 minute", 60),
        ("1 hour", 3600),
        ("2 hours", 7200),
        ("30 days", 30 * 86400),
        ("1 day", 86400),
        ("1  Day", 86400),
        ("13 months", 13 * 30 * 86400),
        ("1 year", 365 * 86400),
        ("2 years", 2 * 365 * 86400),
        ("999999 days", 999999 * 86400),
    ],
)
def test_cookie_rule_max_age_seconds(duration: str, seconds: int | None) -> None:
    rule = CookieRule(name="x", duration=duration)
    assert rule.max_age_seconds == seconds


def test_cookie_rule_defaults() -> None:
    rule = CookieRule(name="x")
    assert (rule.duration, rule.path, rule.domain, rule.purpose) == ("session", "/", None, "")
    assert rule.max_age_seconds is None


# --- texts -----------------------------------------------------------------------------------

TEXT = {"en": "Analytics", "de": "Statistik", "pt-BR": "Análise"}


@pytest.mark.parametrize(
    ("text", "lang", "default", "expected"),
    [
        (TEXT, "de", "en", "Statistik"),  # exact language
        (TEXT, "de-AT", "en", "Statistik"),  # primary subtag
        (TEXT, "pt-BR", "en", "Análise"),
        (TEXT, "fr", "en", "Analytics"),  # the default language
        (TEXT, "fr", "de", "Statistik"),  # another default language
        ({"de": "Statistik", "fr": "Statistiques"}, "it", "en", "Statistik"),  # the first one
        ("plain", "fr", "en", "plain"),  # plain strings serve every language
    ],
)
def test_localize_fallback(
    text: str | dict[str, str], lang: str, default: str, expected: str
) -> None:
    assert localize(text, lang, default) == expected


def test_localize_of_a_loaded_policy(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "consent.toml", SEED_TOML))
    assert localize(policy.category("essential").title, "de") == "Essenziell"
    assert localize(policy.category("essential").title, "es") == "Essential"
    assert localize(policy.category("analytics").title, "de") == "Analytics"


# --- lookups ---------------------------------------------------------------------------------

ALL_IDS = (
    "essential, analytics, marketing, php-session, wordpress, matomo, google-analytics, youtube"
)


def test_policy_lookups_find_known_ids() -> None:
    policy = Policy.model_validate(POLICY_DATA)
    assert policy.kind_of("analytics") == "category"
    assert policy.kind_of("matomo") == "service"
    assert isinstance(policy.category("marketing"), Category)
    assert isinstance(policy.service("youtube"), Service)
    assert policy.service("youtube").category == "marketing"
    assert [s.id for s in policy.services_of("analytics")] == ["matomo", "google-analytics"]
    assert policy.services_of("marketing") == (policy.service("youtube"),)


@pytest.mark.parametrize(
    ("lookup", "id", "known"),
    [
        ("kind_of", "nope", ALL_IDS),
        ("category", "nope", "essential, analytics, marketing"),
        ("category", "matomo", "essential, analytics, marketing"),  # a service is not a category
        ("service", "nope", "php-session, wordpress, matomo, google-analytics, youtube"),
        ("service", "analytics", "php-session, wordpress, matomo, google-analytics, youtube"),
    ],
)
def test_policy_lookup_unknown_id_raises_key_error_naming_known_ids(
    lookup: str, id: str, known: str
) -> None:
    policy = Policy.model_validate(POLICY_DATA)
    method: Callable[[str], object] = getattr(policy, lookup)
    with pytest.raises(KeyError) as caught:
        method(id)
    message = caught.value.args[0]
    assert f"unknown consent id {id!r}" in message
    assert message.endswith(f"known ids: {known}")


# --- fingerprint: C5 ---------------------------------------------------------------------------


def fingerprint(content: dict[str, Any]) -> str:
    return Policy.model_validate(content).fingerprint


def test_fingerprint_is_a_stable_sha256_hex() -> None:
    value = fingerprint(POLICY_DATA)
    assert re.fullmatch(r"[0-9a-f]{64}", value)
    assert fingerprint(copy.deepcopy(POLICY_DATA)) == value


def _prose_category(d: dict[str, Any]) -> None:
    d["categories"][1]["title"] = "Statistics"
    d["categories"][1]["description"] = "Different words."


def _prose_translated(d: dict[str, Any]) -> None:
    d["categories"][1]["title"] = {"en": "Analytics", "de": "Statistik"}


def _prose_service(d: dict[str, Any]) -> None:
    d["services"][2]["title"] = "Matomo Analytics"
    d["services"][2]["description"] = "Self-hosted."


def _prose_purpose(d: dict[str, Any]) -> None:
    d["services"][2]["cookies"][0]["purpose"] = {"en": "New purpose.", "de": "Neuer Zweck."}


def _prose_controller(d: dict[str, Any]) -> None:
    d["controller"] = "Someone Else GmbH"
    d["banner"] = {"title": "Cookies?", "text": "We ask first."}
    d["privacy_policy_url"] = "/privacy"


def _cookie_order(d: dict[str, Any]) -> None:
    d["services"][1]["cookies"].reverse()


@pytest.mark.parametrize(
    "change",
    [
        _prose_category,
        _prose_translated,
        _prose_service,
        _prose_purpose,
        _prose_controller,
        _cookie_order,
    ],
)
def test_fingerprint_unchanged_by_prose(change: Callable[[dict[str, Any]], None]) -> None:
    """Fixing a typo in the texts must not re-ask every visitor."""
    changed = data()
    change(changed)
    assert changed != POLICY_DATA
    assert fingerprint(changed) == fingerprint(POLICY_DATA)


def _add_category(d: dict[str, Any]) -> None:
    d["categories"].append({"id": "functional", "title": "Functional"})


def _remove_category(d: dict[str, Any]) -> None:
    del d["categories"][2]
    del d["services"][4]  # youtube belonged to it
    d["services"].append({"id": "youtube", "category": "analytics", "title": "YouTube"})


def _rename_category(d: dict[str, Any]) -> None:
    d["categories"][2]["id"] = "advertising"
    d["services"][4]["category"] = "advertising"


def _add_service(d: dict[str, Any]) -> None:
    d["services"].append({"id": "vimeo", "category": "marketing", "title": "Vimeo"})


def _remove_service(d: dict[str, Any]) -> None:
    del d["services"][3]


def _rename_service(d: dict[str, Any]) -> None:
    d["services"][3]["id"] = "ga4"


def _add_cookie(d: dict[str, Any]) -> None:
    d["services"][2]["cookies"].append({"name": "_pk_ses.*"})


def _remove_cookie(d: dict[str, Any]) -> None:
    del d["services"][1]["cookies"][2]


def _rename_cookie(d: dict[str, Any]) -> None:
    d["services"][3]["cookies"][0]["name"] = "_gid"


def _make_required(d: dict[str, Any]) -> None:
    d["categories"][1]["required"] = True


def _make_optional(d: dict[str, Any]) -> None:
    d["categories"][0]["required"] = False


def _move_service(d: dict[str, Any]) -> None:
    d["services"][4]["category"] = "analytics"


def _reorder_categories(d: dict[str, Any]) -> None:
    d["categories"][1], d["categories"][2] = d["categories"][2], d["categories"][1]


def _reorder_services_in_category(d: dict[str, Any]) -> None:
    d["services"][2], d["services"][3] = d["services"][3], d["services"][2]


def _reorder_services_across_categories(d: dict[str, Any]) -> None:
    d["services"][3], d["services"][4] = d["services"][4], d["services"][3]


@pytest.mark.parametrize(
    "change",
    [
        _add_category,
        _remove_category,
        _rename_category,
        _add_service,
        _remove_service,
        _rename_service,
        _add_cookie,
        _remove_cookie,
        _rename_cookie,
        _make_required,
        _make_optional,
        _move_service,
        _reorder_categories,
        _reorder_services_in_category,
        _reorder_services_across_categories,
    ],
)
def test_fingerprint_changes_with_what_visitors_consent_to(
    change: Callable[[dict[str, Any]], None],
) -> None:
    """C5: anything a stored choice refers to (ids, order, flags, cookies) re-asks."""
    changed = data()
    change(changed)
    Policy.model_validate(changed)  # the change itself is a valid policy
    assert fingerprint(changed) != fingerprint(POLICY_DATA)


def test_fingerprint_in_declaration() -> None:
    policy = Policy.model_validate(POLICY_DATA)
    declaration = policy.declaration()
    assert declaration["fingerprint"] == policy.fingerprint
    assert [c["id"] for c in declaration["categories"]] == ["essential", "analytics", "marketing"]
    json.dumps(declaration)  # JSON-ready
