"""The Feast-facing engine: its options come from feature_store.yaml, and what it cannot
write itself (a non-Redis online store) goes to Feast's local engine unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.repo_config import RepoConfig
from feast.types import Float64

from featurestore.feast_plugins.batch_engine import TYPE_NAME, RedisBatchEngine
from tests.featurestore.materialize.helpers import repo_config

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def test_options_come_from_the_repo_config(tmp_path: Path) -> None:
    config = repo_config(tmp_path, 6379, 0, "ours", batch_size=3, key_ttl_seconds=60)
    engine = RedisBatchEngine(repo_config=config, offline_store=None, online_store=None)
    options = engine.options()
    assert (options.batch_size, options.key_ttl_seconds, options.skip_dedup) == (3, 60, False)
    assert options.duckdb.memory_limit == "512MB"


def test_a_sqlite_online_store_is_written_by_feasts_local_engine(tmp_path: Path) -> None:
    pq.write_table(
        pa.table(
            {
                "id": pa.array([1, 2], pa.int64()),
                "event_timestamp": pa.array([T0, T0], pa.timestamp("us", tz="UTC")),
                "x": pa.array([1.5, 2.5]),
            }
        ),
        tmp_path / "t.parquet",
    )
    entity = Entity(name="e", join_keys=["id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="v",
        entities=[entity],
        ttl=timedelta(days=1),
        schema=[Field(name="x", dtype=Float64)],
        source=FileSource(path=str(tmp_path / "t.parquet"), timestamp_field="event_timestamp"),
    )
    config = RepoConfig(
        project="fallback",
        provider="local",
        registry=str(tmp_path / "registry.db"),
        online_store={"type": "sqlite", "path": str(tmp_path / "online.db")},
        offline_store={"type": "duckdb"},
        batch_engine={"type": TYPE_NAME, "progress": False},
        entity_key_serialization_version=3,
    )
    config.repo_path = tmp_path
    store = FeatureStore(repo_path=str(tmp_path), config=config)
    store.apply([entity, view])
    store.materialize(T0, T0 + timedelta(hours=1))
    got = store.get_online_features(["v:x"], [{"id": 1}, {"id": 2}]).to_dict()
    assert got["x"] == [1.5, 2.5]
