"""The bounded memo the middleware, the gate and the consent log share."""

from __future__ import annotations

from consent.bounded_memo import remember


def test_a_memo_keeps_what_it_is_given_and_forgets_all_when_full() -> None:
    memo: dict[int, str] = {}
    assert remember(memo, 1, "one", size=3) == "one"
    remember(memo, 2, "two", size=3)
    remember(memo, 3, "three", size=3)
    assert memo == {1: "one", 2: "two", 3: "three"}
    remember(memo, 4, "four", size=3)  # full: forgotten at once, then kept
    assert memo == {4: "four"}
    for number in range(10_000):
        remember(memo, number, str(number))
    assert len(memo) <= 4096
