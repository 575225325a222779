"""Building small Feast repos on generated Parquet, materializing them with vanilla Feast's
engine and with ours into two Redis databases, and dumping Redis for comparison."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis
from feast import Entity, FeatureStore, FeatureView
from feast.repo_config import RepoConfig

from featurestore.feast_plugins.batch_engine import TYPE_NAME as OUR_ENGINE

PROJECT = "diff"


def repo_config(repo: Path, port: int, db: int, engine: str, **online: Any) -> RepoConfig:
    batch_engine: Any = "local" if engine == "local" else {"type": OUR_ENGINE, "progress": False}
    if engine == "spark":  # ours, with the latest rows computed by the shared Spark session
        batch_engine |= {"engine": "spark", "spark_master": "local[2]"}
    if engine != "local" and isinstance(online.get("batch_size"), int):
        batch_engine["batch_size"] = online.pop("batch_size")
    online.pop("batch_size", None)
    config = RepoConfig(
        project=PROJECT,
        provider="local",
        registry=str(repo / f"registry_{engine}_{db}.db"),
        online_store={
            "type": "redis",
            "connection_string": f"127.0.0.1:{port},db={db}",
            **online,
        },
        offline_store={"type": "duckdb"},
        batch_engine=batch_engine,
        entity_key_serialization_version=3,
    )
    config.repo_path = repo
    return config


def make_store(
    repo: Path,
    port: int,
    db: int,
    engine: str,
    objects: Sequence[Entity | FeatureView],
    **online: Any,
) -> FeatureStore:
    store = FeatureStore(repo_path=str(repo), config=repo_config(repo, port, db, engine, **online))
    store.apply(list(objects))
    return store


def dump(port: int, db: int) -> dict[bytes, dict[bytes, bytes]]:
    """Every key of a database with every field and value, as bytes."""
    client = redis.Redis(port=port, db=db)
    try:
        keys = list(client.scan_iter(count=10_000))
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return dict(zip(keys, pipe.execute(), strict=True))
    finally:
        client.close()


def flush(port: int, *dbs: int) -> None:
    for db in dbs:
        client = redis.Redis(port=port, db=db)
        client.flushdb()
        client.close()


def assert_same_contents(
    expected: dict[bytes, dict[bytes, bytes]], actual: dict[bytes, dict[bytes, bytes]]
) -> None:
    """Two dumps hold the same keys, each with the same fields and values (the key named
    where one differs)."""
    assert sorted(actual) == sorted(expected)
    for key in expected:
        assert actual[key] == expected[key], key
