"""The catalog the routes answer from, asked in a thread of its own.

``featurestore.catalog.CatalogCache`` keeps the last catalog while the registry, the
jobs and the tables' versions are unchanged, and scans a table once per version; its
checks touch the file system and a new version's scan takes a while (0.1 to 1 s on the
flights demo). So it is asked from one dedicated thread: never on the event loop, which
answers the lookups, and never in the thread pool the framework shares. With one
thread, concurrent requests queue behind a single build instead of each running its
own, and a request that gives up does not stop the build it started: its result is
cached for the next.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from featurestore.catalog import Catalog, CatalogCache


class CatalogWorker:
    def __init__(self, cache: CatalogCache) -> None:
        self._cache = cache
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog")

    async def get(self, registry_version: object) -> Catalog:
        """The catalog as of ``registry_version`` (see ``CatalogCache.get``)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._cache.get, registry_version)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
