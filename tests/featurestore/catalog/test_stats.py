"""Table statistics are scanned once per table version, and a new version is scanned anew.

Versioned tables are written through the job runner's storage API (``ingestion.storage``:
a staging folder committed by renaming the table's link); the scan is the real DuckDB
one, wrapped to count its calls.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from featurestore import sql
from featurestore.catalog.stats import (
    UNKNOWN,
    TableStats,
    TableStatsCache,
    read_stats,
    scan_table,
    table_version,
)
from featurestore.layout import DataLayout
from ingestion.storage import commit, current_version, new_staging


class CountingScan:
    def __init__(self) -> None:
        self.scanned: list[str] = []

    def __call__(self, table: str, timestamp_field: str) -> TableStats:
        self.scanned.append(table)
        return scan_table(table, timestamp_field)


def _write(path: Path, days: int) -> None:
    """``days`` rows, one a day from 2013-01-01, as one Parquet file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sql.connect()
    try:
        con.execute(
            "COPY (SELECT TIMESTAMPTZ '2013-01-01 00:00:00+00' + to_days(CAST(i AS INTEGER)) AS ts,"
            f" i AS value FROM range({days}) t(i)) TO {sql.path_literal(path)} (FORMAT parquet)"
        )
    finally:
        con.close()


def _commit_version(data_dir: Path, table: str, run_id: str, days: int) -> Path:
    staging = new_staging(data_dir, table, run_id)
    _write(staging / "partition_date=20130101" / "part-0.parquet", days)
    return commit(data_dir, table, staging, run_id)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_a_version_is_scanned_once_and_a_new_one_anew(data_dir: Path) -> None:
    table = str(DataLayout(data_dir).table("daily"))
    scan = CountingScan()
    cache = TableStatsCache(scan)
    first = _commit_version(data_dir, "daily", "20260101T000000000001Z", days=3)

    version, stats = cache.get(table, "ts")
    assert stats.rows == 3 and stats.latest_event is not None
    assert stats.latest_event.isoformat().startswith("2013-01-03")
    assert cache.get(table, "ts") == (version, stats)
    assert cache.get(table, "ts") == (version, stats)
    assert scan.scanned == [str(first)]  # the version folder itself, not the link

    second = _commit_version(data_dir, "daily", "20260101T000000000002Z", days=5)
    new_version, new_stats = cache.get(table, "ts")
    assert new_version != version and new_stats.rows == 5
    assert cache.get(table, "ts")[1].rows == 5
    assert scan.scanned == [str(first), str(second)]
    assert current_version(data_dir, "daily") == second


def test_a_version_is_the_link_target(data_dir: Path) -> None:
    table = DataLayout(data_dir).table("daily")
    version = _commit_version(data_dir, "daily", "20260101T000000000001Z", days=2)
    assert table_version(str(table)) == ("version", str(version))
    assert read_stats(str(table), "ts") == TableStats(
        latest_event=scan_table(str(version), "ts").latest_event, rows=2
    )


def test_an_unversioned_file_is_scanned_again_only_when_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "plain.parquet"
    _write(path, 4)
    scan = CountingScan()
    cache = TableStatsCache(scan)
    assert cache.get(str(path), "ts")[1].rows == 4
    assert cache.get(str(path), "ts")[1].rows == 4
    assert len(scan.scanned) == 1
    replacement = tmp_path / "replacement.parquet"
    _write(replacement, 6)
    os.replace(replacement, path)
    assert cache.get(str(path), "ts")[1].rows == 6
    assert len(scan.scanned) == 2


def test_an_unversioned_folder_or_glob_changes_with_any_file(tmp_path: Path) -> None:
    folder = tmp_path / "hive"
    _write(folder / "partition_date=20130101" / "part-0.parquet", 2)
    glob = str(folder / "*" / "*.parquet")
    before = (table_version(str(folder)), table_version(glob))
    assert read_stats(str(folder), "ts").rows == read_stats(glob, "ts").rows == 2
    _write(folder / "partition_date=20130102" / "part-0.parquet", 1)
    assert table_version(str(folder)) != before[0] and table_version(glob) != before[1]
    assert read_stats(str(folder), "ts").rows == read_stats(glob, "ts").rows == 3


def test_nothing_to_read_is_unknown_and_never_scanned(tmp_path: Path) -> None:
    scan = CountingScan()
    cache = TableStatsCache(scan)
    dangling = tmp_path / "gone.parquet"
    dangling.symlink_to(tmp_path / ".versions" / "pruned")
    for table in (tmp_path / "missing.parquet", tmp_path / "none-*.parquet", dangling):
        assert cache.get(str(table), "ts") == (None, UNKNOWN)
        assert read_stats(str(table), "ts") == UNKNOWN
    assert scan.scanned == []


def test_an_unreadable_table_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet")
    assert read_stats(str(path), "ts") == UNKNOWN
    _write(path.with_name("fine.parquet"), 1)
    assert read_stats(str(path.with_name("fine.parquet")), "no_such_column") == UNKNOWN
