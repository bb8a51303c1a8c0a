"""What a scan records: plain data, filled in by the crawler, read by the findings and the
output formats. Nothing here needs a browser."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

__all__ = [
    "PHASES",
    "PHASE_TITLES",
    "Inventory",
    "Phase",
    "ScanResult",
    "SeenCookie",
    "SeenRequest",
    "SeenScript",
    "SeenStorage",
    "SetBy",
    "host_of",
]

Phase = Literal["before", "reject", "accept"]
PHASES: tuple[Phase, ...] = ("before", "reject", "accept")
PHASE_TITLES: dict[Phase, str] = {
    "before": "Before any choice",
    "reject": 'After "Reject all"',
    "accept": 'After "Accept all"',
}
SetBy = Literal["http", "javascript", "unknown"]


def host_of(url: str) -> str:
    """The lower-case host name of `url` (no port), or '' when it has none."""
    return (urlsplit(url).hostname or "").lower()


@dataclass(frozen=True)
class SeenCookie:
    """One cookie in the browser's jar.

    `set_by` says how it got there: `http` (a Set-Cookie header of the response `source`),
    `javascript` (`document.cookie` or `cookieStore` from the script `source`), or `unknown`.
    `expires` is a Unix time, None for a session cookie. `survived` (after a choice only):
    the same cookie, with the same value, was already there before the click.
    """

    name: str
    domain: str
    path: str
    expires: float | None
    http_only: bool
    secure: bool
    same_site: str
    set_by: SetBy
    source: str
    page: str
    survived: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.name, self.domain, self.path)


@dataclass(frozen=True)
class SeenStorage:
    """One key of `localStorage` or `sessionStorage` of one origin."""

    area: Literal["localStorage", "sessionStorage"]
    origin: str
    key: str
    page: str
    survived: bool = False


@dataclass(frozen=True)
class SeenRequest:
    """A request to a host other than the scanned site's, and the page that made it.

    `count` is how many requests went to the same URL during the phase.
    """

    url: str
    resource_type: str
    page: str
    count: int = 1

    @property
    def host(self) -> str:
        return host_of(self.url)


@dataclass(frozen=True)
class SeenScript:
    """A script that ran: an external one (`url`) or an inline one (`sha256`, `snippet`)."""

    page: str
    url: str | None = None
    sha256: str | None = None
    snippet: str = ""


@dataclass
class Inventory:
    """Everything one phase saw. `control` is how the reject or accept control was found
    (None before any choice, '' when it was not found, so the phase could not run)."""

    phase: Phase
    pages: list[str] = field(default_factory=list)
    cookies: list[SeenCookie] = field(default_factory=list)
    storage: list[SeenStorage] = field(default_factory=list)
    requests: list[SeenRequest] = field(default_factory=list)
    scripts: list[SeenScript] = field(default_factory=list)
    control: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ran(self) -> bool:
        """False when the choice could not be made (its control was not found)."""
        return self.control != ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for request, seen in zip(data["requests"], self.requests, strict=True):
            request["host"] = seen.host
        return data


@dataclass
class ScanResult:
    """A whole scan: where, when, with what, and the three inventories."""

    url: str
    started: datetime
    seconds: float
    browser: str
    policy: str | None
    phases: dict[Phase, Inventory]

    @property
    def site_host(self) -> str:
        return host_of(self.url)

    @property
    def started_text(self) -> str:
        """When the scan started, in UTC, for people."""
        return self.started.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
