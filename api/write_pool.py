"""The threads that run Feast's blocking writes (``/push``, ``/write-to-online-store``).

Writes go through vanilla Feast, which blocks, so they need threads; not starlette's
shared pool (anyio's, 40 threads), which the catalog routes and every other sync route
need too: with Redis frozen, 40 hung writes would starve them all. Writes get threads of
their own, ``FEATURESTORE_WRITE_THREADS`` of them. A write that finds every thread busy
waits for one at most ``wait`` seconds (half the Redis timeout: a burst, or a moment when
Feast reloads its registry, is absorbed), then is refused with 503 ``server_busy``
rather than queued behind writes that are themselves waiting on a frozen Redis. Each
write holds its thread for at most about ``FEATURESTORE_REDIS_TIMEOUT`` per Redis call,
so the pool drains by itself.

A thread counts as busy until its write returns, even when the client has gone away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from featurestore.errors import ServerBusyError

P = ParamSpec("P")
T = TypeVar("T")


class WritePool:
    """At most ``threads`` writes at a time, each in a thread of this pool; a write waits
    at most ``wait`` seconds for a thread."""

    def __init__(self, threads: int, wait: float = 0.0) -> None:
        self.threads = threads
        self.wait = wait
        self._free: asyncio.Semaphore | None = None  # made on the event loop that uses it
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="api-write")

    async def run(self, write: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``write(*args, **kwargs)`` in a free thread; 503 when none frees up in time."""
        if self._free is None:
            self._free = asyncio.Semaphore(self.threads)
        free = self._free
        if free.locked():
            try:
                async with asyncio.timeout(self.wait):
                    await free.acquire()
            except TimeoutError:
                raise ServerBusyError(
                    f"all {self.threads} write threads stayed busy for {self.wait:g} s "
                    "(FEATURESTORE_WRITE_THREADS)"
                ) from None
        else:
            await free.acquire()
        loop = asyncio.get_running_loop()
        try:
            future = self._executor.submit(write, *args, **kwargs)
        except BaseException:
            free.release()
            raise

        def release(_: Future[T]) -> None:  # in the write's thread, when it returns
            loop.call_soon_threadsafe(free.release)

        future.add_done_callback(release)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stop taking writes; running ones end on their own (bounded by the timeout)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
