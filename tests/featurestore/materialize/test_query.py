"""The latest-row query: same rows from a file and from its hive-partitioned folder, and
field mappings resolved like Feast (checked against Feast's engine in Redis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

from featurestore.materialize.plan import Column, ViewPlan
from featurestore.materialize.query import DuckDBOptions, connect, latest_rows
from featurestore.redis_server import LocalRedis
from featurestore.value_types import ValueType as Ours
from tests.featurestore.materialize.helpers import dump, flush, make_store

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _plan(path: Path) -> ViewPlan:
    return ViewPlan(
        project="p",
        view="v",
        source_path=str(path),
        join_keys=(Column("id", "id", Ours.INT64),),
        features=(Column("x", "x", Ours.DOUBLE),),
        timestamp_column="event_timestamp",
        created_column=None,
    )


def _rows(path: Path) -> list[tuple[object, ...]]:
    batches = list(
        latest_rows(connect(DuckDBOptions()), _plan(path), T0, T0 + timedelta(days=9), 2)
    )
    table = pa.Table.from_batches(batches).select(["id", "x", "__event_ts", "__rows"])
    return sorted(tuple(r.values()) for r in table.to_pylist())


def test_a_hive_partitioned_folder_reads_like_the_file(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = """SELECT i % 7 AS id, TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_hours(i) AS
              event_timestamp, i * 1.5 AS x, (i % 3) AS day FROM range(100) t(i)"""
    con.execute(f"COPY ({rows}) TO '{tmp_path / 'one.parquet'}' (FORMAT parquet)")
    con.execute(f"COPY ({rows}) TO '{tmp_path / 'parts'}' (FORMAT parquet, PARTITION_BY (day))")
    expected = _rows(tmp_path / "one.parquet")
    assert len(expected) == 7
    assert _rows(tmp_path / "parts") == expected
    assert _rows(Path(f"{tmp_path}/parts/*/*.parquet")) == expected


@pytest.mark.redis
def test_field_mapping_is_resolved_like_feast(redis_server: LocalRedis, tmp_path: Path) -> None:
    pq.write_table(
        pa.table(
            {
                "entity": pa.array([1, 1, 2], pa.int64()),
                "ts": pa.array([T0, T0 + timedelta(hours=1), T0], pa.timestamp("us", tz="UTC")),
                "raw_x": pa.array([1.0, 2.0, 3.0]),
                "n": pa.array([5, 6, 7], pa.int64()),
            }
        ),
        tmp_path / "m.parquet",
    )
    entity = Entity(name="e", join_keys=["id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="mapped",
        entities=[entity],
        ttl=timedelta(days=1),
        schema=[Field(name="x", dtype=Float64), Field(name="n", dtype=Int64)],
        source=FileSource(
            path=str(tmp_path / "m.parquet"),
            timestamp_field="ts",
            field_mapping={"raw_x": "x", "entity": "id"},
        ),
    )
    flush(redis_server.port, 2, 3)
    end = T0 + timedelta(days=1)
    make_store(tmp_path, redis_server.port, 2, "local", [entity, view]).materialize(T0, end)
    make_store(tmp_path, redis_server.port, 3, "ours", [entity, view]).materialize(T0, end)
    expected = dump(redis_server.port, 2)
    assert len(expected) == 2
    assert dump(redis_server.port, 3) == expected
