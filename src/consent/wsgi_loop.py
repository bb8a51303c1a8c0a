"""The one event loop a WSGI middleware runs its coroutines on, in a thread of its own.

The consent routes and the Global Privacy Control withdrawal await the consent log, which
is asynchronous (the SQLite log answers through its own thread, the PostgreSQL pool is
bound to the loop it was first used on), so every such coroutine of a middleware runs on
one long-lived loop: never a new loop per request (a pool bound to a closed loop fails),
never the WSGI server's threads' own. The loop starts on first use, so under a pre-forking
server (gunicorn) it starts in each worker after the fork; a process that finds the loop of
its parent (forked after first use) starts its own.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread, started on first use (`run`)."""

    __slots__ = ("_lock", "_loop", "_pid", "_thread")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0

    def __repr__(self) -> str:
        running = self._loop is not None and self._pid == os.getpid()
        return f"<LoopThread {'running' if running else 'not started'}>"

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and wait for its result (or its exception)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._running()).result()

    def _running(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._pid == os.getpid():
            return loop
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                # (After a fork the parent's thread does not exist here: start another.)
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="consent-wsgi-loop", daemon=True
                )
                thread.start()
                self._loop, self._thread, self._pid = loop, thread, os.getpid()
            return self._loop

    def close(self) -> None:
        """Stop the loop and its thread (a later `run` starts them again)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None and self._pid == os.getpid():
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
