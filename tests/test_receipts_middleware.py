"""The middleware keeps a receipt of every decision (checklist D1, D2), refuses a grant it
cannot prove, and never blocks a refusal or a withdrawal."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent import Policy
from consent.receipts import (
    ConsentLog,
    LogUnavailable,
    PostgresConsentLog,
    Receipt,
    Snapshot,
    SQLiteConsentLog,
)
from consent.signing import ConsentCodec
from tests.conftest import POLICY_DATA, SECRET, make_app, run_async

POLICY = Policy.model_validate(POLICY_DATA)
CODEC = ConsentCodec(POLICY, SECRET)
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 unique-marker-4711"


class FlakyLog(SQLiteConsentLog):
    """A real SQLite log that can be made to fail, as a full disk or a lost server would."""

    broken = False

    async def write(self, receipt: Receipt, snapshot: Snapshot) -> None:
        if self.broken:
            raise LogUnavailable("disk full (simulated)")
        await super().write(receipt, snapshot)


def all_receipts(log: ConsentLog) -> list[Receipt]:
    async def main() -> list[Receipt]:
        found = [r async for r in log.receipts()]
        await log.aclose()
        return found

    return run_async(main())


def receipt_id(client: TestClient) -> str:
    """The receipt id in the client's consent cookie (the test fails if there is none)."""
    found = CODEC.decode(client.cookies.get("consent") or "").receipt_id
    assert found is not None
    return found


def post(client: TestClient, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/consent", json=body, headers={"user-agent": UA, **headers})


def test_every_kind_of_decision_gets_its_receipt(tmp_path: Path) -> None:
    """D1: accept all, reject all, a partial save and a withdrawal, one receipt each, linked
    to the cookie and to each other; no IP address and no user-agent in the store."""
    log = SQLiteConsentLog(tmp_path / "log.db")
    client = TestClient(make_app(log=log))

    post(client, {"action": "accept_all"})
    ids = [receipt_id(client)]
    post(client, {"action": "save", "grant": ["analytics"]})
    ids.append(receipt_id(client))
    post(client, {"action": "reject_all"})
    ids.append(receipt_id(client))
    client.cookies.clear()
    post(client, {"action": "reject_all"})
    ids.append(receipt_id(client))
    post(client, {"action": "save", "grant": ["youtube"]})
    ids.append(receipt_id(client))

    receipts = {r.id: r for r in all_receipts(log)}
    assert len(set(ids)) == 5 and set(receipts) == set(ids)
    chain = [receipts[id] for id in ids]
    assert [r.method for r in chain] == [
        "accept_all",
        "withdrawal",  # analytics kept, marketing taken back
        "withdrawal",
        "reject_all",  # a new visitor (no cookie)
        "save",
    ]
    assert [r.previous_id for r in chain] == [None, ids[0], ids[1], None, ids[3]]
    assert chain[0].categories == {"essential": True, "analytics": True, "marketing": True}
    assert chain[1].categories == {"essential": True, "analytics": True, "marketing": False}
    assert chain[4].categories == {"essential": True, "analytics": False, "marketing": False}
    assert chain[4].services["youtube"] is True
    assert chain[4].refused_services == ["matomo", "google-analytics"]
    assert {r.browser for r in chain} == {"firefox"}
    assert all(r.snapshot == Snapshot.of(POLICY).digest for r in chain)
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"unique-marker" not in raw and b"Firefox/133" not in raw
    assert b"testclient" not in raw and b"127.0.0.1" not in raw


def test_the_receipt_records_the_cookie_time(tmp_path: Path) -> None:
    log = SQLiteConsentLog(tmp_path / "log.db")
    client = TestClient(make_app(log=log))
    post(client, {"action": "accept_all"})
    state = CODEC.decode(client.cookies["consent"])
    [receipt] = all_receipts(log)
    assert receipt.recorded_at == state.issued_at
    assert (receipt.revision, receipt.fingerprint) == (POLICY.revision, POLICY.fingerprint)


def test_form_posts_are_recorded_too(tmp_path: Path) -> None:
    log = SQLiteConsentLog(tmp_path / "log.db")
    client = TestClient(make_app(log=log))
    response = client.post(
        "/consent",
        data={"action": "save", "grant": ["analytics", "matomo"], "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    [receipt] = all_receipts(log)
    assert receipt.method == "save"
    assert receipt.services["matomo"] and not receipt.services["google-analytics"]


def test_a_new_decision_links_to_an_outdated_cookie(tmp_path: Path) -> None:
    """After a policy revision the old cookie no longer counts, but the new receipt still
    names the one it replaces."""
    old = TestClient(make_app())
    post(old, {"action": "accept_all"})
    old_id = receipt_id(old)
    revised = Policy.model_validate({**POLICY_DATA, "revision": 2})
    log = SQLiteConsentLog(tmp_path / "log.db")
    client = TestClient(make_app(revised, log=log))
    client.cookies.set("consent", old.cookies["consent"])
    assert client.get("/").json()["decided"] is False
    post(client, {"action": "reject_all"})
    [receipt] = all_receipts(log)
    assert receipt.previous_id == old_id
    assert receipt.revision == 2
    assert receipt.method == "reject_all"  # the old grant no longer counted


def test_a_grant_is_refused_when_the_log_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No proof, no consent: 503, a clear message, and the previous state stays."""
    log = FlakyLog(tmp_path / "log.db")
    client = TestClient(make_app(log=log))
    post(client, {"action": "reject_all"})
    before = client.cookies["consent"]
    log.broken = True
    with caplog.at_level(logging.ERROR, logger="consent"):
        response = post(client, {"action": "accept_all"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert "previous choice still applies" in response.json()["error"]
    assert "set-cookie" not in response.headers
    assert client.cookies["consent"] == before
    assert client.get("/").json()["granted"] == ["essential"]
    assert "grant was refused" in caplog.text
    # A form post gets the same answer as text.
    form = client.post("/consent", data={"action": "accept_all"}, follow_redirects=False)
    assert form.status_code == 503 and "try again" in form.text
    # A first visit cannot grant either.
    client.cookies.clear()
    assert post(client, {"action": "save", "grant": ["analytics"]}).status_code == 503
    assert "consent" not in client.cookies


def test_a_refusal_goes_through_when_the_log_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Withdrawing is never blocked: the cookie changes and refused cookies are expired."""
    log = FlakyLog(tmp_path / "log.db")
    client = TestClient(make_app(log=log))
    post(client, {"action": "accept_all"})
    log.broken = True
    client.cookies.set("_ga", "GA1.1.1")
    with caplog.at_level(logging.ERROR, logger="consent"):
        response = post(client, {"action": "reject_all"})
    assert response.status_code == 200
    assert response.json()["granted"] == ["essential"]
    assert any(h.startswith('_ga=""; Max-Age=0') for h in response.headers.get_list("set-cookie"))
    assert client.get("/").json()["granted"] == ["essential"]
    assert "refusal took effect without a receipt" in caplog.text
    client.cookies.clear()
    assert post(client, {"action": "reject_all"}).status_code == 200  # first visit


def test_a_partial_withdrawal_keeps_the_previous_proof(tmp_path: Path) -> None:
    """When the log fails during a partial withdrawal, what is left of the grant stays
    linked to the receipt that proves it, and its age is not reset."""
    log = FlakyLog(tmp_path / "log.db")
    client = TestClient(make_app(log=log))
    post(client, {"action": "accept_all"})
    first = CODEC.decode(client.cookies["consent"])
    log.broken = True
    response = post(client, {"action": "save", "grant": ["analytics"]})
    assert response.status_code == 200
    now = CODEC.decode(client.cookies["consent"])
    assert now.granted == {"essential", "analytics"}
    assert (now.receipt_id, now.issued_at) == (first.receipt_id, first.issued_at)
    log.broken = False
    assert [r.id for r in all_receipts(log)] == [first.receipt_id]


def test_any_exception_from_a_custom_log_is_a_failure(tmp_path: Path) -> None:
    """A third-party ConsentLog that raises something unexpected still gives a 503, not
    a 500."""

    class Broken(SQLiteConsentLog):
        async def write(self, receipt: Receipt, snapshot: Snapshot) -> None:
            raise RuntimeError("bug in a custom store")

    client = TestClient(make_app(log=Broken(tmp_path / "x.db")))
    assert post(client, {"action": "accept_all"}).status_code == 503
    assert post(client, {"action": "reject_all"}).status_code == 200


def test_no_log_means_no_receipts_and_no_failure() -> None:
    client = TestClient(make_app())
    assert post(client, {"action": "accept_all"}).status_code == 200


def test_postgres_log_through_the_middleware(postgres_dsn: str) -> None:
    """D1 with the PostgreSQL store: two test clients (two event loops, like two app
    servers) write to one database."""
    log = PostgresConsentLog(postgres_dsn)
    ids = []
    for _ in range(2):
        with TestClient(make_app(log=log)) as client:
            post(client, {"action": "accept_all"})
            post(client, {"action": "reject_all"})
            ids.append(receipt_id(client))
    receipts = all_receipts(PostgresConsentLog(postgres_dsn))
    assert len(receipts) == 4
    assert {r.method for r in receipts} == {"accept_all", "withdrawal"}
    assert set(ids) <= {r.id for r in receipts}


def test_state_json_never_shows_the_receipt_id(tmp_path: Path) -> None:
    """The receipt id links a visitor to their record: scripts on the page (third-party
    ones included) must not read it from /consent/state."""
    client = TestClient(make_app(log=SQLiteConsentLog(tmp_path / "log.db")))
    post(client, {"action": "accept_all"})
    rid = receipt_id(client)
    assert rid is not None
    assert rid not in client.get("/consent/state").text
    assert rid not in post(client, {"action": "accept_all"}).text
