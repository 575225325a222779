"""The threads that run Feast's blocking writes (``/push``, ``/write-to-online-store``).

Writes go through vanilla Feast, which blocks, so they need threads; not starlette's
shared pool (anyio's, 40 threads), which the catalog routes and every other sync route
need too: with Redis frozen, 40 hung writes would starve them all. Writes get threads of
their own, ``FEATURESTORE_WRITE_THREADS`` of them, and no queue: a write that finds every
thread busy is refused at once with 503 ``online_store_unavailable``, rather than waiting
behind writes that are themselves waiting on Redis. Each write holds its thread for at
most about ``FEATURESTORE_REDIS_TIMEOUT`` per Redis call, so the pool drains by itself.

A thread counts as busy until its write returns, even when the client has gone away.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from featurestore.errors import OnlineStoreUnavailableError

P = ParamSpec("P")
T = TypeVar("T")


class WritePool:
    """At most ``threads`` writes at a time, each in a thread of this pool."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._free = threading.BoundedSemaphore(threads)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="api-write")

    async def run(self, write: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``write(*args, **kwargs)`` in a free thread; 503 when none is free."""
        if not self._free.acquire(blocking=False):
            raise OnlineStoreUnavailableError(
                f"all {self.threads} write threads are busy (FEATURESTORE_WRITE_THREADS)"
            )
        try:
            future = self._executor.submit(write, *args, **kwargs)
        except BaseException:
            self._free.release()
            raise
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _: Future[T]) -> None:
        self._free.release()

    def close(self) -> None:
        """Stop taking writes; running ones end on their own (bounded by the timeout)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
