"""The threats of docs/security.md that no other test file covers: cookie tossing,
timing, hostile translations, header size attacks and the receipt id on ordinary pages.
(The table in docs/security.md names, for every threat, the test that proves its defence.)
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent import ConsentState, Policy
from consent.middleware import copy_deletions
from consent.signing import ConsentCodec, new_receipt_id
from examples.app import app as example_app
from tests.conftest import POLICY_DATA, SECRET, make_app
from tests.test_jinja import build

POLICY = Policy.model_validate(POLICY_DATA)
CODEC = ConsentCodec(POLICY, SECRET)


def cookie(action: Any, grant: tuple[str, ...] = ()) -> str:
    """A genuine consent cookie value, as this site would sign it."""
    state = ConsentState.from_choice(
        POLICY, action, grant, issued_at=datetime.now(UTC), receipt_id=new_receipt_id()
    )
    return CODEC.encode(state)


def granted_with(*values: str, path: str = "/") -> tuple[set[str], Any]:
    """What the middleware grants when the request carries these consent cookies."""
    client = TestClient(make_app())
    header = "; ".join(f"consent={v}" for v in values)
    response = client.get(path, headers={"cookie": header, "host": "www.example.com"})
    assert response.status_code == 200
    return set(response.json()["granted"]), response


@pytest.mark.parametrize("order", ["own first", "planted first"])
def test_a_tossed_grant_cannot_widen_the_visitors_refusal(order: str) -> None:
    """Cookie tossing: a sibling sub-domain plants a genuine "accept all" cookie (taken from
    the attacker's own visit) beside the visitor's refusal. The stricter one wins, in
    whatever order the browser sends them."""
    own, planted = cookie("reject_all"), cookie("accept_all")
    values = (own, planted) if order == "own first" else (planted, own)
    assert granted_with(*values)[0] == {"essential"}


def test_several_consent_cookies_leave_only_what_all_grant() -> None:
    analytics, marketing = cookie("save", ("analytics",)), cookie("save", ("marketing",))
    assert granted_with(analytics, marketing)[0] == {"essential"}
    both = cookie("save", ("analytics", "marketing"))
    assert granted_with(both, analytics)[0] == {"essential", "analytics"}


def test_forged_or_broken_copies_count_for_nothing() -> None:
    """A planted value without a valid signature neither grants nor erases the choice."""
    own = cookie("save", ("analytics",))
    forged = own[:2] + ("1" if own[2] != "1" else "2") + own[3:]
    assert granted_with(forged, own)[0] == {"essential", "analytics"}
    assert granted_with("garbage", own, "x" * 600)[0] == {"essential", "analytics"}
    assert granted_with(forged, "garbage")[0] == {"essential"}


def test_planted_copies_are_expired_but_the_visitors_own_cookie_is_kept() -> None:
    _, response = granted_with(cookie("reject_all"), cookie("accept_all"), path="/?x=1")
    deletions = response.headers.get_list("set-cookie")
    assert 'consent=""; Max-Age=0; Path=/; Domain=example.com' in deletions
    assert 'consent=""; Max-Age=0; Path=/; Domain=www.example.com' in deletions
    assert not any(
        d.startswith('consent=""; Max-Age=0; Path=/') and "Domain" not in d for d in deletions
    )
    assert "cookie" in response.headers["vary"].lower()


def test_copy_deletions_cover_each_path_prefix_and_parent_domain() -> None:
    found = copy_deletions("consent", "shop.www.example.co.uk:8443", "/a/b/", None)
    domains = {d.partition("Domain=")[2] for d in found}
    assert domains == {"", "shop.www.example.co.uk", "www.example.co.uk", "example.co.uk", "co.uk"}
    paths = {d.split("; ")[2] for d in found}
    assert paths == {"Path=/", "Path=/a", "Path=/a/", "Path=/a/b", "Path=/a/b/"}
    assert 'consent=""; Max-Age=0; Path=/' not in found  # the visitor's own cookie
    # With a configured cookie domain, that one is the visitor's own instead.
    shared = copy_deletions("consent", "www.example.com", "/", "example.com")
    assert 'consent=""; Max-Age=0; Path=/' in shared
    assert 'consent=""; Max-Age=0; Path=/; Domain=example.com' not in shared


def test_copy_deletions_are_bounded_and_well_formed() -> None:
    # Deep paths, IP addresses and hostile characters: a bounded list of clean headers.
    deep = copy_deletions("consent", "www.example.com", "/a" * 50 + "/;x", None)
    assert len(deep) <= 3 * 11
    assert all(";" not in d.split("Path=")[1].split("; Domain")[0] for d in deep)
    for host in ("127.0.0.1:8000", "[::1]:8000", "localhost:8000", ""):
        found = copy_deletions("consent", host, "/x", None)
        assert found == ['consent=""; Max-Age=0; Path=/x', 'consent=""; Max-Age=0; Path=/x/']


def test_many_consent_cookies_are_read_only_up_to_a_bound() -> None:
    """A header stuffed with thousands of copies costs at most nine decodes."""
    own = cookie("save", ("analytics",))
    values = [own] + ["garbage"] * 3000
    assert granted_with(*values)[0] == {"essential", "analytics"}


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timing attacks: the signature check goes through hmac.compare_digest."""
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    codec = ConsentCodec(POLICY, SECRET)  # a fresh codec: nothing cached
    value = cookie("accept_all")
    # Edit the payload (the issue time's first hex digit), keep the signature well-shaped.
    forged = value[:2] + ("1" if value[2] != "1" else "2") + value[3:]
    assert not codec.decode(forged).decided
    assert calls, "the signature was not checked with hmac.compare_digest"
    calls.clear()
    assert codec.decode(value).decided and calls


def test_hostile_translations_are_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    """XSS through translations: a locale file with markup in every string renders it as
    text in the banner, the dialog and the declaration."""
    import consent.i18n

    evil = "<img src=x onerror=alert(1)>"
    hostile = {
        lang: MappingProxyType(
            {
                k: evil + v if isinstance(v, str) and not k.startswith("_") else v
                for k, v in s.items()
            }
        )
        for lang, s in consent.i18n.UI_STRINGS.items()
    }
    monkeypatch.setattr(consent.i18n, "UI_STRINGS", MappingProxyType(hostile))
    html = (
        build(
            POLICY_DATA,
            "{{ consent.banner() }}{{ consent.preferences() }}{{ consent.declaration() }}",
        )
        .get("/page")
        .text
    )
    assert evil not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 10


def test_a_huge_accept_language_header_is_bounded() -> None:
    """Only the first KiB is read (and cached): `de` at the far end is not reached."""
    client = TestClient(example_app)
    header = ",".join(f"x{i}-yy;q=0.{i % 9}" for i in range(6000)) + ",de"
    response = client.get("/", headers={"accept-language": header})
    assert response.status_code == 200
    assert '<html lang="en"' in response.text or 'lang="en"' in response.text
    assert client.get("/", headers={"accept-language": "de"}).text.count('lang="de"') >= 1


def test_the_receipt_id_is_not_on_ordinary_pages() -> None:
    """The receipt id identifies a visitor for months; the cookie is HttpOnly so that
    scripts cannot read it, and pages must not print it where allowed third-party scripts
    can read the DOM. It is shown on the consent settings page only."""
    client = TestClient(example_app)
    response = client.post("/consent", data={"action": "accept_all", "next": "/"})
    assert response.status_code == 200  # followed the 303 to the page
    receipt = CODEC_EXAMPLE.decode(client.cookies["consent"]).receipt_id
    assert receipt and receipt not in response.text
    assert "saved on" in response.text  # the dialog still says when
    assert receipt not in client.get("/consent/state").text
    assert receipt in client.get("/consent").text


def _example_codec() -> ConsentCodec:
    from examples.site import SECRET_KEY, policy

    return ConsentCodec(policy, SECRET_KEY)


CODEC_EXAMPLE = _example_codec()


def test_language_cache_keys_are_bounded() -> None:
    """A stream of distinct huge headers cannot make the negotiation cache grow big."""
    from consent.i18n import Negotiator

    negotiate = Negotiator(["en", "de"], "en")
    for i in range(50):
        assert negotiate(f"de;q=0.{i % 9 + 1}," + "x" * 20_000 + str(i)) == "de"
    assert all(len(key) <= 1024 for key in negotiate._cache)
