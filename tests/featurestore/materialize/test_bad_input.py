"""Bad requests get one clear error, and nothing is left that a re-run would not repair;
``materialize-incremental`` advances only after a successful write."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

from featurestore.errors import (
    InvalidWindowError,
    OnlineStoreUnavailableError,
    SourceError,
    UnknownFeatureViewError,
)
from featurestore.materialize import run
from featurestore.materialize.engine import check_window
from featurestore.project import Project
from featurestore.redis_server import LocalRedis, free_port
from tests.featurestore.materialize.helpers import dump, flush, make_store

DB = 9
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _repo(tmp: Path, columns: dict[str, pa.Array] | None = None) -> list[Any]:
    table = pa.table(
        columns
        or {
            "id": pa.array([1, 2, 3], pa.int64()),
            "event_timestamp": pa.array([T0, T0, T0], pa.timestamp("us", tz="UTC")),
            "x": pa.array([1.0, 2.0, 3.0]),
            "y": pa.array([1, 2, 3], pa.int64()),
        }
    )
    pq.write_table(table, tmp / "t.parquet")
    entity = Entity(name="e", join_keys=["id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="v",
        entities=[entity],
        ttl=timedelta(days=2),
        schema=[Field(name="x", dtype=Float64), Field(name="y", dtype=Int64)],
        source=FileSource(path=str(tmp / "t.parquet"), timestamp_field="event_timestamp"),
    )
    return [entity, view]


def test_window_that_ends_before_it_starts() -> None:
    with pytest.raises(InvalidWindowError, match=r"starts .* after it ends"):
        check_window(T0, T0 - timedelta(seconds=1))
    check_window(T0, T0)


@pytest.mark.redis
def test_unknown_view_and_reversed_window(redis_server: LocalRedis, tmp_path: Path) -> None:
    store = make_store(tmp_path, redis_server.port, DB, "ours", _repo(tmp_path))
    with pytest.raises(UnknownFeatureViewError, match=r"unknown feature view.*nope.*known.*v"):
        run.materialize(store, T0, T0 + timedelta(days=1), ["nope"])
    with pytest.raises(InvalidWindowError):
        run.materialize(store, T0 + timedelta(days=1), T0)


@pytest.mark.redis
def test_missing_source_file(redis_server: LocalRedis, tmp_path: Path) -> None:
    flush(redis_server.port, DB)
    store = make_store(tmp_path, redis_server.port, DB, "ours", _repo(tmp_path))
    (tmp_path / "t.parquet").unlink()
    with pytest.raises(SourceError, match="no such file"):
        store.materialize(T0, T0 + timedelta(days=1))
    assert dump(redis_server.port, DB) == {}


@pytest.mark.redis
def test_source_without_a_needed_column(redis_server: LocalRedis, tmp_path: Path) -> None:
    flush(redis_server.port, DB)
    store = make_store(tmp_path, redis_server.port, DB, "ours", _repo(tmp_path))
    _repo(
        tmp_path,
        {
            "id": pa.array([1], pa.int64()),
            "event_timestamp": pa.array([T0], pa.timestamp("us", tz="UTC")),
            "x": pa.array([1.0]),
        },
    )
    with pytest.raises(SourceError, match="missing column\\(s\\) y"):
        store.materialize(T0, T0 + timedelta(days=1))
    assert dump(redis_server.port, DB) == {}


@pytest.mark.redis
def test_unreachable_redis_then_incremental_progress_only_after_success(
    redis_server: LocalRedis, tmp_path: Path
) -> None:
    recent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    objects = _repo(
        tmp_path,
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "event_timestamp": pa.array([recent] * 3, pa.timestamp("us", tz="UTC")),
            "x": pa.array([1.0, 2.0, 3.0]),
            "y": pa.array([1, 2, 3], pa.int64()),
        },
    )
    end = recent + timedelta(minutes=30)
    dead = make_store(tmp_path, free_port(), DB, "ours", objects)
    with pytest.raises(OnlineStoreUnavailableError, match="Connection refused"):
        run.materialize_incremental(dead, end)
    assert dead.get_feature_view("v").most_recent_end_time is None
    # The same registry file (one per engine and db), now with a reachable Redis.
    flush(redis_server.port, DB)
    live = make_store(tmp_path, redis_server.port, DB, "ours", objects)
    assert live.config.registry.path == dead.config.registry.path
    run.materialize_incremental(live, end)
    assert live.get_feature_view("v").most_recent_end_time == end
    assert len(dump(redis_server.port, DB)) == 3


@pytest.mark.redis
@pytest.mark.slow
def test_cli_reports_bad_input_in_one_line(demo_project: Project) -> None:
    cli = Path(sys.executable).with_name("featurestore")
    env = {
        **os.environ,
        "FEATURESTORE_REPO_PATH": str(demo_project.repo_path),
        "FEATURESTORE_REDIS_URL": demo_project.redis_url,
    }
    for args, message in (
        (["2013-02-01", "2013-01-01"], "error: the window starts"),
        (["2013-01-01", "2013-01-02", "--views", "nope"], "error: unknown feature view(s): nope"),
    ):
        done = subprocess.run(
            [str(cli), "materialize", *args], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(message), done.stderr
