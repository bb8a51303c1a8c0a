"""`Gatekeeper`: what a site's gates share, built once per middleware.

A site declares the hosts of its services once and serves the same tags on every page: the
gatekeeper holds the lookup from URL to service (with its memo of URLs) and the memo of the
start tags its gates read (`TagMemo`), and opens one `HTMLGate` per response with the
visitor's consent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from consent.gating.gate import HTMLGate
from consent.gating.hosts import HostLookup, host_matcher
from consent.gating.tag_memo import TagMemo

__all__ = ["Gatekeeper"]


class Gatekeeper:
    """The gates of one site: its declared hosts and what its gates learnt of its tags.

    Args:
        hosts: each declared host (or `*.domain`) and the id of the service it belongs to,
            as the policy's services declare them; empty: no auto-blocking.
    """

    __slots__ = ("hosts", "tags")

    def __init__(self, hosts: Mapping[str, str]) -> None:
        self.hosts: HostLookup | None = host_matcher(hosts) if hosts else None
        """The service a URL's host belongs to (None: no host is declared)."""
        self.tags = TagMemo()
        """The start tags the site's gates read, shared by all of them."""

    def open(
        self, allows: Callable[[str], bool], *, encoding: str | None = "utf-8", xml: bool = False
    ) -> HTMLGate:
        """A gate for one response: `allows` says whether a category or service id is
        allowed for this visitor; `encoding` and `xml` as for `HTMLGate`."""
        return HTMLGate(allows, self.hosts, encoding=encoding, xml=xml, memo=self.tags)
