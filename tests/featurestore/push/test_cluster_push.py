"""The push path on a real Redis Cluster: the bytes of one Redis, newer event time wins,
and a Redis Stream consumed from the cluster."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from featurestore.push.service import PushService
from featurestore.push.stream import StreamConsumer
from tests.cluster_repo import NOW, Twins, twin_repos, twins

__all__ = ["twin_repos", "twins"]  # the fixtures

pytestmark = pytest.mark.redis

SOURCE = "item_push"
ITEMS = 60


def _rows(n: int, hours_ago: int, price: float) -> dict[str, list[Any]]:
    when = (NOW - timedelta(hours=hours_ago)).isoformat()
    return {
        "item_id": [f"item-{i}" for i in range(n)],
        "price": [price + i for i in range(n)],
        "title": [f"title {i} {price}" for i in range(n)],
        "event_timestamp": [when] * n,
    }


@pytest.fixture
def services(twins: Twins) -> Iterator[tuple[Twins, PushService, PushService]]:
    single = PushService.for_project(twins.single.settings)
    cluster = PushService.for_project(twins.cluster.settings)
    yield twins, single, cluster
    single.close()
    cluster.close()


def test_pushed_rows_are_the_single_nodes_bytes(
    services: tuple[Twins, PushService, PushService],
) -> None:
    twins, single, cluster = services
    for service in (single, cluster):
        result = service.push(SOURCE, _rows(ITEMS, hours_ago=2, price=1.0))
        assert (result.online_written, result.online_skipped) == (ITEMS, 0)
    dump = twins.cluster.dump()
    assert dump == twins.single.dump() and len(dump) == ITEMS
    assert len({twins.redis_cluster.node_of(key).port for key in dump}) == 3
    older = cluster.push(SOURCE, _rows(ITEMS, hours_ago=3, price=5.0))  # older: not written
    assert (older.online_written, older.online_skipped) == (0, ITEMS)
    for service in (single, cluster):
        newer = {k: v[: ITEMS // 2] for k, v in _rows(ITEMS, hours_ago=1, price=9.0).items()}
        assert service.push(SOURCE, newer).online_written == ITEMS // 2
    assert twins.cluster.dump() == twins.single.dump()


def _entry(item: int, price: object = 2.5) -> dict[str, object]:
    return {"item_id": f"item-{item}", "price": str(price), "title": f"t{item}",
            "event_timestamp": (NOW - timedelta(hours=1)).isoformat()}  # fmt: skip


def test_a_stream_on_the_cluster_is_consumed(
    services: tuple[Twins, PushService, PushService],
) -> None:
    twins, single, cluster = services
    client = cluster.online.client
    stream = "feed"
    for item in range(20):
        client.xadd(stream, _entry(item))  # type: ignore[arg-type]
    client.xadd(stream, {"item_id": "x", "colour": "red"})  # not a row: dead-lettered
    consumer = StreamConsumer(
        cluster, client, stream, SOURCE, consumer="c1", to="online", block_ms=50
    )
    consumer.ensure_group()
    assert consumer.poll() == 21
    assert (consumer.stats.pushed, consumer.stats.dead) == (20, 1)
    assert client.xlen(f"{stream}:dead") == 1
    assert client.xpending(stream, "featurestore")["pending"] == 0
    assert consumer.update_lag() == 0
    hashes = twins.cluster.dump()
    assert len(hashes) == 20
    single.push(
        SOURCE,
        {
            "item_id": [f"item-{i}" for i in range(20)],
            "price": [2.5] * 20,
            "title": [f"t{i}" for i in range(20)],
            "event_timestamp": [(NOW - timedelta(hours=1)).isoformat()] * 20,
        },
    )
    assert hashes == twins.single.dump()
