"""Lookups on a real Redis Cluster equal lookups on one Redis, for the same rows, and
survive a resharding (MOVED) and a slot in migration (ASK) without an error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.crc import key_slot

from featurestore.materialize import MaterializeOptions, materialize_view
from featurestore.online import AsyncOnlineLookup, OnlineLookup
from featurestore.online.cluster import ClusterRespClient
from featurestore.project import Project
from featurestore.redis_layout import KeyEncoder
from tests.cluster_repo import (
    Side,
    Twins,
    feast_write,
    item_stats_rows,
    twin_repos,
    twins,
    user_item_rows,
    user_stats_rows,
    write_source,
)
from tests.online_repo import PROJECT
from tests.redis_cluster import begin_migration, finish_migration, migrate_keys, move_slot

__all__ = ["twin_repos", "twins"]  # the fixtures

pytestmark = pytest.mark.redis

START = datetime(2000, 1, 1, tzinfo=UTC)
USERS = 40
USER_STATS = ("f_double", "f_float", "f_int64", "f_int32", "f_string", "f_bool", "f_bytes",
              "f_ts", "f_doubles", "f_strings")  # fmt: skip
REQUESTS: list[dict[str, Any]] = [
    {"feature_service": "ranking_model"},
    {"features": [f"user_stats:{name}" for name in USER_STATS]},
    {"features": ["user_item:score", "item_stats:title"], "full_feature_names": True},
]
ENTITIES = {
    "user_id": [*range(USERS), 10_000],  # the last one never written
    "item_id": [*(f"i{u % 7}" for u in range(USERS)), "nothing"],
}


def _fill(side: Side) -> None:
    """The same rows on each side: two views written by Feast, one materialized by ours."""
    feast_write(side, "user_stats", user_stats_rows(USERS))
    feast_write(side, "item_stats", item_stats_rows())
    write_source(side, user_item_rows(USERS))
    end = datetime.now(UTC) + timedelta(minutes=1)
    materialize_view(side.plan(), side.client, START, end, MaterializeOptions(progress=False))  # type: ignore[arg-type]


@pytest.fixture
def filled(twins: Twins) -> Iterator[Twins]:
    _fill(twins.single)
    _fill(twins.cluster)
    yield twins


def _entities(request: dict[str, Any]) -> dict[str, list[Any]]:
    if request.get("features") and all(f.startswith("user_stats") for f in request["features"]):
        return {"user_id": ENTITIES["user_id"]}
    return ENTITIES


async def _async_answers(settings: Project) -> list[dict[str, Any]]:
    lookup = AsyncOnlineLookup.open(settings)
    try:
        await lookup.ping()
        return [
            await lookup.get_online_features(
                _entities(request),
                request.get("features"),
                request.get("feature_service"),
                request.get("full_feature_names", False),
            )
            for request in REQUESTS
        ]
    finally:
        await lookup.close()


def _blocking_answers(settings: Project) -> list[dict[str, Any]]:
    lookup = OnlineLookup.open(settings)
    try:
        return [
            lookup.get_online_features(
                _entities(request),
                request.get("features"),
                request.get("feature_service"),
                request.get("full_feature_names", False),
            )
            for request in REQUESTS
        ]
    finally:
        lookup.close()


def test_the_cluster_holds_the_same_bytes_and_answers_the_same(filled: Twins) -> None:
    single, cluster = filled.single.dump(), filled.cluster.dump()
    assert len(single) == 2 * USERS + 7  # user_stats and user_item per user, item_stats
    assert cluster == single
    masters = {filled.redis_cluster.node_of(key).port for key in cluster}
    assert len(masters) == 3  # the keys are spread over every master
    expected = asyncio.run(_async_answers(filled.single.settings))
    assert asyncio.run(_async_answers(filled.cluster.settings)) == expected
    assert _blocking_answers(filled.cluster.settings) == expected
    present = expected[0]["results"][-1]["statuses"]
    assert present[:-1] == ["PRESENT"] * USERS and present[-1] == "NOT_FOUND"


def _user_item_key(user: int) -> bytes:
    from featurestore.value_types import ValueType

    encoder = KeyEncoder(PROJECT, ["user_id", "item_id"], [ValueType.INT64, ValueType.STRING])
    return encoder.key([user, f"i{user % 7}"])


async def _scores(lookup: AsyncOnlineLookup, users: list[int]) -> list[Any]:
    answer = await lookup.get_online_features(
        {"user_id": users, "item_id": [f"i{u % 7}" for u in users]}, ["user_item:score"]
    )
    return list(answer["results"][-1]["values"])


USERS_ALL = list(range(USERS))
EXPECTED = [0.5 + u / 1000 for u in USERS_ALL]  # every user's score, as filled


def _slot_of(cluster: Any, user: int) -> tuple[bytes, int, Any, Any]:
    """User ``user``'s key, its slot, the master holding it and another master."""
    key = _user_item_key(user)
    slot = key_slot(key)
    home = cluster.node_of_slot(slot)
    return key, slot, home, cluster.other_master(home)


async def _cluster_lookup(filled: Twins) -> tuple[AsyncOnlineLookup, ClusterRespClient]:
    lookup = AsyncOnlineLookup.open(filled.cluster.settings)
    assert isinstance(lookup.client, ClusterRespClient)
    return lookup, lookup.client


def test_a_resharded_slot_is_followed_through_moved(filled: Twins) -> None:
    cluster = filled.redis_cluster
    _, slot, home, away = _slot_of(cluster, 3)
    users, expected = USERS_ALL, EXPECTED

    async def run() -> None:
        lookup, client = await _cluster_lookup(filled)
        try:
            assert await _scores(lookup, users) == expected  # the slot map is read
            move_slot(cluster, slot, away)  # behind the client's back
            assert await _scores(lookup, users) == expected
            assert client.redirects >= 1
            assert client.owners is not None and client.owners[slot] == ("127.0.0.1", away.port)
            move_slot(cluster, slot, home)
            assert await _scores(lookup, users) == expected
            assert client.owners[slot] == ("127.0.0.1", home.port)
        finally:
            move_slot(cluster, slot, home)
            await lookup.close()

    asyncio.run(run())


def test_a_slot_in_migration_is_followed_through_ask(filled: Twins) -> None:
    cluster = filled.redis_cluster
    key, slot, home, away = _slot_of(cluster, 5)
    users, expected = USERS_ALL, EXPECTED

    async def run() -> None:
        lookup, client = await _cluster_lookup(filled)
        try:
            assert await _scores(lookup, users) == expected
            begin_migration(slot, home, away)
            migrate_keys(home, away, [key])  # user 5's key has left, its slot has not
            assert await _scores(lookup, users) == expected
            assert client.redirects >= 1
            assert client.owners is not None and client.owners[slot] == ("127.0.0.1", home.port)
            assert await _scores(lookup, [5, 10_000]) == [expected[5], None]
            finish_migration(cluster, slot, away)
            assert await _scores(lookup, users) == expected
        finally:
            move_slot(cluster, slot, home)
            await lookup.close()

    asyncio.run(run())


def test_the_blocking_lookup_follows_a_resharding(filled: Twins) -> None:
    cluster = filled.redis_cluster
    _, slot, home, away = _slot_of(cluster, 7)
    lookup = OnlineLookup.open(filled.cluster.settings)
    entities = {"user_id": USERS_ALL, "item_id": [f"i{u % 7}" for u in USERS_ALL]}
    try:
        before = lookup.get_online_features(entities, ["user_item:score"])
        move_slot(cluster, slot, away)
        assert lookup.get_online_features(entities, ["user_item:score"]) == before
    finally:
        move_slot(cluster, slot, home)
        lookup.close()
