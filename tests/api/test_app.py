"""The service around the lookups: readiness, OpenAPI, the per-model route, writes,
API keys, CORS, limits and metrics, through a real app on a real Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.settings import ApiSettings
from featurestore.errors import ConfigError
from tests.online_repo import OnlineRepo, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis]

NOW = datetime.now(UTC)
LOOKUP = {"features": ["item_stats:price"], "entities": {"item_id": ["i1"]}}


@pytest.fixture(scope="module")
def repo(online_repo: OnlineRepo) -> OnlineRepo:  # noqa: F811
    online_repo.reset()
    online_repo.write(
        "item_stats",
        {
            "item_id": ["i1", "i2"],
            "price": [9.5, 3.0],
            "title": ["a", "b"],
            "event_timestamp": [NOW] * 2,
        },
    )
    online_repo.write(
        "user_item",
        {
            "user_id": [1],
            "item_id": ["i1"],
            "score": [0.5],
            "clicks": [4],
            "event_timestamp": [NOW],
        },
    )
    online_repo.write(
        "user_stats",
        {"user_id": [1], "event_timestamp": [NOW], "f_int64": [7], "f_double": [2.0],
         **{n: [None] for n in ["f_float", "f_int32", "f_string", "f_bool", "f_bytes", "f_ts",
                                "f_doubles", "f_strings"]}},
    )  # fmt: skip
    return online_repo


def _client(repo: OnlineRepo, **settings: object) -> TestClient:
    api = ApiSettings(registry_refresh_seconds=0, **settings)  # type: ignore[arg-type]
    return TestClient(create_app(repo.settings, api))


@pytest.fixture(scope="module")
def client(repo: OnlineRepo) -> Iterator[TestClient]:
    with _client(repo, max_entities=5, max_body_bytes=2000) as test_client:
        yield test_client


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"ready": True, "redis": "ok", "registry": "ok"}


def test_openapi_documents_the_routes_with_examples_from_the_registry(
    client: TestClient,
) -> None:
    deadline = time.monotonic() + 30
    spec = client.get("/openapi.json").json()
    while "examples" not in _lookup_schema(spec) and time.monotonic() < deadline:
        time.sleep(0.05)  # the examples are built in a thread at start-up
        spec = client.get("/openapi.json").json()
    for path in ("/get-online-features", "/feature-services/{name}/online", "/push",
                 "/write-to-online-store", "/health", "/ready", "/metrics"):  # fmt: skip
        assert path in spec["paths"], path
    first = _lookup_schema(spec)["examples"][0]
    assert first["feature_service"] == "ranking_model"  # the registry's only service
    assert set(first["entities"]) == {"user_id", "item_id"}
    assert "422" in spec["paths"]["/get-online-features"]["post"]["responses"]


def _lookup_schema(spec: dict[str, Any]) -> dict[str, Any]:
    body = spec["paths"]["/get-online-features"]["post"]["requestBody"]
    schema: dict[str, Any] = body["content"]["application/json"]["schema"]
    return schema


def test_feature_service_records_are_row_major(client: TestClient) -> None:
    answer = client.post(
        "/feature-services/ranking_model/online",
        json={"entities": [{"user_id": 1, "item_id": "i1"}, {"user_id": 2, "item_id": "i2"}]},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["records"][0] == {
        "user_id": 1, "item_id": "i1", "title": "a", "price": 9.5,
        "f_int64": 7, "f_double": 2.0, "score": 0.5, "clicks": 4,
    }  # fmt: skip
    assert body["records"][1]["f_int64"] is None
    assert body["statuses"][1]["f_int64"] == "NOT_FOUND"
    assert body["statuses"][1]["price"] == "PRESENT"
    columns = client.post(
        "/feature-services/ranking_model/online",
        json={"entities": {"user_id": [1], "item_id": ["i1"]}},
    )
    assert columns.json()["records"] == body["records"][:1]


def test_feature_service_route_unknown_service(client: TestClient) -> None:
    answer = client.post("/feature-services/nope/online", json={"entities": [{"user_id": 1}]})
    assert answer.status_code == 404
    assert answer.json()["code"] == "unknown_feature_service"


def test_write_to_online_store_then_read(client: TestClient) -> None:
    written = client.post(
        "/write-to-online-store",
        json={
            "feature_view_name": "item_stats",
            "df": {"item_id": ["w1"], "price": [1.25], "title": ["w"],
                   "event_timestamp": [NOW.isoformat()]},
        },
    )  # fmt: skip
    assert written.status_code == 200, written.text
    answer = client.post(
        "/get-online-features",
        json={"features": ["item_stats:price"], "entities": {"item_id": ["w1"]}},
    )
    assert answer.json()["results"][1]["values"] == [1.25]


def test_push_then_read(client: TestClient) -> None:
    pushed = client.post(
        "/push",
        json={
            "push_source_name": "item_push",
            "df": {"item_id": ["p1"], "price": [4.5], "title": ["p"],
                   "event_timestamp": [NOW.isoformat()]},
            "to": "online",
        },
    )  # fmt: skip
    assert pushed.status_code == 200, pushed.text
    answer = client.post(
        "/get-online-features",
        json={"features": ["item_stats:title"], "entities": {"item_id": ["p1"]}},
    )
    assert answer.json()["results"][1]["values"] == ["p"]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/push", {"push_source_name": "nope", "df": {"item_id": ["x"]}}, 404, "not_found"),
        ("/write-to-online-store", {"feature_view_name": "nope", "df": {"a": [1]}},
         404, "not_found"),
        ("/write-to-online-store", {"feature_view_name": "item_stats", "df": {"price": [1.0]}},
         422, "invalid_request"),
        ("/push", {"push_source_name": "item_push", "df": {}, "to": "nowhere"},
         422, "invalid_request"),
    ],
)  # fmt: skip
def test_bad_writes_are_4xx(
    client: TestClient, path: str, body: dict[str, object], status: int, code: str
) -> None:
    answer = client.post(path, json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code


def test_entity_limit_is_422_naming_it(client: TestClient) -> None:
    answer = client.post(
        "/get-online-features",
        json={"features": ["item_stats:price"], "entities": {"item_id": ["i1"] * 6}},
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "too_many_entities"
    assert "limit is 5" in answer.json()["detail"]


@pytest.mark.parametrize("route", ["/push", "/write-to-online-store"])
def test_write_routes_honour_the_body_limit(client: TestClient, route: str) -> None:
    """Issue 13, 5: the write routes parsed a 26 MB body whole; the limit (2000 bytes
    here) holds for them as for lookups, declared length or not."""
    body = {"push_source_name": "item_push", "feature_view_name": "item_stats",
            "df": {"item_id": ["x" * 3000]}}  # fmt: skip
    answer = client.post(route, json=body)
    assert answer.status_code == 413
    assert answer.json()["code"] == "request_too_large"
    chunked = client.post(route, content=iter([b'{"df": {"item_id": ["', b"x" * 3000, b'"]}}']))
    assert chunked.status_code == 413


@pytest.mark.parametrize("route", ["/push", "/write-to-online-store"])
def test_write_routes_name_a_malformed_body(client: TestClient, route: str) -> None:
    answer = client.post(route, json={"df": {"item_id": ["x"]}})
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request"
    assert "_name: Field required" in answer.json()["detail"]


def test_feature_ref_limit_is_422_naming_it(repo: OnlineRepo) -> None:
    """Issue 13, 1: 20,000 refs took 6.65 s (a quadratic duplicate count) and blocked
    every other request; now they are refused by count before any other work."""
    body = {"features": [f"v:{i}" for i in range(20_000)], "entities": {"item_id": ["i1"]}}
    with _client(repo, max_entities=5, max_body_bytes=1_048_576) as test_client:
        answer = test_client.post("/get-online-features", json=body)
        assert answer.status_code == 422
        assert answer.json()["code"] == "too_many_features"
        assert answer.json()["detail"] == "20000 features in one request; the limit is 1000"
        duplicated = {"features": ["item_stats:price"] * 2, "entities": {"item_id": ["i1"]}}
        again = test_client.post("/get-online-features", json=duplicated)
        assert again.json()["code"] == "duplicate_feature"


def test_body_limit_is_413_naming_it(client: TestClient) -> None:
    body = {"features": ["item_stats:price"], "entities": {"item_id": ["x" * 3000]}}
    answer = client.post("/get-online-features", json=body)
    assert answer.status_code == 413
    assert answer.json()["code"] == "request_too_large"
    assert "limit is 2000 bytes" in answer.json()["detail"]


def test_malformed_json_and_unknown_routes_are_json(client: TestClient) -> None:
    bad = client.post(
        "/get-online-features", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_request")
    missing = client.get("/nope")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def test_metrics_count_requests_per_endpoint_and_feature_service(client: TestClient) -> None:
    client.post("/get-online-features", json=LOOKUP)
    client.post(
        "/get-online-features",
        json={"feature_service": "ranking_model", "entities": {"user_id": [1], "item_id": ["i1"]}},
    )
    text = client.get("/metrics").text
    assert (
        'featurestore_http_requests_total{endpoint="/get-online-features",method="POST",status="200"}'
        in text
    )
    assert 'featurestore_online_lookups_total{feature_service="ranking_model",outcome="ok"}' in text
    assert 'featurestore_online_lookup_seconds_bucket{feature_service="ranking_model"' in text
    assert 'featurestore_http_request_seconds_bucket{endpoint="/get-online-features"' in text
    assert "featurestore_redis_errors_total 0.0" in text


def test_api_keys(repo: OnlineRepo) -> None:
    with _client(repo, api_keys=("s3cret", "other-key")) as client:
        assert client.post("/get-online-features", json=LOOKUP).status_code == 401
        for header in ("Bearer wrong", "Bearer s3cre", "Basic s3cret", "Bearer "):
            answer = client.post(
                "/get-online-features", json=LOOKUP, headers={"Authorization": header}
            )
            assert answer.status_code == 401
            # The same answer whatever was sent: nothing says which keys exist.
            assert answer.json() == {"detail": "missing or invalid API key", "code": "unauthorized"}
            assert answer.headers["www-authenticate"] == "Bearer"
        for key in ("s3cret", "other-key"):
            ok = client.post(
                "/get-online-features", json=LOOKUP, headers={"Authorization": f"Bearer {key}"}
            )
            assert ok.status_code == 200
        assert client.get("/metrics").status_code == 401
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 200


def test_cors_is_off_by_default_and_configurable(client: TestClient, repo: OnlineRepo) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    answer = client.options("/get-online-features", headers=preflight)
    assert "access-control-allow-origin" not in answer.headers
    with _client(repo, cors_origins=("https://app.example",)) as cors_client:
        allowed = cors_client.options("/get-online-features", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        posted = cors_client.post(
            "/get-online-features", json=LOOKUP, headers={"Origin": "https://app.example"}
        )
        assert posted.headers["access-control-allow-origin"] == "https://app.example"


def test_settings_from_env() -> None:
    env = {
        "FEATURESTORE_API_KEYS": "key-one, key-two,,",
        "FEATURESTORE_CORS_ORIGINS": "https://x.example",
        "FEATURESTORE_MAX_ENTITIES": "50",
        "FEATURESTORE_REDIS_TIMEOUT": "0.25",
        "FEATURESTORE_API_WORKERS": "3",
    }
    settings = ApiSettings.from_env(env)
    assert settings.api_keys == ("key-one", "key-two")
    assert settings.cors_origins == ("https://x.example",)
    assert (settings.max_entities, settings.redis_timeout, settings.workers) == (50, 0.25, 3)
    assert "key-one" not in repr(settings)
    with pytest.raises(ConfigError, match="FEATURESTORE_MAX_ENTITIES"):
        ApiSettings.from_env({"FEATURESTORE_MAX_ENTITIES": "many"})
