"""Choosing the visitor's language, plural forms, right-to-left, translated policies."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from consent import Policy, PolicyError
from consent.declaration import render_declaration
from consent.i18n import Negotiator, format_duration, plural_category, strings
from consent.lint import lint
from consent.policy import validate_policy
from consent.receipts import SQLiteConsentLog
from examples.app import app
from tests.conftest import POLICY_DATA, make_app, run_async
from tests.test_jinja import build

ALL = ("en", "de", "fr", "pt", "nb", "zh", "he", "ar", "pl")


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("pt-BR", "pt"),  # region fallback
        ("fr-CH, fr;q=0.9, en;q=0.8", "fr"),
        ("en;q=0, de", "de"),  # q=0: not acceptable
        ("da;q=0.5, pl;q=0.7", "pl"),  # best q first, not header order
        ("pl;q=0.7, fr;q=0.7", "pl"),  # a tie keeps the header's order
        ("xx, *", "en"),  # wildcard: the default
        ("xx-YY", "en"),
        ("", "en"),
        ("de;q=abc, fr", "fr"),  # a malformed entry is skipped
        ("de;q=1.5, fr", "fr"),
        ("12, fr", "fr"),
        ("no", "nb"),  # Norwegian without a written standard is Bokmål here
        ("zh-CN,zh;q=0.9", "zh"),
        ("iw", "he"),  # the old code for Hebrew
        ("AR-eg", "ar"),  # case does not matter
        ("en-GB;q=0.8, ar;q=0.9", "ar"),
    ],
)
def test_accept_language_negotiation(header: str, language: str) -> None:
    assert Negotiator(ALL, "en")(header) == language


def test_negotiation_stays_inside_the_site_languages() -> None:
    negotiate = Negotiator(["en", "de"], "de")
    assert negotiate("fr-FR, fr;q=0.9") == "de"  # not offered: the site's default
    assert negotiate("fr, en;q=0.5") == "en"
    assert negotiate(None) == "de"


def test_a_bare_language_finds_a_regional_variant() -> None:
    negotiate = Negotiator(["en", "pt-BR"], "en")
    assert negotiate("pt") == "pt-BR"
    assert negotiate("pt-PT") == "pt-BR"


def test_hostile_headers_are_bounded() -> None:
    negotiate = Negotiator(ALL, "en")
    assert negotiate("xx, " * 10_000 + "de") == "en"  # past the 32 entries looked at
    assert negotiate(";" * 100_000) == "en"
    assert negotiate("de" + "-abcdefgh" * 2000) == "de"  # cut subtags still match


@pytest.mark.parametrize(
    ("wanted", "found"),
    [("de", "de"), ("DE", "de"), ("de-AT", "de"), ("xx", None), ("*", None), ("", None)],
)
def test_an_explicit_choice_must_be_offered(wanted: str, found: str | None) -> None:
    assert Negotiator(ALL, "en").pick(wanted) == found
    assert Negotiator(ALL, "en").pick("d" * 100) is None


@pytest.mark.parametrize(
    ("lang", "numbers", "categories"),
    [
        ("en", [0, 1, 2, 180], ["other", "one", "other", "other"]),
        ("fr", [0, 1, 2], ["one", "one", "other"]),
        ("pl", [1, 2, 5, 12, 22, 25, 180], ["one", "few", "many", "many", "few", "many", "many"]),
        ("uk", [1, 21, 11, 3, 13], ["one", "one", "many", "few", "many"]),
        ("cs", [1, 3, 5], ["one", "few", "other"]),
        ("sl", [1, 2, 3, 5, 101, 102], ["one", "two", "few", "other", "one", "two"]),
        ("lt", [1, 2, 10, 21], ["one", "few", "other", "one"]),
        ("lv", [0, 1, 2, 11, 21], ["zero", "one", "other", "zero", "one"]),
        ("ro", [1, 2, 19, 20, 101], ["one", "few", "few", "other", "few"]),
        ("ga", [1, 2, 3, 7, 11], ["one", "two", "few", "many", "other"]),
        ("mt", [1, 2, 0, 5, 12, 20], ["one", "two", "few", "few", "many", "other"]),
        ("ar", [0, 1, 2, 3, 11, 100], ["zero", "one", "two", "few", "many", "other"]),
        ("he", [1, 2, 3], ["one", "two", "other"]),
        ("ja", [1, 2], ["other", "other"]),
    ],
)
def test_plural_categories(lang: str, numbers: list[int], categories: list[str]) -> None:
    assert [plural_category(lang, n) for n in numbers] == categories


def test_english_durations() -> None:
    assert format_duration("13 months", "en") == "13 months"
    assert format_duration("1 month", "en") == "1 month"
    assert format_duration("session", "en") == "Session"
    assert format_duration("30 minutes", "en") == "30 minutes"
    assert format_duration("nonsense", "en") == "nonsense"


def test_translated_durations_use_the_plural_forms() -> None:
    assert format_duration("1 day", "pl") != format_duration("2 days", "pl").replace("2", "1")
    for lang in ("de", "pl", "ar", "ja"):
        text = format_duration("180 days", lang)
        assert "180" in text and text != "180 days", lang


def test_the_site_languages_must_be_built_in() -> None:
    data = {**POLICY_DATA, "languages": ["en", "tlh"]}
    with pytest.raises(PolicyError, match=r"languages\[1\]: 'tlh' is not a built-in language"):
        validate_policy(data, "consent.toml")
    data = {**POLICY_DATA, "languages": ["de", "fr"]}
    with pytest.raises(PolicyError, match="default language 'en' is not in languages"):
        validate_policy(data, "consent.toml")


def test_banner_follows_accept_language_and_sets_lang() -> None:
    html = TestClient(app).get("/", headers={"accept-language": "de-DE,de;q=0.9"}).text
    banner = re.search(r'<div class="cc-banner"[^>]*>', html)
    assert banner is not None
    assert 'lang="de"' in banner[0] and 'dir="ltr"' in banner[0]
    assert strings("de")["accept_all"] in html
    assert "Notwendig" in html  # the policy's own German title


def test_right_to_left_languages_get_dir_rtl() -> None:
    client = TestClient(app)
    html = client.get("/", headers={"accept-language": "ar"}).text
    banner = re.search(r'<div class="cc-banner"[^>]*>', html)
    dialog = re.search(r"<dialog[^>]*>", html)
    assert banner is not None and dialog is not None
    assert 'lang="ar"' in banner[0] and 'dir="rtl"' in banner[0]
    assert 'dir="rtl"' in dialog[0]
    page = client.get("/consent", headers={"accept-language": "he"}).text
    assert '<html lang="he" dir="rtl">' in page


def test_lang_query_parameter_on_the_consent_pages() -> None:
    client = TestClient(app)
    page = client.get("/consent?lang=fr", headers={"accept-language": "de"}).text
    assert '<html lang="fr" dir="ltr">' in page
    assert strings("fr")["save"] in page
    assert '<input type="hidden" name="lang" value="fr">' in page
    ignored = client.get("/consent?lang=tlh", headers={"accept-language": "de"}).text
    assert '<html lang="de"' in ignored


def test_template_argument_overrides_the_language() -> None:
    from jinja2 import DictLoader, Environment
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from starlette.templating import Jinja2Templates

    from consent import ConsentMiddleware
    from consent.jinja import context_processor
    from tests.conftest import SECRET

    templates = Jinja2Templates(
        env=Environment(loader=DictLoader({"p.html": '{{ consent.banner(lang="it") }}'})),
        context_processors=[context_processor],
    )

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "p.html")

    policy = Policy.model_validate(POLICY_DATA)
    client = TestClient(
        Starlette(
            routes=[Route("/", page)],
            middleware=[Middleware(ConsentMiddleware, policy=policy, secret_key=SECRET)],
        )
    )
    html = client.get("/", headers={"accept-language": "de"}).text
    assert 'lang="it"' in html and strings("it")["reject_all"] in html


def test_state_and_receipt_carry_the_language(tmp_path: Path) -> None:
    log = SQLiteConsentLog(tmp_path / "log.db")
    client = TestClient(make_app(log=log))
    answer = client.post(
        "/consent", json={"action": "reject_all"}, headers={"accept-language": "sv"}
    )
    assert answer.json()["language"] == "sv"
    client.cookies.clear()
    answer = client.post(
        "/consent", json={"action": "reject_all", "lang": "fi"}, headers={"accept-language": "sv"}
    )
    assert answer.json()["language"] == "fi"  # what the page says it showed

    async def languages() -> list[str | None]:
        found = [r.language async for r in log.receipts()]
        await log.aclose()
        return found

    assert sorted(str(x) for x in run_async(languages())) == ["fi", "sv"]


def test_the_503_message_is_in_the_visitor_language(tmp_path: Path) -> None:
    client = TestClient(make_app(log=SQLiteConsentLog(tmp_path / "missing" / "log.db", timeout=1)))
    answer = client.post(
        "/consent", json={"action": "accept_all"}, headers={"accept-language": "de"}
    )
    assert answer.status_code == 503
    assert answer.json()["error"] == strings("de")["not_recorded"]


def test_declaration_export_in_another_language() -> None:
    policy = Policy.model_validate(
        {
            **POLICY_DATA,
            "categories": [
                {**POLICY_DATA["categories"][0], "title": {"en": "Essential", "de": "Notwendig"}},
                *POLICY_DATA["categories"][1:],
            ],
        }
    )
    html = render_declaration(policy, "html", "de")
    assert '<html lang="de" dir="ltr">' in html
    assert "Notwendig" in html and strings("de")["declaration"] in html
    assert format_duration("13 months", "de") in html
    markdown = render_declaration(policy, "md", "ar")
    assert strings("ar")["declaration"] in markdown


def test_lint_warns_about_texts_missing_in_a_site_language() -> None:
    data = copy.deepcopy(POLICY_DATA)
    data["languages"] = ["en", "de"]
    data["categories"][0]["title"] = {"en": "Essential", "de": "Notwendig"}
    data["categories"][1]["title"] = {"en": "Analytics"}
    policy = validate_policy(data, "consent.toml")
    found = [f for f in lint(policy, data) if f.code == "untranslated"]
    wheres = {f.where for f in found}
    assert "categories[1].title" in wheres
    assert "categories[0].title" not in wheres
    assert all(f.level == "warning" and "'de'" in f.message for f in found)
    # Without a `languages` list the lint does not ask for translations.
    del data["languages"]
    policy = validate_policy(data, "consent.toml")
    assert not [f for f in lint(policy, data) if f.code == "untranslated"]


def test_pages_showing_consent_parts_vary_on_accept_language() -> None:
    """Issue 7 (the banner in the visitor's language) behind a shared cache: a page that
    shows the banner says it depends on Accept-Language; a site with one language, and a
    page that only reads the state, do not."""
    assert TestClient(app).get("/").headers["vary"] == "Cookie, Sec-GPC, Accept-Language"
    reads_state = build(template="{{ consent.allows('analytics') }}")
    assert reads_state.get("/page").headers["vary"] == "Cookie"
    one_language = build({**POLICY_DATA, "languages": ["en"]}, "{{ consent.banner() }}")
    assert one_language.get("/page").headers["vary"] == "Cookie"
