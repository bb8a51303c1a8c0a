"""`Link` headers that fetch from a refused host (consent._links).

Checklist items: A1, A2 (nothing optional loads before consent, headers included).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consent._links import gate_links


def refuses_tracker(url: str) -> bool:
    return "tracker" in url


pieces = st.sampled_from(
    [
        b"<https://tracker.example/x>",
        b"</own.css>",
        b"; rel=preload",
        b'; rel="preconnect"',
        b"; rel=canonical",
        b", ",
        b'"',
        b"; as=script",
        b"<",
        b">",
        b";",
        b" ",
        b"\\",
    ]
)


@given(st.lists(pieces | st.binary(max_size=6), max_size=14))
def test_gate_links_never_keeps_a_fetch_from_a_refused_url(parts: list[bytes]) -> None:
    value = b"".join(parts)
    gated = gate_links(value, refuses_tracker)
    if gated is None:
        return
    # Nothing is left to drop in what it kept (an entry that fetches from a refused URL
    # is gone), and it only ever drops.
    assert len(gated) <= len(value)
    assert gate_links(gated, refuses_tracker) == gated


def test_gate_links_keeps_what_it_cannot_read_only_when_no_refused_url_is_in_it() -> None:
    assert gate_links(b"junk </own.css>; rel=preload", refuses_tracker) == (
        b"junk </own.css>; rel=preload"
    )
    assert gate_links(b"junk <https://tracker.example/>; rel=preload", refuses_tracker) is None


def test_gate_links_reads_a_long_header_once() -> None:
    """Linear: a header of thousands of entries is read in one pass."""
    value = b", ".join([b"</a.css>; rel=preload; as=style"] * 5_000)
    assert gate_links(value, refuses_tracker) is value
    value += b", <https://tracker.example/x>; rel=prefetch"
    gated = gate_links(value, refuses_tracker)
    assert gated is not None and b"tracker" not in gated and gated.count(b"</a.css>") == 5_000
