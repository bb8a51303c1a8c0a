"""The threats of docs/security.md that no other test file covers: cookie tossing,
timing, hostile translations, header size attacks and the receipt id on ordinary pages.
(The table in docs/security.md names, for every threat, the test that proves its defence.)
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from consent import ConsentState, Policy
from consent.enforce import CookieWriter
from consent.signing import ConsentCodec, new_receipt_id
from consent.visit import MAX_COPIES
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
    assert 'consent=""; Domain=example.com; Max-Age=0; Path=/' in deletions
    assert 'consent=""; Domain=www.example.com; Max-Age=0; Path=/' in deletions
    assert not any(
        d.startswith('consent=""; Max-Age=0; Path=/') and "Domain" not in d for d in deletions
    )
    assert "cookie" in response.headers["vary"].lower()


def copy_deletions(name: str, host: str, path: str, domain: str | None) -> list[str]:
    """What the consent cookie's writer expires for a request to `host` and `path`."""
    writer = CookieWriter(name, max_age=60, domain=domain, secure=None, same_site="lax")
    return [v.decode() for v in writer.expire_copies(host, path, https=False)]


def test_copy_deletions_cover_each_path_prefix_and_parent_domain() -> None:
    found = copy_deletions("consent", "shop.www.example.co.uk:8443", "/a/b/", None)
    domains = {d.partition("Domain=")[2].partition(";")[0] for d in found}
    assert domains == {"", "shop.www.example.co.uk", "www.example.co.uk", "example.co.uk", "co.uk"}
    paths = {d.split("; ")[-1] for d in found}
    assert paths == {"Path=/", "Path=/a", "Path=/a/", "Path=/a/b", "Path=/a/b/"}
    assert 'consent=""; Max-Age=0; Path=/' not in found  # the visitor's own cookie
    # With a configured cookie domain, that one is the visitor's own instead.
    shared = copy_deletions("consent", "www.example.com", "/", "example.com")
    assert 'consent=""; Max-Age=0; Path=/' in shared
    assert 'consent=""; Domain=example.com; Max-Age=0; Path=/' not in shared


def test_copy_deletions_are_bounded_and_well_formed() -> None:
    # Deep paths, IP addresses and hostile characters: a bounded list of clean headers.
    deep = copy_deletions("consent", "www.example.com", "/a" * 50 + "/;x", None)
    assert len(deep) <= 3 * 11
    assert all(";" not in d.split("Path=")[1] for d in deep)
    for host in ("127.0.0.1:8000", "[::1]:8000", "localhost:8000", ""):
        found = copy_deletions("consent", host, "/x", None)
        assert found == ['consent=""; Max-Age=0; Path=/x', 'consent=""; Max-Age=0; Path=/x/']


def test_many_consent_cookies_are_read_only_up_to_a_bound() -> None:
    """A header stuffed with thousands of copies costs at most nine decodes, and means no
    decision: among so many, the visitor's own copy cannot be told from the plants."""
    own = cookie("save", ("analytics",))
    values = [own] + ["garbage"] * 3000
    granted, response = granted_with(*values)
    assert granted == {"essential"} and response.json()["decided"] is False


@pytest.mark.parametrize("planted", [MAX_COPIES, MAX_COPIES + 1, 40])
def test_copy_overflow_never_grants_what_the_visitors_own_copy_refuses(planted: int) -> None:
    """C1, cookie tossing with many copies: a sibling plants more copies of a genuine "accept
    all" (longer paths, so the browser sends them first) than the middleware reads, to
    push the visitor's own refusal out of the window. Too many copies mean no decision,
    never the most permissive."""
    own, plant = cookie("reject_all"), cookie("accept_all")
    granted, response = granted_with(*[plant] * planted, own)
    assert granted == {"essential"}
    if planted > MAX_COPIES:
        assert response.json()["decided"] is False
    # The plants are expired all the same.
    assert any("Domain=example.com" in c for c in response.headers.get_list("set-cookie"))


def test_a_planted_grant_cannot_stand_in_for_the_visitors_expired_choice() -> None:
    """C1, C3: the visitor's own copy is genuine but expired (or from an older revision): a valid
    planted grant beside it must not become the visitor's choice."""
    old = ConsentState.from_choice(
        POLICY,
        "reject_all",
        (),
        issued_at=datetime.now(UTC) - timedelta(days=POLICY.max_age_days + 1),
        receipt_id=new_receipt_id(),
    )
    expired = CODEC.encode(old)
    plant = cookie("accept_all")
    for values in ((expired, plant), (plant, expired)):
        granted, response = granted_with(*values)
        assert granted == {"essential"} and response.json()["decided"] is False


@given(
    st.lists(
        st.sampled_from(["reject_all", "accept_all", "analytics", "marketing", "youtube", "junk"]),
        min_size=1,
        max_size=MAX_COPIES + 3,
    )
)
@settings(max_examples=60, deadline=None)
def test_several_copies_grant_at_most_what_each_valid_one_grants(choices: list[str]) -> None:
    """C1: whatever copies a request carries, in whatever order, what applies is within what
    every valid copy grants; past the bound, nothing optional."""
    values, each = [], []
    for choice in choices:
        if choice == "junk":
            values.append("garbage")
            continue
        action: Any = choice if choice.endswith("_all") else "save"
        grant = () if choice.endswith("_all") else (choice,)
        state = ConsentState.from_choice(
            POLICY, action, grant, issued_at=datetime.now(UTC), receipt_id=new_receipt_id()
        )
        values.append(CODEC.encode(state))
        each.append(set(state.granted))
    granted, _ = granted_with(*values)
    if len(values) > MAX_COPIES + 1 or not each:
        assert granted == {"essential"}
    else:
        assert granted <= set.intersection(*each)


@pytest.mark.parametrize(
    "template",
    [
        "x=a {name}={value}",
        "x=a\t{name}={value}",
        "x=a,{name}={value}",
        "x{name}={value}",
        "{name}x={value}",
        "x={name}={value}",
        'x="a {name}={value}"',
    ],
)
@pytest.mark.parametrize("name", ["consent", "__Host-consent"])
def test_a_consent_cookie_inside_another_cookies_value_is_not_read(
    template: str, name: str
) -> None:
    """C1, forged consent through parsing: `x=a consent=<valid>` is one cookie named `x`, so
    no consent cookie at all, however valid the text after the space."""
    value = cookie("accept_all")
    secure = name.startswith("__Host-")
    app = make_app(cookie_name=name, secure=True) if secure else make_app()
    client = TestClient(app, base_url="https://www.example.com")
    header = template.replace("\\t", "\t").format(name=name, value=value)
    response = client.get("/", headers={"cookie": header})
    assert response.json() == {
        "decided": False,
        "granted": ["essential"],
        "services": ["php-session", "wordpress"],
    }
    # The same value as a cookie of its own is read, so the test can fail.
    response = client.get("/", headers={"cookie": f"x=a; {name}={value}"})
    assert response.json()["decided"] is True


@given(
    st.lists(
        st.tuples(
            st.text(st.sampled_from("abcx_- \t=consentCONSENT"), max_size=12),
            st.text(st.sampled_from("abc x= \t"), max_size=8),
        ),
        max_size=5,
    ),
    st.booleans(),
)
@settings(max_examples=80, deadline=None)
def test_only_a_pair_named_exactly_consent_is_read(
    parts: list[tuple[str, str]], real: bool
) -> None:
    """C1: random Cookie headers around a valid grant: it is read only when a `;`-separated
    pair's trimmed name is exactly the cookie name."""
    value = cookie("accept_all")
    pairs = [f"{name}={junk}{value}" for name, junk in parts]
    if real:
        pairs.append(f"consent={value}")
    header = "; ".join(pairs)
    exact = any(
        p.partition("=")[0].strip(" \t") == "consent" and p.partition("=")[2].strip(" \t") == value
        for p in pairs
    )
    response = TestClient(make_app()).get("/", headers={"cookie": header})
    if not exact:
        assert response.json()["decided"] is False


def test_gpc_withdrawal_starts_from_every_copy_not_the_first() -> None:
    """F1, cookie tossing: a GPC signal re-issues the cookie from what the request's
    copies say together; a planted "accept all" sent first must not become the new,
    genuinely signed cookie in place of the visitor's own refusal."""
    gpc_policy = Policy.model_validate(
        {
            **POLICY_DATA,
            "categories": [
                {**c, "gpc_opt_out": True} if c["id"] == "marketing" else c
                for c in POLICY_DATA["categories"]
            ],
        }
    )
    codec = ConsentCodec(gpc_policy, SECRET)

    def signed(action: Any, grant: tuple[str, ...] = ()) -> str:
        state = ConsentState.from_choice(
            gpc_policy, action, grant, issued_at=datetime.now(UTC), receipt_id=new_receipt_id()
        )
        return codec.encode(state)

    own, plant = signed("save", ("marketing",)), signed("accept_all")
    client = TestClient(make_app(gpc_policy))
    header = f"consent={plant}; consent={own}"
    response = client.get("/", headers={"cookie": header, "sec-gpc": "1"})
    assert response.json()["granted"] == ["essential"]
    reissued = [c for c in response.headers.get_list("set-cookie") if c.startswith("consent=")]
    reissued = [c for c in reissued if "Max-Age=0" not in c]
    assert reissued, "the withdrawal sends a new cookie"
    new_value = reissued[0].split(";")[0].partition("=")[2].strip('"')
    assert codec.decode(new_value).granted == {"essential"}


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
    # Only the first 1,024 characters are read and remembered: they differ in the q-value
    # alone, so 9 answers are remembered, not 50.
    assert negotiate.cached == 9
