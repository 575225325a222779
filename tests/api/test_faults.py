"""Redis going away and coming back, and ``feast apply`` while serving: no restart needed.

Each test runs its own redis-server (``own_redis``, not the session's), so it can stop
and restart it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from feast import FeatureView, Field
from feast.types import Float64

from api import create_app
from api.settings import ApiSettings
from featurestore.redis_server import LocalRedis
from tests.online_repo import make_repo, user

pytestmark = [pytest.mark.redis]

LOOKUP = {"features": ["item_stats:price"], "entities": {"item_id": ["i1"]}}


def test_redis_down_is_503_then_recovers(tmp_path: Path, own_redis: LocalRedis) -> None:
    settings, _ = make_repo(tmp_path, own_redis.url)
    api = ApiSettings(redis_timeout=0.5, registry_refresh_seconds=0)
    with TestClient(create_app(settings, api)) as client:
        assert client.post("/get-online-features", json=LOOKUP).status_code == 200
        own_redis.stop()

        start = time.monotonic()
        down = client.post("/get-online-features", json=LOOKUP)
        elapsed = time.monotonic() - start
        assert down.status_code == 503
        assert down.json() == {
            "detail": "the online store (Redis) is unavailable",
            "code": "online_store_unavailable",
        }
        assert elapsed < 5  # bounded by the Redis timeout, not hung
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["ready"] is False and ready.json()["redis"] != "ok"
        assert "featurestore_redis_errors_total 1.0" in client.get("/metrics").text

        own_redis.start(daemonize=False, persist=False)
        back = client.post("/get-online-features", json=LOOKUP)
        assert back.status_code == 200
        assert back.json()["results"][1]["statuses"] == ["NOT_FOUND"]  # the data went with it
        assert client.get("/ready").status_code == 200


def test_feast_apply_is_picked_up_without_restart(tmp_path: Path, own_redis: LocalRedis) -> None:
    settings, store = make_repo(tmp_path, own_redis.url)
    api = ApiSettings(registry_refresh_seconds=0.2)
    body = {"features": ["user_extra:bonus"], "entities": {"user_id": [1]}}
    with TestClient(create_app(settings, api)) as client:
        unknown = client.post("/get-online-features", json=body)
        assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_feature"

        extra = FeatureView(
            name="user_extra",
            entities=[user],
            ttl=timedelta(days=1),
            schema=[Field(name="bonus", dtype=Float64)],
            source=store.get_feature_view("user_stats").batch_source,
        )
        store.apply([extra])  # what `feast apply` does: a new registry file
        store.write_to_online_store(
            "user_extra",
            pd.DataFrame({"user_id": [1], "bonus": [0.75], "event_timestamp": [datetime.now(UTC)]}),
        )
        deadline = time.monotonic() + 20
        answer = client.post("/get-online-features", json=body)
        while answer.status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            answer = client.post("/get-online-features", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"][1]["values"] == [0.75]
