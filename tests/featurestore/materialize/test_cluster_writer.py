"""Our engine's writer on a real Redis Cluster: byte for byte what it writes on one Redis
(key TTLs, skip_dedup and newer-event-time-wins included), with slots moved or in
migration under it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from redis.crc import key_slot

from featurestore.errors import OnlineStoreUnavailableError
from featurestore.materialize import MaterializeOptions, ViewStats, materialize_view
from featurestore.redis_client import cluster_client
from featurestore.settings import parse_redis_url
from tests.cluster_repo import Side, Twins, twin_repos, twins, user_item_rows, write_source
from tests.redis_cluster import begin_migration, finish_migration, migrate_keys, move_slot

__all__ = ["twin_repos", "twins"]  # the fixtures

pytestmark = pytest.mark.redis

START = datetime(2000, 1, 1, tzinfo=UTC)
ROWS = 300


def _end() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=1)


def _materialize(
    side: Side, client: object = None, batch_size: int = 64, **options: object
) -> ViewStats:
    chosen = MaterializeOptions(batch_size=batch_size, progress=False, **options)  # type: ignore[arg-type]
    return materialize_view(side.plan(), client or side.client, START, _end(), chosen)  # type: ignore[arg-type]


@pytest.fixture
def sources(twins: Twins) -> Iterator[Twins]:
    for side in (twins.single, twins.cluster):
        write_source(side, user_item_rows(ROWS))
    yield twins


def test_materialized_bytes_equal_the_single_nodes(sources: Twins) -> None:
    single, cluster = _materialize(sources.single), _materialize(sources.cluster)
    assert (cluster.written, cluster.skipped) == (single.written, single.skipped) == (ROWS, 0)
    dump = sources.cluster.dump()
    assert dump == sources.single.dump()
    assert len({sources.redis_cluster.node_of(key).port for key in dump}) == 3
    again = _materialize(sources.cluster)  # the same event times: nothing written again
    assert (again.written, again.skipped) == (0, ROWS)
    newer = user_item_rows(ROWS, hours_ago=0, score=9.0)
    for side in (sources.single, sources.cluster):
        write_source(side, newer)
    assert _materialize(sources.cluster).written == ROWS == _materialize(sources.single).written
    assert sources.cluster.dump() == sources.single.dump()


def test_key_ttl_and_skip_dedup_as_on_one_redis(sources: Twins) -> None:
    for side in (sources.single, sources.cluster):
        stats = _materialize(side, key_ttl_seconds=3600, skip_dedup=True)
        assert stats.written == ROWS
    dump = sources.cluster.dump()
    assert dump == sources.single.dump()
    ttls = {sources.cluster.client.ttl(key) for key in dump}
    assert all(3500 < ttl <= 3600 for ttl in ttls)
    older = user_item_rows(ROWS, hours_ago=5, score=-1.0)  # skip_dedup writes older rows too
    for side in (sources.single, sources.cluster):
        write_source(side, older)
        _materialize(side, key_ttl_seconds=3600, skip_dedup=True)
    assert sources.cluster.dump() == sources.single.dump()


def _user_item_keys(side: Side) -> list[bytes]:
    return sorted(side.dump())


def test_writes_follow_moved_and_ask(sources: Twins) -> None:
    """The writer's slot map is read, then one slot is moved away and another left half
    migrated; the rows still land where the cluster says, as on one Redis."""
    cluster = sources.redis_cluster
    _materialize(sources.single)
    _materialize(sources.cluster)
    keys = _user_item_keys(sources.cluster)
    moved_slot, asked_slot = key_slot(keys[0]), key_slot(keys[1])
    assert moved_slot != asked_slot
    moved_home = cluster.node_of_slot(moved_slot)
    asked_home = cluster.node_of_slot(asked_slot)
    stale = cluster_client(parse_redis_url(cluster.url()), 2.0)
    newer = user_item_rows(ROWS, hours_ago=0, score=7.0)
    try:
        stale.ping()  # reads the slot map
        move_slot(cluster, moved_slot, cluster.other_master(moved_home))
        asked_away = cluster.other_master(asked_home)
        begin_migration(asked_slot, asked_home, asked_away)
        migrate_keys(asked_home, asked_away, [keys[1]])
        for side in (sources.single, sources.cluster):
            write_source(side, newer)
        assert _materialize(sources.single).written == ROWS
        stats = _materialize(sources.cluster, client=stale)
        assert stats.written == ROWS
        finish_migration(cluster, asked_slot, asked_away)
        assert sources.cluster.dump() == sources.single.dump()
    finally:
        stale.close()
        move_slot(cluster, moved_slot, moved_home)
        move_slot(cluster, asked_slot, asked_home)


def test_an_unreachable_cluster_is_one_unavailable_error(sources: Twins) -> None:
    from featurestore.redis_server import free_port

    nobody = parse_redis_url(f"redis+cluster://127.0.0.1:{free_port()}/0")
    with pytest.raises((OnlineStoreUnavailableError, redis.RedisError)):
        _materialize(sources.cluster, client=cluster_client(nobody, 0.5))
