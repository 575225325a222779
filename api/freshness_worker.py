"""The freshness the API reports, kept by a thread of its own: the gauges at ``/metrics``
and, when ``FEATURESTORE_STALE_HEADER=1``, the set of views past their objective that
online answers name in ``x-featurestore-stale``.

A freshness report (``featurestore.monitor.freshness``) reads the registry and Parquet
footers: milliseconds, but I/O, so never on the event loop, and never in the thread
pool the framework shares. The worker keeps the last report for ``max_age`` seconds:

- a scrape asks ``current()``: a report younger than ``max_age`` is answered at once;
  an older one starts a refresh in the worker's thread (one at a time: concurrent scrapes
  share it) and waits for it at most ``wait`` seconds, then answers the last report
  (nothing before the first one). A scrape never waits longer than one refresh;
- with the header on, ``start()`` runs a task that refreshes every ``max_age`` seconds
  and, every ``tick`` seconds in between, moves the report to the current time
  (``freshness.at``: arithmetic, no I/O), so a view that passes its objective is in
  ``stale`` within a tick. An answer only looks its requested views up in that set.

Ages are always those at the time of asking: the report's timestamps moved to now. A
refresh that fails keeps the last report (the error is logged and in ``last_error``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from featurestore.monitor.freshness import at
from featurestore.monitor.model import Freshness

logger = logging.getLogger(__name__)

Compute = Callable[[datetime], list[Freshness]]
MAX_AGE = 30.0  # seconds a report is kept before a scrape refreshes it
WAIT = 5.0  # seconds a scrape waits for a refresh before answering the last report
TICK = 1.0  # seconds between the stale set's updates (no I/O) when the header is on


class FreshnessWorker:
    def __init__(
        self,
        compute: Compute,
        max_age: float = MAX_AGE,
        wait: float = WAIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compute = compute
        self._max_age = max_age
        self._wait = wait
        self._clock = clock
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="freshness")
        self._report: list[Freshness] | None = None
        self._attempted = -math.inf  # clock() at the end of the last refresh
        self._refreshing: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.refreshes = 0
        self.last_error: str | None = None
        self.stale: frozenset[str] = frozenset()  # views past their objective

    async def current(self) -> list[Freshness] | None:
        """The report at the current time, refreshed first when older than ``max_age``
        (waiting at most ``wait`` seconds for it); ``None`` before the first one."""
        if self._due():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._refresh()), self._wait)
        return self._moved()

    def _due(self) -> bool:
        return self._clock() - self._attempted >= self._max_age

    def _moved(self) -> list[Freshness] | None:
        report = self._report
        if report is None:
            return None
        now = datetime.now(UTC)
        return [at(item, now) for item in report]

    def _refresh(self) -> asyncio.Future[None]:
        """The refresh under way, or a new one in the worker's thread."""
        if self._refreshing is None or self._refreshing.done():
            loop = asyncio.get_running_loop()
            self._refreshing = loop.run_in_executor(self._thread, self._run)
        return self._refreshing

    def _run(self) -> None:
        try:
            report = self._compute(datetime.now(UTC))
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning("freshness refresh failed, keeping the last report: %s", exc)
            return
        finally:
            self._attempted = self._clock()  # a failed one is tried again after max_age
        self._report = report
        self.refreshes += 1
        self.last_error = None
        self.stale = frozenset(item.view for item in report if item.stale)

    def start(self, tick: float = TICK) -> None:
        """Keep ``stale`` current from now on (needs a running loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(tick))

    async def _loop(self, tick: float) -> None:
        while True:
            if self._due():
                await self._refresh()
            else:
                moved = self._moved() or []
                self.stale = frozenset(item.view for item in moved if item.stale)
            await asyncio.sleep(tick)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
