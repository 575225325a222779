"""The API on a real Redis Cluster: the answers of one Redis, and a master's failover
survived without a restart (503 for the keys it held while it is down, 200 for the rest,
200 again once its replica took over)."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.settings import ApiSettings
from featurestore.redis_layout import KeyEncoder
from featurestore.value_types import ValueType
from tests.cluster_repo import (
    Side,
    Twins,
    feast_write,
    item_stats_rows,
    twin_repos,
    twins,
    user_stats_rows,
)
from tests.online_repo import PROJECT, ServerThread, make_repo
from tests.redis_cluster import Cluster, Node, start_cluster, wait_healthy

__all__ = ["twin_repos", "twins"]  # the fixtures

pytestmark = pytest.mark.redis

TIMEOUT = 0.5  # FEATURESTORE_REDIS_TIMEOUT of the failover test's server
LOOKUPS: list[dict[str, Any]] = [
    {"feature_service": "ranking_model",
     "entities": {"user_id": [0, 1, 2, 99], "item_id": ["i0", "i1", "i2", "nope"]}},
    {"features": ["user_stats:f_string", "user_stats:f_doubles", "item_stats:price"],
     "entities": {"user_id": list(range(30)), "item_id": [f"i{u % 9}" for u in range(30)]},
     "full_feature_names": True},
]  # fmt: skip


@pytest.fixture
def filled(twins: Twins) -> Iterator[Twins]:
    for side in (twins.single, twins.cluster):
        feast_write(side, "user_stats", user_stats_rows(30))
        feast_write(side, "item_stats", item_stats_rows())
    yield twins


def _answers(side: Side) -> list[tuple[int, Any]]:
    api = ApiSettings(registry_refresh_seconds=0)
    with TestClient(create_app(side.settings, api)) as client:
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.json()
        answers = []
        for body in LOOKUPS:
            answer = client.post("/get-online-features", json=body)
            answers.append((answer.status_code, answer.json()))
        pushed = client.post(
            "/push",
            json={"push_source_name": "item_push", "to": "online",
                  "df": {"item_id": ["new"], "price": [3.0], "title": ["pushed"],
                         "event_timestamp": ["2026-01-01T00:00:00Z"]}},
        )  # fmt: skip
        answers.append((pushed.status_code, pushed.json()))
    return answers


def test_the_cluster_answers_as_one_redis(filled: Twins) -> None:
    single = _answers(filled.single)
    assert [status for status, _ in single] == [200, 200, 200]
    assert _answers(filled.cluster) == single
    assert filled.cluster.dump() == filled.single.dump()


# -- failover ----------------------------------------------------------------------------


def _item_key(item: str) -> bytes:
    return KeyEncoder(PROJECT, ["item_id"], [ValueType.STRING]).key([item])


def _post(port: int, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
    """(status, JSON, seconds) of one request on a connection of its own."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    start = time.monotonic()
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload, time.monotonic() - start


def _lookup(port: int, item: str) -> tuple[int, dict[str, Any], float]:
    return _post(
        port, "/get-online-features",
        {"features": ["item_stats:title"], "entities": {"item_id": [item]}},
    )  # fmt: skip


def _ready(port: int) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/ready")
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A cluster of this test's own: it kills a master."""
    cluster = start_cluster(tmp_path / "cluster")
    yield cluster
    cluster.stop()


def _until(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def test_a_master_failover_is_503_then_200_without_a_restart(
    own_cluster: Cluster, tmp_path: Path
) -> None:
    settings, store = make_repo(tmp_path / "repo", own_cluster.url())
    items = [f"item{i}" for i in range(60)]
    rows = {"item_id": items, "price": [1.0] * 60, "title": [f"t-{i}" for i in items],
            "event_timestamp": ["2026-01-01T00:00:00Z"] * 60}  # fmt: skip
    feast_write(Side(settings, store, own_cluster.client()), "item_stats", rows)
    doomed: Node = own_cluster.masters[0]  # the master with a replica
    replica = own_cluster.replicas[0]
    on_doomed = next(i for i in items if own_cluster.node_of(_item_key(i)).port == doomed.port)
    elsewhere = next(i for i in items if own_cluster.node_of(_item_key(i)).port != doomed.port)
    api = ApiSettings(registry_refresh_seconds=0, redis_timeout=TIMEOUT)
    with ServerThread(settings, api) as server:
        for item in (on_doomed, elsewhere):
            status, body, _ = _lookup(server.port, item)
            assert (status, body["results"][-1]["values"]) == (200, [f"t-{item}"])
        doomed.kill()  # SIGKILL
        for _ in range(3):  # down, not yet replaced: 503 for its keys, fast; 200 elsewhere
            status, body, seconds = _lookup(server.port, on_doomed)
            assert (status, body["code"]) == (503, "online_store_unavailable")
            assert seconds < 2 * TIMEOUT + 1.0
            status, body, _ = _lookup(server.port, elsewhere)
            assert (status, body["results"][-1]["values"]) == (200, [f"t-{elsewhere}"])
        pushed = _post(
            server.port, "/push",
            {"push_source_name": "item_push", "to": "online",
             "df": {"item_id": [on_doomed], "price": [2.0], "title": ["after"],
                    "event_timestamp": ["2026-01-02T00:00:00Z"]}},
        )  # fmt: skip
        assert (pushed[0], pushed[1]["code"]) == (503, "online_store_unavailable")
        status, ready = _ready(server.port)
        assert status == 503 and str(doomed.port) in ready["redis"]
        replica.client().execute_command("CLUSTER FAILOVER", "TAKEOVER")
        _until(lambda: replica.client().info("replication")["role"] == "master")
        wait_healthy(own_cluster)
        status, body, _ = _until(lambda: (r := _lookup(server.port, on_doomed))[0] == 200 and r)
        assert body["results"][-1]["values"] == [f"t-{on_doomed}"]  # the replica's copy
        pushed = _post(
            server.port, "/push",
            {"push_source_name": "item_push", "to": "online",
             "df": {"item_id": [on_doomed], "price": [2.0], "title": ["after"],
                    "event_timestamp": ["2026-01-02T00:00:00Z"]}},
        )  # fmt: skip
        assert pushed[0] == 200, pushed[1]
        status, body, _ = _lookup(server.port, on_doomed)
        assert (status, body["results"][-1]["values"]) == (200, ["after"])
        assert _ready(server.port)[0] == 200
        metrics = _metrics(server.port)
        assert metrics["featurestore_redis_cluster_slot_map_reads_total"] >= 2  # first, after
        assert metrics["featurestore_redis_errors_total"] >= 3


def _metrics(port: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.partition(" ")
            values[name] = float(value)
    return values
