"""The small online repo (``tests/online_repo.py``) twice, for tests that compare one Redis
with a Redis Cluster byte for byte: ``single`` on db 12 of the session's redis-server,
``cluster`` on the session's cluster (``tests/redis_cluster.py``). Both are applied from
the same definitions; each test starts with both empty (``twins`` flushes them).

``rows(n)`` are ``n`` rows of ``user_item`` (a composite key: the entities spread over
every master), also written as its Parquet source so either store can materialize it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis
from feast import FeatureStore

from featurestore.materialize.plan import ViewPlan
from featurestore.project import Project
from featurestore.redis_server import LocalRedis
from tests.online_repo import make_repo
from tests.redis_cluster import Cluster

DB = 12
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Side:
    settings: Project
    store: FeatureStore
    client: redis.Redis | redis.RedisCluster

    def dump(self) -> dict[bytes, dict[bytes, bytes]]:
        """Every hash with every field and value, as bytes."""
        keys = self.client.scan_iter(count=1000, _type="HASH")
        return {key: self.client.hgetall(key) for key in keys}

    def plan(self, view: str = "user_item") -> ViewPlan:
        feature_view = self.store.get_feature_view(view)
        entities = [self.store.get_entity(name) for name in feature_view.entities]
        return ViewPlan.from_feature_view(
            self.store.project, feature_view, entities, self.settings.repo_path
        )


@dataclass
class Twins:
    single: Side
    cluster: Side
    redis_cluster: Cluster

    def flush(self) -> None:
        self.single.client.flushdb()
        self.redis_cluster.flush()


def user_item_rows(n: int, hours_ago: int = 1, score: float = 0.5) -> pa.Table:
    """``n`` rows of ``user_item``: users 0..n-1, item ``i<user % 7>``."""
    when = NOW - timedelta(hours=hours_ago)
    return pa.table(
        {
            "user_id": pa.array(range(n), pa.int64()),
            "item_id": pa.array([f"i{u % 7}" for u in range(n)], pa.string()),
            "score": pa.array([score + u / 1000 for u in range(n)], pa.float64()),
            "clicks": pa.array([u * 3 for u in range(n)], pa.int64()),
            "event_timestamp": pa.array([when] * n, pa.timestamp("us", tz="UTC")),
        }
    )


def write_source(side: Side, table: pa.Table, view: str = "user_item") -> None:
    pq.write_table(table, side.settings.repo_path / "data" / f"{view}.parquet")


def feast_write(side: Side, view: str, rows: dict[str, list[Any]]) -> None:
    """Rows written by vanilla Feast's ``write_to_online_store`` (its own Redis client:
    a ``RedisCluster`` on the cluster side)."""
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in rows.items()})
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
    side.store.write_to_online_store(view, frame)


def user_stats_rows(n: int) -> dict[str, list[Any]]:
    """``n`` rows of ``user_stats``: every scalar type, lists, and some nulls."""
    when = NOW - timedelta(hours=2)
    return {
        "user_id": list(range(n)),
        "f_double": [u / 3 if u % 5 else None for u in range(n)],
        "f_float": [float(u) / 4 for u in range(n)],
        "f_int64": [u * 2**40 for u in range(n)],
        "f_int32": [-u for u in range(n)],
        "f_string": [f"user {u} \u00e9" for u in range(n)],
        "f_bool": [u % 2 == 0 for u in range(n)],
        "f_bytes": [bytes([u % 256]) * 3 for u in range(n)],
        "f_ts": [when - timedelta(days=u) for u in range(n)],
        "f_doubles": [[u / 2, -1.0] for u in range(n)],
        "f_strings": [["a", str(u)] for u in range(n)],
        "event_timestamp": [when - timedelta(minutes=u) for u in range(n)],
    }


def item_stats_rows() -> dict[str, list[Any]]:
    return {
        "item_id": [f"i{i}" for i in range(7)],
        "price": [1.5 * i for i in range(7)],
        "title": [f"item {i}" for i in range(7)],
        "event_timestamp": [NOW - timedelta(days=400)] * 7,  # ttl 0: never outside max age
    }


@pytest.fixture(scope="session")
def twin_repos(
    tmp_path_factory: pytest.TempPathFactory, redis_server: LocalRedis, redis_cluster: Cluster
) -> Iterator[Twins]:
    single_url = f"redis://127.0.0.1:{redis_server.port}/{DB}"
    settings, store = make_repo(tmp_path_factory.mktemp("single-twin"), single_url)
    single = Side(settings, store, redis.Redis(port=redis_server.port, db=DB))
    settings, store = make_repo(tmp_path_factory.mktemp("cluster-twin"), redis_cluster.url())
    twins = Twins(single, Side(settings, store, redis_cluster.client()), redis_cluster)
    yield twins
    single.client.close()
    twins.cluster.client.close()


@pytest.fixture
def twins(twin_repos: Twins) -> Iterator[Twins]:
    twin_repos.flush()
    yield twin_repos
    twin_repos.flush()
