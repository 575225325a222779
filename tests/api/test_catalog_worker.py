"""The catalog's own thread: requests wait for one build, and the event loop never does."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from api.catalog_worker import CatalogWorker
from featurestore.catalog import Catalog, CatalogCache
from featurestore.catalog.stats import TableStats, scan_table
from featurestore.store import open_store
from tests.flights_sample import applied_sample_project

pytestmark = pytest.mark.redis


def test_concurrent_requests_share_one_build_off_the_loop(
    tmp_path: Path, clean_redis_url: str
) -> None:
    project = applied_sample_project(tmp_path / "flights", clean_redis_url)
    release = threading.Event()
    scanned: list[str] = []

    def slow_scan(table: str, timestamp_field: str) -> TableStats:
        scanned.append(table)
        release.wait(30)
        return scan_table(table, timestamp_field)

    worker = CatalogWorker(CatalogCache(open_store(project), project, slow_scan))
    registry = object()

    async def main() -> list[Catalog]:
        requests = [asyncio.create_task(worker.get(registry)) for _ in range(4)]
        started = time.monotonic()
        for _ in range(20):  # the loop keeps running while the build waits on its scan
            await asyncio.sleep(0.01)
        assert time.monotonic() - started < 5
        assert not any(request.done() for request in requests)
        release.set()
        return await asyncio.wait_for(asyncio.gather(*requests), 60)

    try:
        catalogs = asyncio.run(main())
    finally:
        release.set()
        worker.close()
    assert all(catalog is catalogs[0] for catalog in catalogs)
    assert len(catalogs[0].views) == 4
    # One scan per table, shared by the four requests; departure_status has no table
    # until pushed rows are compacted, so there is nothing of it to scan.
    assert sorted(Path(table).parent.name for table in scanned) == [
        "carrier_daily", "plane_daily", "weather_hourly",
    ]  # fmt: skip
