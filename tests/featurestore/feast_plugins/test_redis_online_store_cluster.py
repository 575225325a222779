"""Feast's own paths on a Redis Cluster through our online store plugin: the URL becomes
Feast's ``redis_cluster`` / ``redis_sentinel`` settings, Feast's materialization and reads
work on them, with bounded calls, and a YAML of Feast's own cluster settings still works."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feast import FeatureStore
from feast.repo_config import RepoConfig

from featurestore.feast_plugins.redis_online_store import TYPE_NAME, RedisOnlineStoreConfig
from tests.cluster_repo import Twins, twin_repos, twins, user_item_rows, write_source
from tests.redis_cluster import Cluster, SentinelSetup

__all__ = ["twin_repos", "twins"]  # the fixtures

pytestmark = pytest.mark.redis


def test_the_url_becomes_feasts_cluster_and_sentinel_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no project here: the environment's URL
    monkeypatch.setenv("FEATURESTORE_REDIS_URL", "redis+cluster://:pw@10.1.1.1:7000,10.1.1.2:7001")
    config = RedisOnlineStoreConfig(type=TYPE_NAME)
    assert (config.redis_type, config.connection_string) == (
        "redis_cluster", '10.1.1.1:7000,10.1.1.2:7001,password="pw"',
    )  # fmt: skip
    monkeypatch.setenv("FEATURESTORE_REDIS_URL", "redis+sentinel://s1:26379/prod/2")
    config = RedisOnlineStoreConfig(type=TYPE_NAME)
    assert (config.redis_type, config.sentinel_master) == ("redis_sentinel", "prod")
    assert config.connection_string == "s1:26379,db=2"
    own = RedisOnlineStoreConfig(type=TYPE_NAME, connection_string="h:1,db=3")
    assert (own.redis_type, own.connection_string) == ("redis", "h:1,db=3")  # the YAML's own


def test_feast_materializes_and_reads_the_same_on_a_cluster(twins: Twins) -> None:
    """``feast materialize`` (Feast's engine in this repo) and Feast's read path."""
    for side in (twins.single, twins.cluster):
        write_source(side, user_item_rows(50))
        side.store.materialize(
            datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(1), ["user_item"]
        )
    assert twins.cluster.dump() == twins.single.dump()
    entities = [{"user_id": u, "item_id": f"i{u % 7}"} for u in range(50)]
    answers = [
        side.store.get_online_features(["user_item:score", "user_item:clicks"], entities).to_dict()
        for side in (twins.single, twins.cluster)
    ]
    assert answers[0] == answers[1]
    assert answers[1]["clicks"] == [u * 3 for u in range(50)]


def test_our_batch_engine_writes_feasts_bytes_on_a_cluster(twins: Twins) -> None:
    """``feast materialize`` with our batch engine on the cluster (our writer, one
    pipeline per master) leaves what Feast's ``local`` engine leaves in one Redis."""
    import copy

    from featurestore.feast_plugins.batch_engine import TYPE_NAME as OUR_ENGINE

    config = copy.deepcopy(twins.cluster.store.config)
    config.batch_engine_config = {"type": OUR_ENGINE, "progress": False}
    config._batch_engine = None
    ours = FeatureStore(repo_path=str(twins.cluster.store.repo_path), config=config)
    window = (datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(1))
    for side in (twins.single, twins.cluster):
        write_source(side, user_item_rows(80))
    twins.single.store.materialize(*window, ["user_item"])
    engine = ours._get_provider().batch_engine  # type: ignore[attr-defined]
    assert engine._redis_client() is not None  # ours writes, no fallback to Feast's
    ours.materialize(*window, ["user_item"])
    assert twins.cluster.dump() == twins.single.dump()
    assert len(twins.cluster.dump()) == 80


def test_feasts_own_cluster_yaml_is_served_with_bounded_calls(
    redis_cluster: Cluster, redis_sentinel: SentinelSetup, twins: Twins
) -> None:
    hosts = ",".join(f"127.0.0.1:{node.port}" for node in redis_cluster.masters)
    for online in (
        {"redis_type": "redis_cluster", "connection_string": hosts},
        {"redis_type": "redis_sentinel", "sentinel_master": "mymaster",
         "connection_string": f"127.0.0.1:{redis_sentinel.sentinel.port},db=4"},
    ):  # fmt: skip
        ours = twins.cluster.store.config
        config = RepoConfig(
            project=ours.project,
            provider="local",
            registry=ours.registry,
            online_store={"type": TYPE_NAME, "redis_timeout": 0.75, **online},
            offline_store={"type": "duckdb"},
            entity_key_serialization_version=3,
        )
        config.repo_path = twins.cluster.settings.repo_path
        store = FeatureStore(repo_path=str(config.repo_path), config=config)
        frame = user_item_rows(5).to_pandas()
        store.write_to_online_store("user_item", frame)
        answer = store.get_online_features(
            ["user_item:clicks"], [{"user_id": u, "item_id": f"i{u % 7}"} for u in range(5)]
        ).to_dict()
        assert answer["clicks"] == [0, 3, 6, 9, 12]
        client = store._get_provider().online_store._get_client(config.online_store)  # type: ignore[attr-defined]
        kwargs = (
            client.get_connection_kwargs()
            if online["redis_type"] == "redis_cluster"
            else client.connection_pool.connection_kwargs
        )
        assert kwargs["socket_timeout"] == 0.75
