"""Hostile strings through every way a request reaches Redis: entity values, join key
names, feature and feature service names, pushed rows. Each is either looked up or
written as the exact bytes it is (our lookups pack RESP by hand: lengths, not
delimiters) or refused with a clean 4xx; Redis keeps every key it had."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.settings import ApiSettings
from tests.api.test_protocol import Conn, post
from tests.online_repo import OnlineRepo, ServerThread, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis]

NOW = datetime.now(UTC)
RESP = "\r\n*1\r\n$8\r\nFLUSHALL\r\n"
HOSTILE = [
    RESP,
    "i1\r\n*3\r\n$3\r\nDEL\r\n$2\r\ni2\r\n",
    "*1\r\n$8\r\nFLUSHALL",
    "'; DROP TABLE x; --",
    '"); FLUSHALL; --',
    "\x00",
    "i1\x00",
    "${HOME}",
    "\u2028é",
]


@pytest.fixture(scope="module")
def repo(online_repo: OnlineRepo) -> OnlineRepo:  # noqa: F811
    online_repo.reset()
    online_repo.write(
        "item_stats",
        {"item_id": ["i1", "i2"], "price": [9.5, 3.0], "title": ["a", "b"],
         "event_timestamp": [NOW] * 2},
    )  # fmt: skip
    return online_repo


@pytest.fixture(scope="module")
def client(repo: OnlineRepo) -> Iterator[TestClient]:
    with TestClient(create_app(repo.settings, ApiSettings(registry_refresh_seconds=0))) as test:
        yield test


@pytest.fixture
def keys_kept(repo: OnlineRepo) -> Iterator[None]:
    """Every key Redis held before the test is still there after, with its fields."""
    before = {key: repo.redis.hgetall(key) for key in repo.redis.scan_iter()}
    yield
    assert repo.redis.ping()
    after = {key: repo.redis.hgetall(key) for key in before}
    assert after == before


def _lookup(entities: dict[str, Any], features: list[str] | None = None) -> dict[str, Any]:
    return {"features": features or ["item_stats:price", "item_stats:title"], "entities": entities}


@pytest.mark.usefixtures("keys_kept")
def test_hostile_entity_values_are_looked_up_as_they_are(
    client: TestClient, repo: OnlineRepo
) -> None:
    body = _lookup({"item_id": ["i1", *HOSTILE, "i2"]})
    answer = client.post("/get-online-features", json=body)
    assert answer.status_code == 200
    price = answer.json()["results"][1]
    assert price["values"] == [9.5, *[None] * len(HOSTILE), 3.0]
    assert price["statuses"] == ["PRESENT", *["NOT_FOUND"] * len(HOSTILE), "PRESENT"]
    assert answer.json()["results"][0]["values"] == ["i1", *HOSTILE, "i2"]
    with ServerThread(repo.settings) as server:  # the inline route: the same bytes
        conn = Conn(server.port)
        conn.send(post(orjson.dumps(body)))
        status, _, inline = conn.response()
        conn.close()
    assert status == 200 and orjson.loads(inline) == answer.json()
    records = client.post(
        "/feature-services/ranking_model/online",
        json={"entities": [{"user_id": 1, "item_id": value} for value in HOSTILE]},
    )
    assert records.status_code == 200
    assert [record["item_id"] for record in records.json()["records"]] == HOSTILE


@pytest.mark.usefixtures("keys_kept")
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (_lookup({"user_id": [RESP]}, ["user_stats:f_int64"]), 422, "wrong_entity_type"),
        (_lookup({RESP: ["i1"]}), 422, "missing_join_key"),
        (_lookup({"item_id": ["i1"]}, [f"item_stats:{RESP}"]), 422, "unknown_feature"),
        (_lookup({"item_id": ["i1"]}, [f"{RESP}:price"]), 422, "unknown_feature"),
        (_lookup({"item_id": ["i1"]}, [RESP]), 422, None),
        (_lookup({"item_id": ["i1"]}, ["item_stats:price'; DROP TABLE x; --"]), 422, None),
        ({"feature_service": RESP, "entities": {"item_id": ["i1"]}}, 404, None),
    ],
)
def test_hostile_names_are_a_clean_4xx(
    client: TestClient, body: dict[str, Any], status: int, code: str | None
) -> None:
    answer = client.post("/get-online-features", json=body)
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"detail", "code"}
    if code is not None:
        assert answer.json()["code"] == code


@pytest.mark.usefixtures("keys_kept")
def test_hostile_path_parameters_are_a_clean_404(client: TestClient) -> None:
    for value in (RESP, "'; DROP TABLE x; --", "../../feature_store.yaml"):
        answer = client.post(
            f"/feature-services/{quote(value, safe='')}/online",
            json={"entities": [{"item_id": "i1"}]},
        )
        assert answer.status_code == 404, value
        # An encoded '/' is decoded before routing: no route matches, which is a 404 too.
        assert answer.json()["code"] in ("unknown_feature_service", "not_found")


def test_hostile_pushed_rows_are_stored_as_one_key_each(
    client: TestClient, repo: OnlineRepo
) -> None:
    before = repo.redis.dbsize()
    pushed = client.post(
        "/push",
        json={
            "push_source_name": "item_push",
            "df": {"item_id": HOSTILE, "price": [1.0] * len(HOSTILE), "title": HOSTILE,
                   "event_timestamp": [NOW.isoformat()] * len(HOSTILE)},
            "to": "online",
        },
    )  # fmt: skip
    assert pushed.status_code == 200, pushed.text
    assert repo.redis.dbsize() == before + len(HOSTILE)
    answer = client.post("/get-online-features", json=_lookup({"item_id": ["i1", *HOSTILE]}))
    assert answer.json()["results"][2]["values"] == ["a", *HOSTILE]  # titles, byte for byte
    refused = [
        ("/write-to-online-store", {"feature_view_name": RESP, "df": {"item_id": ["x"]}}, 404),
        ("/push", {"push_source_name": RESP, "df": {"item_id": ["x"]}}, 404),
        ("/write-to-online-store",
         {"feature_view_name": "item_stats", "df": {RESP: ["x"], "item_id": ["x"]}}, 422),
    ]  # fmt: skip
    for route, body, status in refused:
        answer = client.post(route, json=body)
        assert answer.status_code == status, (route, answer.text)
        assert set(answer.json()) == {"detail", "code"}
    assert repo.redis.dbsize() == before + len(HOSTILE)
