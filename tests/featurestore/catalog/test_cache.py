"""The cached catalog: built again only when the registry, a job or a table changes, each
table scanned once per version, and always the answer an uncached build gives."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from featurestore.catalog import CatalogCache, load_catalog
from featurestore.catalog.stats import TableStats, scan_table
from featurestore.project import Project
from featurestore.store import open_store
from ingestion import run_jobs
from ingestion.storage import current_version
from tests.flights_sample import applied_sample_project

pytestmark = pytest.mark.redis
TABLES = ("carrier_daily", "plane_daily", "weather_hourly")


class CountingScan:
    """The real scan, recording which table each call read (its version folder)."""

    def __init__(self) -> None:
        self.tables: list[str] = []

    def __call__(self, table: str, timestamp_field: str) -> TableStats:
        self.tables.append(Path(table).parent.name)  # .versions/<table>/<version>
        return scan_table(table, timestamp_field)


@pytest.fixture
def project(tmp_path: Path, clean_redis_url: str) -> Project:
    return applied_sample_project(tmp_path / "flights", clean_redis_url)


def test_each_table_version_is_scanned_once(project: Project) -> None:
    store = open_store(project)
    scan = CountingScan()
    cache = CatalogCache(store, project, scan)
    registry = object()

    first = cache.get(registry)
    assert first == load_catalog(store, project)
    assert sorted(scan.tables) == sorted(TABLES)
    assert cache.get(registry) is first
    refreshed = cache.get(object())  # a registry refresh: built again, nothing re-scanned
    assert refreshed is not first and refreshed == first
    assert sorted(scan.tables) == sorted(TABLES)

    versions = {t: current_version(project.data_dir, t) for t in TABLES}
    run_jobs(project, ["carrier_daily"], start=datetime(2013, 1, 10, tzinfo=UTC),
             end=datetime(2013, 2, 1, tzinfo=UTC))  # fmt: skip
    committed = {t for t in TABLES if current_version(project.data_dir, t) != versions[t]}
    assert "carrier_daily" in committed
    after = cache.get(registry)
    assert after == load_catalog(store, project)
    rows = after.views["carrier_daily"].freshness.rows
    assert rows is not None and rows > (first.views["carrier_daily"].freshness.rows or 0)
    assert sorted(scan.tables) == sorted([*TABLES, *committed])
    assert cache.get(registry) is after


def test_a_job_edit_shows_up_without_a_scan(project: Project) -> None:
    store = open_store(project)
    scan = CountingScan()
    cache = CatalogCache(store, project, scan)
    registry = object()
    assert cache.get(registry).views["carrier_daily"].job is not None
    job = project.jobs_dir / "carrier_daily.sql"
    job.write_text(job.read_text().replace("-- description: Rolling", "-- description: Edited"))
    view = cache.get(registry).views["carrier_daily"]
    assert view.job is not None and view.job.description.startswith("Edited 7-day")
    assert len(scan.tables) == len(TABLES)
