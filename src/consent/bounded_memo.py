"""Bounded memos: plain dicts that remember answers worth reusing across requests."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(memo: dict[K, V], key: K, value: V, size: int = 4096) -> V:
    """Store `value` under `key` and return it; a memo holding `size` entries is emptied
    first. Forgetting all at once keeps the memo a plain dict, whose get, set and clear are
    each atomic, so threads can share it without a lock; callers bound their keys' length."""
    if len(memo) >= size:
        memo.clear()
    memo[key] = value
    return value
