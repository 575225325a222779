"""The API's background push work: compacting the push logs, consuming streams.

Every ``FEATURESTORE_PUSH_COMPACT_SECONDS`` (default 30; 0 turns it off), in a thread of
its own: seal this process's active log segments, then fold every declared push
source's sealed segments into its table. A table another run holds (a job, a
``featurestore push compact``) is left for the next round. On shutdown the segments are
sealed, so the next compaction, by anyone, takes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from featurestore.project import Project
from featurestore.push.compact import compact
from featurestore.push.service import PushService
from featurestore.push.spec import read_pushes
from featurestore.push.stream import StreamConsumer, parse_streams
from featurestore.push.wal import sealed_segments
from featurestore.redis_client import OnlineClient

logger = logging.getLogger(__name__)


def compact_all(project: Project, service: PushService | None = None) -> int:
    """One round: seal ``service``'s segments, compact every table with sealed ones;
    the rows added."""
    if service is not None:
        for log in service.logs():
            log.seal()
    added = 0
    for spec in read_pushes(project.jobs_dir).values():
        if not sealed_segments(project.layout.push_log(spec.name)):
            continue
        result = compact(project, spec)
        if result.skipped:
            logger.info("push compaction of %s skipped: %s", spec.name, result.skipped)
        added += result.written
    return added


class StreamWorkers:
    """One consumer thread per ``FEATURESTORE_PUSH_STREAMS`` entry (``stream=source``)."""

    def __init__(self, service: PushService, client: OnlineClient, streams: str) -> None:
        self.consumers = [
            StreamConsumer(service, client, stream, source)
            for stream, source in parse_streams(streams)
        ]
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for consumer in self.consumers:
            thread = threading.Thread(
                target=consumer.run, name=f"stream-{consumer.stream}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    async def stop(self) -> None:
        for consumer in self.consumers:
            consumer.stop()
        for thread in self._threads:
            await asyncio.to_thread(thread.join, 5.0)


class CompactionWorker:
    def __init__(self, project: Project, service: PushService, interval: float) -> None:
        self.project = project
        self.service = service
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await asyncio.to_thread(compact_all, self.project, self.service)
            except Exception:
                logger.exception("push compaction failed; the log is kept for the next round")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self.service.close)
