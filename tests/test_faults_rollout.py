"""Rolling deployments under traffic: a key rotation and a policy revision change, with
real uvicorn servers on loopback and concurrent visitors moving between them.

Each server generation is the load site (`benchmarks/load_app.py`) started with other keys
(`CONSENT_KEYS`) or another revision (`CONSENT_REVISION`). While visitors decide, browse and
withdraw, the set of servers answering them changes step by step, as a load balancer sees
a rolling deployment; a step ends after a set number of page views and decisions, so a
busy machine makes the run slower, never shorter. Every page is checked against the
visitor's last decision.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.load import ACTIVE, DECISIONS, INERT
from benchmarks.load_app import POLICY
from consent.signing import ConsentCodec
from tests.conftest import run_async
from tests.servers import uvicorn_processes

OLD = "rollout-old-key-0123456789abcdefghijklmnop"
NEW = "rollout-new-key-9876543210zyxwvutsrqponmlk"
APP = "benchmarks.load_app:with_consent"
VISITORS = 12
# A deployment step ends once it has served this much traffic (counted, not timed, so that
# a busy machine gives a slower run, not a different one).
PAGES_PER_STEP = 40
DECISIONS_PER_STEP = 10
HANG_GUARD = 180.0  # seconds: only so that a hung server fails the test instead of hanging


@dataclass
class Server:
    url: str
    revision: int = 1


@dataclass
class Tally:
    pages: int = 0
    decisions: int = 0
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cookies: list[tuple[int, str]] = field(default_factory=list)  # (step, consent cookie)
    per_step: list[tuple[int, int]] = field(default_factory=list)  # (pages, decisions)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    """Start server generations, all at once: `start((keys, revision), ...) -> [Server]`."""
    with ExitStack() as stack:
        count = iter(range(100))

        def launch(*generations: tuple[list[str], int]) -> list[Server]:
            apps = [
                (
                    APP,
                    {
                        "CONSENT_LOAD_DB": str(tmp_path / f"receipts-{next(count)}.db"),
                        "CONSENT_KEYS": ",".join(keys),
                        "CONSENT_REVISION": str(revision),
                    },
                )
                for keys, revision in generations
            ]
            running = stack.enter_context(uvicorn_processes(apps))
            return [Server(r.url, rev) for r, (_, rev) in zip(running, generations, strict=True)]

        yield launch


class Rollout:
    """Which servers answer now: the next step begins once the current one has served
    PAGES_PER_STEP page views and DECISIONS_PER_STEP decisions; `over` is set when the
    last step has."""

    def __init__(self, steps: list[list[Server]], tally: Tally) -> None:
        self.steps, self.tally = steps, tally
        self.step = 0
        self.pages = self.decisions = 0
        self.over = asyncio.Event()

    def served(self, *, page: bool) -> None:
        if self.over.is_set():  # answers to requests still in flight at the end
            return
        if page:
            self.pages += 1
        else:
            self.decisions += 1
        if self.pages >= PAGES_PER_STEP and self.decisions >= DECISIONS_PER_STEP:
            self.tally.per_step.append((self.pages, self.decisions))
            if self.step == len(self.steps) - 1:
                self.over.set()
            else:
                self.step += 1
                self.pages = self.decisions = 0


async def traffic(steps: list[list[Server]], tally: Tally) -> None:
    """Visitors loop through first visits, decisions, page views and withdrawals, each
    request going to a random server of the current step, until every step is done."""
    rollout = Rollout(steps, tally)

    async def visitor(seed: int) -> None:
        rng = random.Random(seed)
        async with httpx.AsyncClient(timeout=30) as client:
            allowed, decided_under = False, 0

            def server() -> Server:
                return rng.choice(steps[rollout.step])

            async def view() -> None:
                at, where = rollout.step, server()
                response = await client.get(f"{where.url}/articles/{rng.randrange(9)}")
                tally.pages += 1
                rollout.served(page=True)
                if response.status_code != 200:
                    tally.errors.append(f"GET {where.url}: {response.status_code}")
                    return
                # A grant counts only on a server of the revision it was given under.
                active = allowed and decided_under == where.revision
                if (ACTIVE if active else INERT) not in response.text:
                    tally.wrong.append(f"step {at}: {where} expected active={active}")

            async def decide(body: dict[str, Any], grants: bool) -> None:
                nonlocal allowed, decided_under
                at, where = rollout.step, server()
                response = await client.post(f"{where.url}/consent", json=body)
                tally.decisions += 1
                rollout.served(page=False)
                if response.status_code != 200:
                    tally.errors.append(f"POST {where.url}: {response.status_code}")
                    return
                allowed, decided_under = grants, where.revision
                tally.cookies.append((at, client.cookies["consent"]))

            while not rollout.over.is_set():
                client.cookies.clear()
                allowed = False
                await view()
                await decide(*rng.choice(DECISIONS))
                for _ in range(3):
                    await view()
                if rng.random() < 0.3:
                    await decide({"action": "reject_all"}, False)
                    await view()

    visitors = asyncio.gather(*(visitor(seed) for seed in range(VISITORS)))
    await asyncio.wait_for(visitors, HANG_GUARD)


def report(name: str, tally: Tally) -> None:
    """The figures docs/reliability.md quotes (shown with `pytest -s`)."""
    print(
        f"\n{name}: {len(tally.per_step)} steps, {tally.pages} page views, "
        f"{tally.decisions} decisions, {len(tally.errors)} errors, "
        f"{len(tally.wrong)} wrong states"
    )


def test_key_rotation_under_traffic_loses_no_choice(start: Any) -> None:
    """The documented three-step rotation, rolled out server by server while visitors
    keep deciding and browsing: nobody's choice is lost or changed at any step, new
    cookies are signed with the new key once the switch is done, and removing the old key
    afterwards re-asks exactly the visitors whose cookies it signed."""
    # Steps 1 (introduce NEW) and 2 (switch to it), then step 3 (remove OLD) for the end.
    a, b, c, d = start(([OLD], 1), ([OLD, NEW], 1), ([NEW, OLD], 1), ([NEW], 1))
    steps = [[a], [a, b], [b], [b, c], [c]]
    tally = Tally()
    run_async(traffic(steps, tally))
    report("key rotation", tally)
    assert not tally.errors, tally.errors[:5]
    assert not tally.wrong, tally.wrong[:5]
    assert len(tally.per_step) == len(steps)  # every step served its share of traffic

    old_only, new_only = ConsentCodec(POLICY, OLD), ConsentCodec(POLICY, NEW)
    first = [cookie for s, cookie in tally.cookies if s == 0]
    last = [cookie for s, cookie in tally.cookies if s == len(steps) - 1]
    assert first and last
    assert all(old_only.decode(c).decided and not new_only.decode(c).decided for c in first)
    assert all(new_only.decode(c).decided and not old_only.decode(c).decided for c in last)

    # Step 3, remove the old key: cookies it signed count as no choice, new ones still work.
    with httpx.Client() as client:
        for cookie, decided in ((first[-1], False), (last[-1], True)):
            client.cookies.set("consent", cookie)
            assert client.get(f"{d.url}/consent/state").json()["decided"] is decided


def test_a_revision_change_under_traffic_leaves_no_stale_grant(start: Any) -> None:
    """Revision 2 rolled out while visitors decide: no server of revision 2 honours a
    grant given under revision 1 (everyone is asked again), and during the mixed step
    a revision-1 server does not honour a revision-2 grant either."""
    servers = start(([OLD], 1), ([OLD], 1), ([OLD], 2), ([OLD], 2))
    one, two = servers[:2], servers[2:]
    steps = [one, [one[0], two[0]], two]
    tally = Tally()
    run_async(traffic(steps, tally))
    report("revision change", tally)
    assert not tally.errors, tally.errors[:5]
    assert not tally.wrong, tally.wrong[:5]
    assert len(tally.per_step) == len(steps)

    # Every cookie from step 0 is outdated on revision 2: the visitor is asked again.
    stale = [cookie for s, cookie in tally.cookies if s == 0]
    assert stale
    with httpx.Client() as client:
        for cookie in stale[:20]:
            client.cookies.set("consent", cookie)
            state = client.get(f"{two[1].url}/consent/state").json()
            assert state["decided"] is False and state["revision"] == 2
            assert INERT in client.get(f"{two[1].url}/").text
