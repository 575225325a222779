"""The one pass over checked rows: partition files, rule counts, neighbouring duplicates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion import partitions

_SCHEMA = pa.schema(
    [
        ("origin", pa.string()),
        ("event_timestamp", pa.timestamp("us", tz="UTC")),
        ("value", pa.int64()),
        (partitions.RULE, pa.string()),
    ]
)


def _batch(rows: list[tuple[str, datetime, int, str | None]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [dict(zip(_SCHEMA.names, row, strict=True)) for row in rows], schema=_SCHEMA
    )


def _write(tmp_path: Path, batches: list[pa.RecordBatch], grain: str = "day") -> partitions.Pass:
    return partitions.write(
        pa.RecordBatchReader.from_batches(_SCHEMA, batches),
        tmp_path,
        grain=grain,
        timestamp="event_timestamp",
        unique=["origin", "event_timestamp"],
        written=["origin", "event_timestamp", "value"],
    )


def test_one_file_per_day_across_batches_bad_rows_counted(tmp_path: Path) -> None:
    day1, day2 = datetime(2013, 1, 1, 23, tzinfo=UTC), datetime(2013, 1, 2, 0, tzinfo=UTC)
    found = _write(
        tmp_path,
        [
            _batch([("EWR", day1, 1, None), ("JFK", day1, 2, "value >= 3")]),
            _batch([("JFK", day1, 3, None), ("EWR", day2, 4, None)]),
        ],
    )
    assert (found.rows_in, dict(found.bad_by_rule), found.duplicates) == (
        4,
        {"value >= 3": 1},
        False,
    )
    assert pa.Table.from_batches(found.bad).column("value").to_pylist() == [2]
    first = pq.read_table(tmp_path / "partition_date=20130101" / "part-0.parquet")
    second = pq.read_table(tmp_path / "partition_date=20130102" / "part-0.parquet")
    assert first.column_names == ["origin", "event_timestamp", "value"]
    assert first.column("value").to_pylist() == [1, 3]  # the day spans two batches
    assert second.column("value").to_pylist() == [4]


def test_hour_grain_folders(tmp_path: Path) -> None:
    at = datetime(2013, 1, 1, 5, 30, tzinfo=UTC)
    _write(tmp_path, [_batch([("EWR", at, 1, None)])], grain="hour")
    assert (tmp_path / "partition_date=20130101" / "partition_hour=5" / "part-0.parquet").is_file()


def test_duplicates_across_a_batch_boundary_and_around_a_bad_row(tmp_path: Path) -> None:
    at = datetime(2013, 1, 1, tzinfo=UTC)
    found = _write(
        tmp_path,
        [
            _batch([("EWR", at, 1, None), ("EWR", at, 2, "value >= 3")]),
            _batch([("EWR", at, 3, None)]),
        ],
    )
    assert found.duplicates
    assert found.rows_in == 3 and found.bad_rows == 1  # counting goes on to the end
