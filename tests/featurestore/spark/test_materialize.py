"""Materialization on Spark writes the bytes our DuckDB engine writes (and so Feast's).

The generated datasets of ``tests/featurestore/materialize/test_differential.py`` (every
scalar type, nulls, NaN and -0.0, tied event times, created timestamps, late rows,
composite keys) are materialized by our engine on DuckDB into one Redis database and on
Spark into another; then the demo project, on its real data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

from featurestore.errors import OnlineStoreUnavailableError
from featurestore.project import Project
from featurestore.redis_server import LocalRedis, free_port
from featurestore.store import open_store
from tests.conftest import MATERIALIZE_END, MATERIALIZE_START
from tests.featurestore.materialize.helpers import assert_same_contents, dump, flush, make_store
from tests.featurestore.materialize.test_differential import (
    T0,
    Dataset,
    _objects,
    datasets,
    materialize_side_by_side,
)

pytestmark = [pytest.mark.redis, pytest.mark.usefixtures("spark")]

DUCK_DB, SPARK_DB = 4, 5


def assert_same(port: int) -> None:
    assert_same_contents(dump(port, DUCK_DB), dump(port, SPARK_DB))


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=datasets())
def test_generated_datasets_are_written_byte_for_byte_like_duckdb(
    data: Dataset, redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("spark_diff")
    flush(redis_server.port, DUCK_DB, SPARK_DB)
    objects = _objects(tmp, data)
    duck = make_store(tmp, redis_server.port, DUCK_DB, "ours", objects)
    spark = make_store(tmp, redis_server.port, SPARK_DB, "spark", objects)
    materialize_side_by_side(data, tmp, duck, spark, lambda: assert_same(redis_server.port))


def _demo_on(project: Project, db: int, port: int, engine: str) -> None:
    import dataclasses

    on = dataclasses.replace(project, redis_url=f"redis://127.0.0.1:{port}/{db}")
    flush(port, db)
    store = open_store(on)
    store.config.batch_engine.engine = engine  # type: ignore[union-attr]
    store.config.batch_engine.spark_master = "local[2]"  # type: ignore[union-attr]
    store.materialize(MATERIALIZE_START, MATERIALIZE_END)


def test_the_demo_project_materializes_identically(
    demo_project: Project, redis_server: LocalRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    for db, engine in ((DUCK_DB, "duckdb"), (SPARK_DB, "spark")):
        monkeypatch.setenv("FEATURESTORE_REDIS_URL", f"redis://127.0.0.1:{redis_server.port}/{db}")
        _demo_on(demo_project, db, redis_server.port, engine)
    duck = dump(redis_server.port, DUCK_DB)
    assert len(duck) > 4_000
    assert_same(redis_server.port)


def test_an_unreachable_redis_fails_the_view_with_our_error(tmp_path: Path) -> None:
    from featurestore.engine import SparkSettings
    from featurestore.materialize.plan import Column, ViewPlan
    from featurestore.spark.materialize import materialize_view
    from featurestore.value_types import ValueType

    path = tmp_path / "t.parquet"
    pq.write_table(
        pa.table(
            {"k": [1, 2], "ts": pa.array([T0, T0], pa.timestamp("us", "UTC")), "f": [1.0, 2.0]}
        ),
        path,
    )
    plan = ViewPlan(
        "p", "v", str(path), (Column("k", "k", ValueType.INT64),),
        (Column("f", "f", ValueType.DOUBLE),), "ts", None,
    )  # fmt: skip
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(
        OnlineStoreUnavailableError, match="the online store \\(Redis\\) is unavailable"
    ):
        materialize_view(
            plan,
            closed,
            T0,
            datetime(2030, 1, 1, tzinfo=UTC),
            SparkSettings("local[2]"),
            timeout=0.5,
        )
