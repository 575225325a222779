"""Where Feast's feature server is wrong, side by side with ours, same request, same Redis.

Feast's app is built in-process (``feast.feature_server.get_app``) over the same repo and
Redis database as ours; each test sends both the same body and shows the difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from feast.feature_server import get_app

from api import create_app
from api.settings import ApiSettings
from tests.online_repo import OnlineRepo, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis]

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def clients(online_repo: OnlineRepo) -> Iterator[tuple[TestClient, TestClient]]:  # noqa: F811
    online_repo.reset()
    online_repo.write(
        "user_stats",
        {
            "user_id": [1, 2, 3],
            "event_timestamp": [NOW, NOW - timedelta(days=3), NOW],
            "f_double": [1.5, 2.5, None],
            "f_int64": [10, 20, 30],
            "f_string": ["a", "b", "c"],
            **{
                name: [None, None, None]
                for name in ["f_float", "f_int32", "f_bool", "f_bytes", "f_ts"]
            },
            "f_doubles": [[1.0], [2.0], [3.0]],
            "f_strings": [["x"], ["y"], ["z"]],
        },
    )
    feast = TestClient(get_app(online_repo.store), raise_server_exceptions=False)
    ours = TestClient(create_app(online_repo.settings, ApiSettings(registry_refresh_seconds=0)))
    with feast, ours:
        yield feast, ours


def _column(answer: dict[str, Any], name: str) -> dict[str, list[Any]]:
    index = answer["metadata"]["feature_names"].index(name)
    result: dict[str, list[Any]] = answer["results"][index]
    return result


def _both(clients: tuple[TestClient, TestClient], body: dict[str, Any]) -> tuple[Any, Any]:
    feast, ours = clients
    return feast.post("/get-online-features", json=body), ours.post(
        "/get-online-features", json=body
    )


def test_missing_entity_is_not_found(clients: tuple[TestClient, TestClient]) -> None:
    feast, ours = _both(
        clients, {"features": ["user_stats:f_int64"], "entities": {"user_id": [99]}}
    )
    assert _column(feast.json(), "f_int64")["statuses"] == ["PRESENT"]  # Feast: wrong
    assert _column(feast.json(), "f_int64")["values"] == [None]
    assert _column(ours.json(), "f_int64")["statuses"] == ["NOT_FOUND"]
    assert _column(ours.json(), "f_int64")["values"] == [None]
    assert _column(ours.json(), "f_int64")["event_timestamps"] == ["1970-01-01T00:00:00Z"]


def test_value_older_than_ttl_is_outside_max_age(clients: tuple[TestClient, TestClient]) -> None:
    # user 2's row is 3 days old; user_stats has a TTL of 1 day.
    feast, ours = _both(clients, {"features": ["user_stats:f_int64"], "entities": {"user_id": [2]}})
    assert _column(feast.json(), "f_int64")["statuses"] == ["PRESENT"]  # Feast: wrong
    assert _column(ours.json(), "f_int64")["statuses"] == ["OUTSIDE_MAX_AGE"]
    # The stale value is still returned (and its event time), for the caller to judge.
    assert _column(ours.json(), "f_int64")["values"] == [20]
    assert (
        _column(ours.json(), "f_int64")["event_timestamps"]
        == _column(feast.json(), "f_int64")["event_timestamps"]
    )


def test_stored_null_is_null_value(clients: tuple[TestClient, TestClient]) -> None:
    feast, ours = _both(
        clients, {"features": ["user_stats:f_double"], "entities": {"user_id": [3]}}
    )
    assert _column(feast.json(), "f_double")["statuses"] == ["PRESENT"]  # Feast: PRESENT + null
    assert _column(feast.json(), "f_double")["values"] == [None]
    assert _column(ours.json(), "f_double")["statuses"] == ["NULL_VALUE"]
    assert _column(ours.json(), "f_double")["values"] == [None]


def test_request_order_is_kept(clients: tuple[TestClient, TestClient]) -> None:
    refs = ["user_stats:f_string", "item_stats:price", "user_stats:f_double", "user_stats:f_int64"]
    body = {"features": refs, "entities": {"user_id": [1], "item_id": ["i1"]}}
    feast, ours = _both(clients, body)
    wanted = ["user_id", "item_id", "f_string", "price", "f_double", "f_int64"]
    assert ours.json()["metadata"]["feature_names"] == wanted
    assert feast.json()["metadata"]["feature_names"] != wanted  # Feast: scrambled
    assert sorted(feast.json()["metadata"]["feature_names"]) == sorted(wanted)


def test_feature_service_order_is_its_definition(clients: tuple[TestClient, TestClient]) -> None:
    body = {"feature_service": "ranking_model", "entities": {"user_id": [1], "item_id": ["i1"]}}
    feast, ours = _both(clients, body)
    wanted = ["user_id", "item_id", "title", "price", "f_int64", "f_double", "score", "clicks"]
    assert ours.json()["metadata"]["feature_names"] == wanted
    assert sorted(feast.json()["metadata"]["feature_names"]) == sorted(wanted)


@pytest.mark.parametrize(
    ("body", "code", "named"),
    [
        ({"features": ["user_stats:nope"], "entities": {"user_id": [1]}},
         "unknown_feature", "user_stats:nope"),
        ({"features": ["user_stats:f_double"], "entities": {"user_id": ["abc"]}},
         "wrong_entity_type", "user_id"),
        ({"features": ["user_stats:f_double"], "entities": {"item_id": ["i1"]}},
         "missing_join_key", "user_id"),
        ({"features": ["user_stats:f_double", "user_stats:f_double"],
          "entities": {"user_id": [1]}},
         "duplicate_feature", "user_stats:f_double"),
    ],
)  # fmt: skip
def test_mistakes_are_4xx_json_naming_the_problem(
    clients: tuple[TestClient, TestClient], body: dict[str, Any], code: str, named: str
) -> None:
    feast, ours = _both(clients, body)
    assert feast.status_code == 500  # Feast: 500 with a bare JSON string
    assert isinstance(feast.json(), str)
    assert ours.status_code == 422
    assert ours.json()["code"] == code
    assert named in ours.json()["detail"]
    assert set(ours.json()) == {"detail", "code"}


def test_same_values_where_feast_is_right(clients: tuple[TestClient, TestClient]) -> None:
    refs = ["user_stats:f_double", "user_stats:f_int64", "user_stats:f_doubles"]
    body = {"features": refs, "entities": {"user_id": [1, 2, 3]}, "full_feature_names": True}
    feast, ours = _both(clients, body)
    for name in ("user_stats__f_double", "user_stats__f_int64", "user_stats__f_doubles"):
        assert _column(ours.json(), name)["values"] == _column(feast.json(), name)["values"]
        assert (
            _column(ours.json(), name)["event_timestamps"]
            == _column(feast.json(), name)["event_timestamps"]
        )
