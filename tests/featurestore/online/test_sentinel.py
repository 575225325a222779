"""A ``redis+sentinel://`` URL on a real Sentinel: Feast's writes, our lookups and pushes
go to the master the sentinel names, and find the new one after a failover."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from featurestore.errors import OnlineStoreUnavailableError
from featurestore.online import AsyncOnlineLookup, OnlineLookup
from featurestore.push.service import PushService
from featurestore.redis_server import free_port
from tests.cluster_repo import NOW, Side, feast_write, item_stats_rows
from tests.online_repo import make_repo
from tests.redis_cluster import SentinelSetup

pytestmark = pytest.mark.redis

RECOVERY = 10.0  # seconds a lookup may take to find the new master


def _titles(answer: dict[str, Any]) -> list[Any]:
    return list(answer["results"][-1]["values"])


ENTITIES = {"item_id": [f"i{i}" for i in range(7)]}
EXPECTED = [f"item {i}" for i in range(7)]


async def _until_answered(lookup: AsyncOnlineLookup) -> tuple[list[Any], int]:
    """The titles, once a lookup succeeds; how many failed (503) before."""
    failures = 0
    deadline = time.monotonic() + RECOVERY
    while True:
        try:
            answer = await lookup.get_online_features(ENTITIES, ["item_stats:title"])
            return _titles(answer), failures
        except OnlineStoreUnavailableError:
            failures += 1
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def test_sentinel_lookups_writes_and_a_failover(
    redis_sentinel: SentinelSetup, tmp_path: Path
) -> None:
    settings, store = make_repo(tmp_path, redis_sentinel.url(db=3))
    assert store.config.online_store.redis_type == "redis_sentinel"
    side = Side(settings, store, redis_sentinel.sentinel.client())
    feast_write(side, "item_stats", item_stats_rows())  # Feast's own sentinel client
    blocking = OnlineLookup.open(settings)
    assert _titles(blocking.get_online_features(ENTITIES, ["item_stats:title"])) == EXPECTED
    push = PushService.for_project(settings)

    async def run() -> None:
        lookup = AsyncOnlineLookup.open(settings)
        try:
            await lookup.ping()
            assert await _until_answered(lookup) == (EXPECTED, 0)
            before = redis_sentinel.master_port()
            after = await asyncio.to_thread(redis_sentinel.failover)
            assert after != before
            titles, _ = await _until_answered(lookup)  # the same client, no restart
            assert titles == EXPECTED
            await lookup.ping()
            when = (NOW + timedelta(seconds=1)).isoformat()
            written = await asyncio.to_thread(
                _push_until_written, push, {"item_id": ["i0"], "price": [9.0],
                                            "title": ["renamed"], "event_timestamp": [when]},
            )  # fmt: skip
            assert written == 1
            titles, _ = await _until_answered(lookup)
            assert titles == ["renamed", *EXPECTED[1:]]
        finally:
            await lookup.close()

    try:
        asyncio.run(run())
        assert _titles(blocking.get_online_features(ENTITIES, ["item_stats:title"]))[0] in (
            "renamed",  # the blocking client found the new master too
        )
    finally:
        blocking.close()
        push.close()


def _push_until_written(service: PushService, rows: dict[str, list[Any]]) -> int:
    deadline = time.monotonic() + RECOVERY
    while True:
        try:
            return service.push("item_push", rows).online_written
        except OnlineStoreUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_dead_sentinel_is_passed_over_and_an_unknown_master_named(
    redis_sentinel: SentinelSetup, tmp_path: Path
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    url = redis_sentinel.url(db=5).replace("redis+sentinel://", f"redis+sentinel://{dead},")
    settings, store = make_repo(tmp_path, url)
    feast_write(Side(settings, store, redis_sentinel.sentinel.client()), "item_stats",
                item_stats_rows())  # fmt: skip

    async def run(settings: Any) -> None:
        lookup = AsyncOnlineLookup.open(settings)
        try:
            assert await _until_answered(lookup) == (EXPECTED, 0)
        finally:
            await lookup.close()

    asyncio.run(run(settings))
    unknown = replace(settings, redis_url=url.replace("/mymaster/", "/nosuchmaster/"))

    async def refused() -> str:
        lookup = AsyncOnlineLookup.open(unknown)
        try:
            with pytest.raises(OnlineStoreUnavailableError) as error:
                await lookup.ping()
            return error.value.reason
        finally:
            await lookup.close()

    reason = asyncio.run(refused())
    assert "no sentinel named the master 'nosuchmaster'" in reason
    assert "knows no master 'nosuchmaster'" in reason
