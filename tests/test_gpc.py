"""Global Privacy Control on the server (checklist F1, F2, F4, F5, F6, F7, D1)."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from jinja2 import DictLoader, Environment
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.testclient import TestClient

from consent import ConsentMiddleware, Policy, PolicyError, get_consent
from consent.gpc import gpc_signal
from consent.jinja import context_processor
from consent.receipts import Receipt, Snapshot, SQLiteConsentLog
from consent.signing import ConsentCodec
from tests.conftest import POLICY_DATA, SECRET, run_async
from tests.test_receipts_middleware import FlakyLog, all_receipts

DATA = copy.deepcopy(POLICY_DATA)
DATA["categories"][2]["gpc_opt_out"] = True  # marketing (YouTube)
POLICY = Policy.model_validate(DATA)
CODEC = ConsentCodec(POLICY, SECRET)
GPC = {"sec-gpc": "1"}
IFRAME = '<iframe data-consent="youtube" src="https://www.youtube-nocookie.com/embed/x"></iframe>'


async def state(request: Request) -> JSONResponse:
    consent = get_consent(request)
    return JSONResponse(
        {
            "marketing": consent.allows("marketing"),
            "youtube": consent.allows("youtube"),
            "analytics": consent.allows("analytics"),
            "gpc": consent.gpc,
        }
    )


async def page(request: Request) -> Response:
    response = HTMLResponse(f"<p>video</p>{IFRAME}")
    response.set_cookie("YSC", "abc")
    return response


def client(log: Any = None, **options: Any) -> TestClient:
    app = Starlette(
        routes=[Route("/", state), Route("/page", page)],
        middleware=[
            Middleware(ConsentMiddleware, policy=POLICY, secret_key=SECRET, log=log, **options)
        ],
    )
    return TestClient(app)


def accept_all(c: TestClient, **headers: str) -> Any:
    return c.post("/consent", json={"action": "accept_all"}, headers=headers)


@pytest.mark.parametrize(
    ("value", "on"),
    [
        (b"1", True),
        (b"1, 1", True),  # two headers, joined
        (b"0, 1", True),
        (b"0", False),
        (b"true", False),
        (b"", False),
        (b"11", False),
        (b"yes", False),
        (b"1;q=1", False),
    ],
)
def test_only_an_exact_1_is_the_signal(value: bytes, on: bool) -> None:
    """F1: servers must ignore any value other than exactly "1"."""
    assert gpc_signal(value) is on


def test_two_separate_headers_count_when_one_is_1() -> None:
    c = client()
    accept_all(c)
    answer = c.get("/", headers=[("sec-gpc", "0"), ("sec-gpc", "1")])
    assert answer.json()["marketing"] is False


def test_signal_denies_the_opt_out_category_over_a_stored_grant() -> None:
    """F1, F5: a stored grant of marketing does not survive the signal; analytics does."""
    c = client()
    accept_all(c)
    assert c.get("/").json() == {
        "marketing": True,
        "youtube": True,
        "analytics": True,
        "gpc": False,
    }
    assert c.get("/", headers=GPC).json() == {
        "marketing": False,
        "youtube": False,
        "analytics": True,
        "gpc": True,
    }


@pytest.mark.parametrize("value", ["0", "true", ""])
def test_other_values_change_nothing(value: str) -> None:
    c = client()
    accept_all(c)
    before = c.cookies["consent"]
    answer = c.get("/", headers={"sec-gpc": value})
    assert answer.json()["marketing"] is True
    assert "set-cookie" not in answer.headers
    assert c.cookies["consent"] == before


def test_the_withdrawal_is_stored_so_a_later_request_stays_denied() -> None:
    """F2: the absence of the signal afterwards is not an opt-in."""
    c = client()
    accept_all(c)
    first = CODEC.decode(c.cookies["consent"])
    answer = c.get("/", headers=GPC)
    assert any(h.startswith("consent=") for h in answer.headers.get_list("set-cookie"))
    after = CODEC.decode(c.cookies["consent"])
    assert after.granted == {"essential", "analytics"}
    assert after.receipt_id != first.receipt_id
    assert after.issued_at == first.issued_at  # what remains is not made to last longer
    assert c.get("/").json()["marketing"] is False
    assert "set-cookie" not in c.get("/", headers=GPC).headers  # nothing left to withdraw


def test_cookies_and_markup_of_the_opt_out_category_are_stopped() -> None:
    """F1 with A2, A3: enforcement and gating follow the signal."""
    c = client()
    accept_all(c)
    allowed = c.get("/page")
    assert 'src="https://www.youtube-nocookie.com/embed/x"' in allowed.text
    assert any(h.startswith("YSC=abc") for h in allowed.headers.get_list("set-cookie"))
    c.cookies.set("YSC", "abc")
    denied = c.get("/page", headers=GPC)
    assert 'data-consent-src="https://www.youtube-nocookie.com/embed/x"' in denied.text
    cookies = denied.headers.get_list("set-cookie")
    assert not any(h.startswith("YSC=abc") for h in cookies)
    assert any(h.startswith('YSC=""; Max-Age=0') for h in cookies)  # expired


def test_a_first_visit_with_the_signal_stores_nothing() -> None:
    """F4, F6: no cookie without a decision; the banner question stays open."""
    c = client()
    answer = c.get("/", headers=GPC)
    assert answer.json()["gpc"] is True and answer.json()["marketing"] is False
    assert "set-cookie" not in answer.headers


def test_accept_all_under_the_signal_leaves_the_opt_out_category_off() -> None:
    """F1: the signal wins over a click on "Accept all" made while it is on."""
    c = client()
    data = accept_all(c, **GPC).json()
    assert data["granted"] == ["essential", "analytics"]
    assert data["gpc"] is True
    assert CODEC.decode(c.cookies["consent"]).granted == {"essential", "analytics"}


def test_the_page_script_can_report_the_signal() -> None:
    """F3 (server side): `gpc: true` from consent.js has the same effect; anything but a
    boolean is refused."""
    c = client()
    data = c.post("/consent", json={"action": "accept_all", "gpc": True}).json()
    assert "marketing" not in data["granted"]
    bad = c.post("/consent", json={"action": "accept_all", "gpc": "yes"})
    assert bad.status_code == 400 and "gpc must be true or false" in bad.json()["error"]
    # It can only take away: `gpc: false` under the header changes nothing.
    data = c.post("/consent", json={"action": "accept_all", "gpc": False}, headers=GPC).json()
    assert "marketing" not in data["granted"]


def test_responses_vary_on_the_signal() -> None:
    c = client()
    assert c.get("/").headers["vary"] == "Cookie, Sec-GPC"
    assert c.get("/consent/state").headers["vary"] == "Cookie, Sec-GPC"
    plain = TestClient(
        Starlette(
            routes=[Route("/", state)],
            middleware=[
                Middleware(
                    ConsentMiddleware,
                    policy=Policy.model_validate(POLICY_DATA),
                    secret_key=SECRET,
                )
            ],
        )
    )
    assert plain.get("/").headers["vary"] == "Cookie"


def test_receipts_record_the_signal(tmp_path: Path) -> None:
    """D1 and F5: a decision under GPC says so; a GPC-driven withdrawal has its own receipt
    of source "gpc" that links to the grant it withdrew."""
    log = SQLiteConsentLog(tmp_path / "log.db")
    c = client(log)
    accept_all(c)
    granted = CODEC.decode(c.cookies["consent"]).receipt_id
    c.get("/", headers=GPC)
    withdrawn = CODEC.decode(c.cookies["consent"]).receipt_id
    accept_all(c, **GPC)
    under_gpc = CODEC.decode(c.cookies["consent"]).receipt_id

    async def read() -> dict[str, Receipt]:
        found = {r.id: r async for r in log.receipts()}
        await log.aclose()
        return found

    receipts = run_async(read())
    assert set(receipts) == {granted, withdrawn, under_gpc}
    gpc_receipt = receipts[str(withdrawn)]
    assert (gpc_receipt.source, gpc_receipt.method, gpc_receipt.gpc) == (
        "gpc",
        "withdrawal",
        True,
    )
    assert gpc_receipt.previous_id == granted
    assert gpc_receipt.categories == {"essential": True, "analytics": True, "marketing": False}
    assert receipts[str(granted)].gpc is False
    decision = receipts[str(under_gpc)]
    assert (decision.source, decision.gpc, decision.categories["marketing"]) == (
        "visitor",
        True,
        False,
    )


def test_a_gpc_withdrawal_goes_through_when_the_log_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = FlakyLog(tmp_path / "log.db")
    c = client(log)
    accept_all(c)
    first = CODEC.decode(c.cookies["consent"])
    log.broken = True
    with caplog.at_level(logging.ERROR, logger="consent"):
        assert c.get("/", headers=GPC).json()["marketing"] is False
    assert "GPC withdrawal has no receipt" in caplog.text
    after = CODEC.decode(c.cookies["consent"])
    assert after.granted == {"essential", "analytics"}
    assert after.receipt_id == first.receipt_id  # still the receipt that proves analytics


def test_consent_routes_pass_on_the_new_cookie() -> None:
    """The withdrawal reaches the browser whatever page the signal arrived with."""
    c = client()
    accept_all(c)
    answer = c.get("/consent/state", headers=GPC)
    assert answer.json()["granted"] == ["essential", "analytics"]
    assert any(h.startswith("consent=") for h in answer.headers.get_list("set-cookie"))
    assert c.get("/").json()["marketing"] is False


def test_well_known_gpc_json() -> None:
    """F7: the support resource, when the site asks for it."""
    c = client(well_known_gpc="2026-11-28")
    answer = c.get("/.well-known/gpc.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert json.loads(answer.content) == {"gpc": True, "lastUpdate": "2026-11-28"}
    assert client().get("/.well-known/gpc.json").status_code == 404  # off by default
    with pytest.raises(ValueError, match="2026-11-28"):
        client(well_known_gpc="yesterday").get("/")


def test_a_required_category_cannot_be_opted_out() -> None:
    data = copy.deepcopy(POLICY_DATA)
    data["categories"][0]["gpc_opt_out"] = True
    with pytest.raises(PolicyError, match="required category cannot be opted out"):
        from consent.policy import validate_policy

        validate_policy(data, "consent.toml")


def template_client(policy: Policy) -> TestClient:
    page = (
        "{{ consent.allows('marketing') }}/{{ consent.allows('analytics') }}{{ consent.banner() }}"
    )
    templates = Jinja2Templates(
        env=Environment(loader=DictLoader({"p.html": page}), autoescape=True),
        context_processors=[context_processor],
    )

    async def render(request: Request) -> Response:
        return templates.TemplateResponse(request, "p.html")

    app = Starlette(
        routes=[Route("/", render)],
        middleware=[Middleware(ConsentMiddleware, policy=policy, secret_key=SECRET)],
    )
    return TestClient(app)


def test_templates_see_the_signal() -> None:
    """F1 in templates: `consent.allows()` is False for the opt-out category under the
    signal, over a stored grant, and stays so after the signal is gone (F2)."""
    c = template_client(POLICY)
    accept_all(c)
    assert c.get("/").text == "True/True"
    assert c.get("/", headers=GPC).text == "False/True"
    assert c.get("/").text == "False/True"


def test_the_banner_still_asks_with_the_note_which_can_be_turned_off() -> None:
    """F4, F6: under the signal the banner is shown, with the note naming the flagged
    categories; `gpc_note = false` under `[banner]` leaves the note out, not the banner."""
    html = template_client(POLICY).get("/", headers=GPC).text
    assert "data-consent-banner" in html
    note = html[html.index("data-consent-gpc") :].split("</p>")[0]
    assert "Opt-out preference signal honoured" in note and "Marketing" in note
    assert "data-consent-gpc" not in template_client(POLICY).get("/").text  # no signal
    quiet = Policy.model_validate({**DATA, "banner": {"gpc_note": False}})
    html = template_client(quiet).get("/", headers=GPC).text
    assert "data-consent-banner" in html and "data-consent-gpc" not in html


class HungLog(SQLiteConsentLog):
    """A store whose `write` never answers once `hang` is set (an event never set): it
    overrides `write`, so it does not inherit SQLiteConsentLog's claim to bound itself."""

    hang = False

    async def write(self, receipt: Receipt, snapshot: Snapshot) -> None:
        if self.hang:
            await asyncio.Event().wait()
        await super().write(receipt, snapshot)


def test_a_gpc_withdrawal_is_not_held_by_a_hung_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """D1, B14, F5: the GPC withdrawal writes its receipt through the same writer as the consent
    route, with the same `log_timeout`: a store that never answers does not hold the page,
    the withdrawal still applies, and the failure is logged."""
    log = HungLog(tmp_path / "log.db")
    app = Starlette(
        routes=[Route("/", state)],
        middleware=[
            Middleware(
                ConsentMiddleware, policy=POLICY, secret_key=SECRET, log=log, log_timeout=0.2
            )
        ],
    )

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://site.test") as c:
            assert (await c.post("/consent", json={"action": "accept_all"})).status_code == 200
            first = CODEC.decode(c.cookies["consent"])
            log.hang = True
            # Far more than log_timeout: without a limit the page would never come.
            page = await asyncio.wait_for(c.get("/", headers=GPC), 10)
            assert page.status_code == 200
            assert page.json()["marketing"] is False
            after = CODEC.decode(c.cookies["consent"])
            assert after.granted == {"essential", "analytics"}
            assert after.receipt_id == first.receipt_id  # the receipt that proves analytics
            log.hang = False

    with caplog.at_level(logging.ERROR, logger="consent"):
        run_async(scenario())
    assert "GPC withdrawal has no receipt" in caplog.text
    assert "no answer within log_timeout=0.2 s" in caplog.text
    assert [r.method for r in all_receipts(log)] == ["accept_all"]
