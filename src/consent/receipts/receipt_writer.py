"""The one way receipts are written: every path that records a decision (the consent
route, a Global Privacy Control withdrawal) goes through a ReceiptWriter, with one policy
for how long a store may take."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import anyio

from consent.receipts.browsers import BrowserFamilies
from consent.receipts.consent_log import LogUnavailable
from consent.receipts.receipt import ChoicesMemo, Method, Receipt, Source
from consent.receipts.snapshot import Snapshot
from consent.state import ConsentState

if TYPE_CHECKING:
    from consent.receipts.consent_log import ConsentLog

__all__ = ["ReceiptWriter", "bounds_itself"]


def bounds_itself(log: object) -> bool:
    """Whether `log` declares that its own `write` gives up in bounded time.

    A store declares it with the class attribute `bounds_itself = True`. The claim is
    about one `write`: it counts only when the class that says it is the class that
    defines `write`, or a subclass of it. A subclass that overrides `write` (to add a
    network call, a retry, a wait) without saying `bounds_itself = True` again does not
    inherit the claim, and gets the writer's timeout like any other store. An attribute
    set on an instance is not a declaration and is ignored.
    """
    said = wrote = None
    for depth, cls in enumerate(type(log).__mro__):
        if said is None and "bounds_itself" in vars(cls):
            said = depth
        if wrote is None and "write" in vars(cls):
            wrote = depth
    if said is None or wrote is None or said > wrote:
        return False
    return vars(type(log).__mro__[said])["bounds_itself"] is True


class ReceiptWriter:
    """Writes receipts to a ConsentLog under one timeout policy.

    A store that bounds itself (see `bounds_itself`) is awaited as it is: it answers within
    its own `timeout`, and work it has not started by then is dropped, so a decision
    refused for being slow leaves no receipt behind. Any other store is given `timeout`
    seconds, then cancelled: a store that hangs (a lost connection, an event never set)
    must not hold the visitor's request, or a withdrawal, forever.

    Args:
        log: where receipts go.
        snapshot: what visitors are shown; stored with the first receipt that names it.
        timeout: seconds a store that does not bound itself may take.
    """

    __slots__ = ("_browsers", "_choices", "bounded", "log", "snapshot", "timeout")

    def __init__(self, log: ConsentLog, snapshot: Snapshot, timeout: float) -> None:
        self.log = log
        self.snapshot = snapshot
        self.timeout = timeout
        self.bounded = bounds_itself(log)
        self._browsers = BrowserFamilies()
        self._choices: ChoicesMemo = {}

    def receipt(
        self,
        state: ConsentState,
        *,
        method: Method,
        user_agent: str | None,
        previous_id: str | None = None,
        source: Source = "visitor",
        recorded_at: datetime | None = None,
    ) -> Receipt:
        """The receipt of decided `state`, against this writer's snapshot: the visitor's
        browser family (never the user-agent itself), the state's language and GPC signal."""
        return Receipt.of(
            state,
            method=method,
            snapshot=self.snapshot,
            previous_id=previous_id,
            browser=self._browsers(user_agent),
            language=state.language,
            gpc=state.gpc,
            source=source,
            recorded_at=recorded_at,
            memo=self._choices,
        )

    def __repr__(self) -> str:
        limit = "its own timeout" if self.bounded else f"{self.timeout:g} s"
        return f"<ReceiptWriter {self.log!r}, {limit}>"

    async def write(self, receipt: Receipt) -> None:
        """Store `receipt`; returns only once it is stored.

        Raises:
            LogUnavailable: it was not stored, whatever the store raised, or the store
                did not answer in time.
        """
        try:
            if self.bounded:
                await self.log.write(receipt, self.snapshot)
                return
            with anyio.fail_after(self.timeout):
                await self.log.write(receipt, self.snapshot)
        except LogUnavailable:
            raise
        except TimeoutError:
            raise LogUnavailable(f"no answer within log_timeout={self.timeout:g} s") from None
        except Exception as exc:  # any store failure, whatever the store raised
            raise LogUnavailable(f"{type(exc).__name__}: {exc}") from exc
