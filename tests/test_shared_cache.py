"""`shared_cache=True`: pages named by consent variant, for Varnish, nginx and CDNs
(docs/caching.md), on every stack of tests/stacks.py.

The origin always decides from the signed cookie; the variant cookie only names the key a
shared cache used, and only beside the consent cookie it was issued with (its tag is the end
of that cookie's value). Where the two disagree the response is `private, no-store` and the
visitor's variant cookie is put right, so no page is ever stored under another visitor's key.

Checklist items: A1 (nothing set before a choice), B13 (withdrawal), D4 (GPC).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

import httpx2 as httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from consent import ConsentMiddleware, Policy, consent_html
from consent.cookies import parse_set_cookie
from consent.state import ConsentState
from consent.variant import TAG_LENGTH, consent_variant, no_store, request_variant, variant_marker
from tests.conftest import OTHER_SECRET, POLICY_DATA, SECRET
from tests.stacks import STACKS, page_html

VARIANT = "consent_variant"
GROUPS: dict[str, dict[str, Any] | None] = {
    "undecided": None,
    "reject": {"action": "reject_all"},
    "accept": {"action": "accept_all"},
    "analytics": {"action": "save", "grant": ["analytics"]},
}


def policy(revision: int = 1, gpc: bool = False) -> Policy:
    data: dict[str, Any] = {**POLICY_DATA, "revision": revision}
    if gpc:
        data["categories"] = [dict(c) for c in POLICY_DATA["categories"]]
        data["categories"][2]["gpc_opt_out"] = True  # marketing
    return Policy.model_validate(data)


class Visitor(NamedTuple):
    """What a visitor's browser holds after deciding (or not)."""

    consent: str | None
    variant: str | None  # the variant cookie: `<variant>.<tag>`


def named(marker: str | None) -> str | None:
    """The variant a variant cookie names (without its tag)."""
    return None if marker is None else marker.partition(".")[0]


def set_cookies(response: httpx.Response) -> dict[str, tuple[str, int | None, str]]:
    """Set-Cookie headers by name: (value, max-age, the whole header)."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        cookie = parse_set_cookie(header)
        found[cookie.name] = (cookie.value, cookie.max_age, header)
    return found


def decide(client: httpx.Client, choice: dict[str, Any] | None, **headers: str) -> Visitor:
    client.cookies.clear()
    if choice is None:
        return Visitor(None, None)
    response = client.post("/consent", json=choice, headers=headers)
    assert response.status_code == 200
    cookies = set_cookies(response)
    client.cookies.clear()
    variant = cookies.get(VARIANT)
    return Visitor(cookies["consent"][0], variant[0] if variant else None)


def cookie_header(consent: str | None, *variants: str) -> str:
    pairs = ([f"consent={consent}"] if consent else []) + [f"{VARIANT}={v}" for v in variants]
    return "; ".join(pairs)


def get(client: httpx.Client, cookie: str, path: str = "/", **headers: str) -> httpx.Response:
    client.cookies.clear()
    response = client.get(path, headers={"cookie": cookie, **headers} if cookie else headers)
    assert response.status_code == 200
    return response


@pytest.fixture(params=sorted(STACKS))
def stack(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    with STACKS[request.param](policy(), shared_cache=True) as client:
        yield client


def test_visitors_of_one_consent_share_one_variant(stack: httpx.Client) -> None:
    """Two visitors who made the same choice get the same variant cookie and the same
    page; the variant cookie goes with the consent cookie's attributes, readable by
    scripts; another choice is another variant."""
    first, second = decide(stack, GROUPS["accept"]), decide(stack, GROUPS["accept"])
    assert first.consent != second.consent  # each cookie is the visitor's own
    variant = named(first.variant)
    assert variant == named(second.variant) and variant is not None
    assert variant.startswith("v1-") and len(variant) == 19
    for one in (first, second):  # each bound to its own consent cookie
        assert one.consent is not None and one.variant == f"{variant}.{one.consent[-8:]}"
    pages = [get(stack, cookie_header(v.consent, v.variant or "")) for v in (first, second)]
    assert pages[0].text == pages[1].text
    for page in pages:
        assert page.headers["consent-variant"] == variant
        assert "no-store" not in page.headers.get("cache-control", "")
        assert "set-cookie" not in page.headers
        assert "Cookie" in page.headers["vary"]  # browsers' own caches still vary
    reject = decide(stack, GROUPS["reject"])
    assert named(reject.variant) not in (None, variant)
    response = stack.post("/consent", json={"action": "accept_all"})
    cookies = set_cookies(response)
    consent_header, variant_header = cookies["consent"][2], cookies[VARIANT][2]
    assert "HttpOnly" in consent_header and "HttpOnly" not in variant_header
    for attribute in ("Max-Age=", "Path=/", "SameSite=Lax"):
        assert attribute in consent_header and attribute in variant_header


def test_the_undecided_page_is_one_variant_and_sets_nothing(stack: httpx.Client) -> None:
    """A1: first-time visitors all get the `none` page, cacheable, without any cookie."""
    pages = [get(stack, "") for _ in range(2)]
    assert pages[0].text == pages[1].text
    for page in pages:
        assert page.headers["consent-variant"] == "none"
        assert "set-cookie" not in page.headers
        assert "no-store" not in page.headers.get("cache-control", "")
        assert "data-consent-banner" in page.text


@pytest.mark.parametrize("marker", ["none", *sorted(set(GROUPS) - {"undecided"}), "two"])
@pytest.mark.parametrize("owner", sorted(GROUPS))
def test_every_mix_of_consent_and_variant_cookie(
    stack: httpx.Client, owner: str, marker: str
) -> None:
    """The page is always the one of the signed cookie's consent; a variant cookie that
    is not the one issued with it (another visitor's, several, none) makes it `private,
    no-store` and is put right: bound to the visitor's own consent cookie."""
    visitors = {name: decide(stack, choice) for name, choice in GROUPS.items()}
    genuine = visitors[owner]
    own = (genuine.variant,) if genuine.variant else ()
    expected = get(stack, cookie_header(genuine.consent, *own))
    variant = expected.headers["consent-variant"]
    if marker == "none":
        markers: tuple[str, ...] = ()
    elif marker == "two":
        markers = (genuine.variant or "v1-0000000000000000.AAAAAAAA", "v1-forged")
    else:
        markers = (visitors[marker].variant or "",)
    response = get(stack, cookie_header(genuine.consent, *markers))
    assert response.text == expected.text
    assert response.headers["consent-variant"] == variant
    cookies = set_cookies(response)
    if markers == own:  # the visitor's own cookies, as issued together
        assert "no-store" not in response.headers.get("cache-control", "")
        assert VARIANT not in cookies
        return
    directives = {d.strip() for d in response.headers["cache-control"].split(",")}
    assert {"private", "no-store"} <= directives
    value, max_age, _ = cookies[VARIANT]
    if genuine.consent is None:
        assert max_age == 0  # an undecided visitor keeps no variant cookie
    else:
        assert (value, max_age) == (
            variant_marker(variant, genuine.consent),
            policy().max_age_days * 86400,
        )


@pytest.mark.parametrize("choice", ["accept", "analytics"])
def test_a_variant_cookie_names_its_variant_only_beside_its_own_consent_cookie(
    stack: httpx.Client, choice: str
) -> None:
    """A2: another visitor's variant cookie names nothing beside my consent cookie, even
    of the same consent; planted alone (cookie tossing on an undecided visitor) it names
    nothing either: the undecided page with its banner, not stored, the marker expired."""
    first, second = decide(stack, GROUPS[choice]), decide(stack, GROUPS[choice])
    assert first.variant and second.variant and first.consent and second.consent
    variant = named(first.variant)
    mixes = [(first.consent, second.variant), (second.consent, first.variant)]
    for consent, marker in mixes:
        response = get(stack, cookie_header(consent, marker))
        assert response.headers["consent-variant"] == variant
        assert "no-store" in response.headers["cache-control"]
        assert set_cookies(response)[VARIANT][0] == variant_marker(variant or "", consent)
    banner = get(stack, "")
    for marker in (first.variant, second.variant):
        response = get(stack, cookie_header(None, marker))
        assert response.headers["consent-variant"] == "none"
        assert response.text == banner.text and "data-consent-banner" in response.text
        assert "no-store" in response.headers["cache-control"]
        assert set_cookies(response)[VARIANT][1] == 0
    own = get(stack, cookie_header(first.consent, first.variant))
    assert "cache-control" not in own.headers and "set-cookie" not in own.headers


_VALUE = st.text(alphabet='abAB01-_.#|\\"= ', max_size=24)
_SIGNATURE = st.text(alphabet="abzAZ09-_", min_size=TAG_LENGTH + 1, max_size=30)


@given(
    consent=_VALUE | _SIGNATURE,
    other=_VALUE | _SIGNATURE,
    same=st.booleans(),
    variant=st.sampled_from(["v1-0123456789abcdef", "none"]),
)
def test_a_marker_counts_only_with_the_consent_cookie_it_was_made_for(
    consent: str, other: str, same: bool, variant: str
) -> None:
    """Whatever two cookie values a request carries, the variant cookie names a variant
    only when its tag is the end of the consent cookie beside it as sent (and it always
    does for the cookie it was made for); with only one of the two cookies, nothing."""
    if same:
        other = consent
    marker = variant_marker(variant, other)
    cookie = f"consent={consent}; {VARIANT}={marker}".encode("latin-1")
    found = request_variant(cookie, "consent", False)
    assert found in (None, variant)
    if found is not None:
        sent = consent.strip(" ")[-TAG_LENGTH:]
        assert sent == other[-TAG_LENGTH:] and len(sent) == TAG_LENGTH
        assert all(c.isascii() and (c.isalnum() or c in "-_") for c in sent)
    if same and all(c.isalnum() or c in "-_" for c in consent) and len(consent) > TAG_LENGTH:
        assert found == variant
    for alone in (f"{VARIANT}={marker}", f"consent={consent}"):
        assert request_variant(alone.encode("latin-1"), "consent", True) is None
    assert request_variant(b"", "consent", True) == "none-gpc"
    assert request_variant(b"other=1", "consent", False) == "none"


def test_a_revision_bump_renames_every_decided_variant() -> None:
    """A choice made under revision 1 is no choice under revision 2: the page is the
    undecided one, never stored under the old variant's key, and the old variant cookie is
    expired; the same choice under revision 2 is another variant."""
    with STACKS["starlette"](policy(1), shared_cache=True) as old:
        before = decide(old, GROUPS["accept"])
    with STACKS["starlette"](policy(2), shared_cache=True) as new:
        assert before.variant is not None
        response = get(new, cookie_header(before.consent, before.variant))
        assert response.headers["consent-variant"] == "none"
        assert "no-store" in response.headers["cache-control"]
        assert set_cookies(response)[VARIANT][1] == 0
        assert "data-consent-banner" in response.text
        after = decide(new, GROUPS["accept"])
        assert named(after.variant) not in (None, named(before.variant))


def test_a_cookie_re_signed_after_key_rotation_keeps_its_variant() -> None:
    """The keys are not part of the variant: the pages of one consent are the same
    whichever key signed the cookie, so rotating keys empties no cache."""
    with STACKS["starlette"](policy(), shared_cache=True) as old:
        before = decide(old, GROUPS["analytics"])
        page = get(old, cookie_header(before.consent, before.variant or ""))
    app = Starlette(
        routes=[Route("/", lambda r: HTMLResponse(page_html(consent_html(r))))],
        middleware=[
            Middleware(
                ConsentMiddleware,
                policy=policy(),
                secret_key=[OTHER_SECRET, SECRET],
                shared_cache=True,
            )
        ],
    )
    with TestClient(app) as rotated:
        response = get(rotated, cookie_header(before.consent, before.variant or ""))
        assert response.headers["consent-variant"] == named(before.variant)
        assert "cache-control" not in response.headers
        assert response.text == page.text
        after = decide(rotated, GROUPS["analytics"])
        assert named(after.variant) == named(before.variant)


def test_gpc_is_its_own_variant() -> None:
    """D4, B13: the undecided page under `Sec-GPC: 1` is `none-gpc` (no cookie set); a
    stored grant the signal withdraws gets the new consent and variant cookies, and the
    page of the withdrawn grant is not stored under the old key."""
    with STACKS["starlette"](policy(gpc=True), shared_cache=True) as client:
        response = get(client, "", **{"sec-gpc": "1"})
        assert response.headers["consent-variant"] == "none-gpc"
        assert "set-cookie" not in response.headers
        assert "no-store" not in response.headers.get("cache-control", "")
        accept = decide(client, GROUPS["accept"])
        assert accept.variant is not None
        response = get(client, cookie_header(accept.consent, accept.variant), **{"sec-gpc": "1"})
        withdrawn = response.headers["consent-variant"]
        assert withdrawn not in (named(accept.variant), "none", "none-gpc")
        assert "no-store" in response.headers["cache-control"]
        cookies = set_cookies(response)
        reissued, marker = cookies["consent"][0], cookies[VARIANT][0]
        assert marker == variant_marker(withdrawn, reissued)  # bound to the new cookie
        again = get(client, cookie_header(reissued, marker), **{"sec-gpc": "1"})
        assert again.headers["consent-variant"] == withdrawn
        assert "cache-control" not in again.headers


@pytest.mark.parametrize("name", sorted(STACKS))
def test_without_the_option_nothing_changes(name: str) -> None:
    """No variant header, no variant cookie, no Cache-Control: today's responses."""
    with STACKS[name](policy()) as plain:
        response = plain.post("/consent", json=GROUPS["accept"])
        assert VARIANT not in set_cookies(response)
        for cookie in ("", f"{VARIANT}=v1-0000000000000000"):
            page = get(plain, cookie)
            assert "consent-variant" not in page.headers
            assert "cache-control" not in page.headers
            assert "set-cookie" not in page.headers


def test_a_response_that_does_not_depend_on_consent_has_no_variant() -> None:
    """No consent variance at all where the app did not read consent."""
    app = Starlette(
        routes=[Route("/plain", lambda r: PlainTextResponse("same for all"))],
        middleware=[
            Middleware(ConsentMiddleware, policy=policy(), secret_key=SECRET, shared_cache=True)
        ],
    )
    with TestClient(app) as client:
        response = get(client, f"{VARIANT}=v1-forged", "/plain")
        assert "consent-variant" not in response.headers
        assert "vary" not in response.headers and "cache-control" not in response.headers


def test_shared_cache_must_be_a_boolean() -> None:
    """Checked at start-up like every option."""
    with pytest.raises(ValueError, match="shared_cache must be True or False"):
        TestClient(
            Starlette(
                middleware=[
                    Middleware(
                        ConsentMiddleware,
                        policy=policy(),
                        secret_key=SECRET,
                        shared_cache="yes",  # type: ignore[arg-type]
                    )
                ]
            )
        ).get("/")


def test_variants_hold_nothing_per_visitor() -> None:
    """Only what gating depends on: a receipt id or an issue date changes nothing."""
    states = [
        ConsentState.from_choice(
            policy(), "accept_all", issued_at=datetime(2026, 1, day, tzinfo=UTC), receipt_id=rid
        )
        for day, rid in ((1, "a" * 22), (2, "b" * 22))
    ]
    assert consent_variant(states[0]) == consent_variant(states[1])
    assert consent_variant(states[0].with_gpc()) != consent_variant(states[0])
    assert consent_variant(ConsentState.undecided(policy())) == "none"


@given(st.lists(st.text(alphabet="public, max-age=60s-maxagno-transform;\t", max_size=30)))
def test_no_store_never_leaves_a_directive_that_stores(values: list[str]) -> None:
    """Merged with the app's Cache-Control, never loosened: one field, no directive that
    lets a cache keep the response, the other headers untouched."""
    headers = [(b"content-type", b"text/html"), *((b"cache-control", v.encode()) for v in values)]
    out = no_store(headers)
    fields = [v for k, v in out if k == b"cache-control"]
    assert len(fields) == 1 and fields[0].startswith(b"private, no-store")
    names = {d.strip().partition(b"=")[0].strip().lower() for d in fields[0].split(b",")}
    assert not names & {b"public", b"max-age", b"s-maxage"}
    assert [h for h in out if h[0] != b"cache-control"] == [(b"content-type", b"text/html")]


def test_consent_edge_prints_each_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    """`consent edge varnish|nginx` print complete files keyed on the variant cookie of
    the cookie name given; a bad option is refused with exit code 2 and a message."""
    from consent.cli import main

    assert main(["edge", "varnish", "--backend", "127.0.0.1:8000", "--cookie-name", "cc"]) == 0
    vcl = capsys.readouterr().out
    assert vcl.startswith("vcl 4.1;") and "cc_variant=" in vcl and '.port = "8000"' in vcl
    argv = ["edge", "nginx", "--backend", "127.0.0.1:8000", "--listen", "127.0.0.1:8080"]
    assert main([*argv, "--cache-dir", "/var/cache/consent", "--path", "/cmp"]) == 0
    conf = capsys.readouterr().out
    assert "proxy_cache_path /var/cache/consent/pages" in conf and "^/cmp(?:/|$)" in conf
    assert main(["edge", "varnish", "--backend", "localhost"]) == 2
    assert "--backend must be HOST:PORT" in capsys.readouterr().err
    assert main([*argv, "--cache-dir", "relative"]) == 2
    assert main(["edge", "varnish", "--backend", "h:1", "--path", "/x/"]) == 2


@pytest.mark.parametrize("shared", [True, False])
def test_a_shared_page_holds_nothing_of_the_visitor_s_own(shared: bool) -> None:
    """Two visitors who chose the same an hour apart: with `shared_cache` their pages are
    the same bytes (no decision time in the state block or the dialog, no receipt id),
    since a cache serves one to the other; without it each page says when its visitor
    chose."""
    from datetime import timedelta

    from consent.signing import ConsentCodec, new_receipt_id

    site_policy = policy()
    codec = ConsentCodec(site_policy, SECRET)
    cookies = []
    for hours in (0, 1):
        state = ConsentState.from_choice(
            site_policy,
            "accept_all",
            issued_at=ConsentState.now() - timedelta(hours=hours),
            receipt_id=new_receipt_id(),
        )
        value = codec.encode(state)
        cookies.append(
            f"consent={value}; consent_variant={variant_marker(consent_variant(state), value)}"
        )
    with STACKS["starlette"](site_policy, shared_cache=shared) as client:
        pages = [client.get("/", headers={"cookie": c}).text for c in cookies]
    assert "data-consent-dialog" in pages[0]
    assert (pages[0] == pages[1]) is shared
    if shared:
        assert '"issued_at": null' in pages[0] or '"issued_at":null' in pages[0]
