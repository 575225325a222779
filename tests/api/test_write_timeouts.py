"""Writes against a frozen or refusing Redis: 503 in about the Redis timeout, never a hang,
and hung writes never hold the threads other routes need.

Each test runs its own redis-server (``own_redis``) and freezes it with SIGSTOP.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.settings import ApiSettings
from featurestore.redis_server import LocalRedis
from tests.frozen_redis import frozen
from tests.online_repo import ServerThread, make_repo

pytestmark = [pytest.mark.redis]

ROWS = {"item_id": ["w1"], "price": [1.0], "title": ["t"],
        "event_timestamp": [datetime(2024, 1, 1, tzinfo=UTC).isoformat()]}  # fmt: skip
WRITES: list[tuple[str, dict[str, Any]]] = [
    ("/write-to-online-store", {"feature_view_name": "item_stats", "df": ROWS}),
    ("/push", {"push_source_name": "item_push", "df": ROWS, "to": "online"}),
]
UNAVAILABLE = {
    "detail": "the online store (Redis) is unavailable",
    "code": "online_store_unavailable",
}


def _timed(client: TestClient, path: str, body: dict[str, Any]) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    answer = client.post(path, json=body)
    return answer, time.monotonic() - start


def test_writes_to_a_frozen_redis_are_503_within_the_timeout(
    tmp_path: Path, own_redis: LocalRedis
) -> None:
    settings, _ = make_repo(tmp_path, own_redis.url)
    api = ApiSettings(redis_timeout=0.5, registry_refresh_seconds=0)
    with TestClient(create_app(settings, api)) as client:
        with frozen(own_redis, thaw_after=10):  # before any write: connecting hangs too
            for path, body in WRITES:
                answer, elapsed = _timed(client, path, body)
                assert (answer.status_code, answer.json()) == (503, UNAVAILABLE), path
                assert elapsed < 3, (path, elapsed)  # 0.5 s and a margin; was: until thawed
        for path, body in WRITES:  # Redis is back: the next write reconnects
            assert client.post(path, json=body).status_code == 200, path


def test_writes_to_a_refusing_redis_are_503_at_once(tmp_path: Path, own_redis: LocalRedis) -> None:
    settings, _ = make_repo(tmp_path, own_redis.url)
    api = ApiSettings(redis_timeout=0.5, registry_refresh_seconds=0)
    with TestClient(create_app(settings, api)) as client:
        own_redis.stop()
        for path, body in WRITES:
            answer, elapsed = _timed(client, path, body)
            assert (answer.status_code, answer.json()) == (503, UNAVAILABLE), path
            assert elapsed < 2, (path, elapsed)  # no retries with backoff (were ~7 s)


def test_hung_writes_do_not_starve_other_routes(tmp_path: Path, own_redis: LocalRedis) -> None:
    """More hung writes than starlette's shared pool has threads (40): the catalog still
    answers, and writes beyond the writes' own threads are refused at once."""
    settings, _ = make_repo(tmp_path, own_redis.url)
    api = ApiSettings(redis_timeout=4, write_threads=2, registry_refresh_seconds=0)
    path, body = WRITES[0]
    with ServerThread(settings, api) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/catalog/feature-views").status_code == 200
        with frozen(own_redis, thaw_after=20), ThreadPoolExecutor(45) as senders:
            writes = [senders.submit(http.post, path, json=body, timeout=30) for _ in range(45)]
            # All but the two writes that get a thread are refused once they waited half
            # the Redis timeout (2 s) for one, before the two time out on Redis (4 s).
            deadline = time.monotonic() + 3.5
            while sum(w.done() for w in writes) < 43 and time.monotonic() < deadline:
                wait(writes, timeout=0.05, return_when=FIRST_EXCEPTION)
            start = time.monotonic()
            catalog = http.get("/catalog/feature-views", timeout=30)
            catalog_seconds = time.monotonic() - start
            waiting = sum(not w.done() for w in writes)
            assert catalog.status_code == 200
            assert catalog_seconds < 2  # was: queued behind the hung writes until thawed
            refused = [w.result() for w in writes if w.done()]
            assert len(refused) == 43 and waiting == 2
            assert all(r.status_code == 503 for r in refused)
            assert {r.json()["code"] for r in refused} == {"server_busy"}
            assert "FEATURESTORE_WRITE_THREADS" in refused[0].json()["detail"]
            hung = [w.result() for w in writes]
        assert all(r.status_code == 503 for r in hung)
        assert sum(r.json() == UNAVAILABLE for r in hung) == 2  # the two that had a thread
