"""A tiny feature table on disk and its ViewSpec, for fast offline-store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore.offline import ViewSpec

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def rides(tmp_path: Path) -> ViewSpec:
    """Driver 1 has rows at T0 and T0+10min, driver 2 at T0; TTL 15 minutes."""
    table = pa.table(
        {
            "driver_id": pa.array([1, 1, 2], pa.int64()),
            "event_timestamp": pa.array(
                [T0, T0 + timedelta(minutes=10), T0], pa.timestamp("us", tz="UTC")
            ),
            "trips": pa.array([10, 11, 20], pa.int64()),
            "rating": pa.array([4.5, 4.6, 3.9], pa.float64()),
        }
    )
    path = tmp_path / "rides.parquet"
    pq.write_table(table, path)
    return ViewSpec(
        name="rides",
        path=str(path),
        join_keys={"driver_id": "driver_id"},
        features={"trips": "trips", "rating": "rating"},
        timestamp_field="event_timestamp",
        ttl=timedelta(minutes=15),
    )


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)
