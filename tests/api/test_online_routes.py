"""The HTTP contract of /get-online-features and /health, through a real app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api import create_app
from featurestore.project import Project

pytestmark = [pytest.mark.slow, pytest.mark.redis]


@pytest.fixture(scope="module")
def client(demo_project: Project) -> Iterator[TestClient]:
    with TestClient(create_app(demo_project)) as test_client:
        yield test_client


def test_health(client: TestClient) -> None:
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_feature_list_answer_shape(client: TestClient) -> None:
    answer = client.post(
        "/get-online-features",
        json={
            "features": ["weather_hourly:temp", "weather_hourly:visib"],
            "entities": {"origin": ["JFK", "EWR", "LGA"]},
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["metadata"]["feature_names"][0] == "origin"
    assert set(body["metadata"]["feature_names"]) == {"origin", "temp", "visib"}
    assert len(body["results"]) == 3
    for result in body["results"]:
        assert set(result) == {"values", "statuses", "event_timestamps"}
        assert len(result["values"]) == len(result["statuses"]) == 3
        assert all(ts.endswith("Z") for ts in result["event_timestamps"])
    entity = body["results"][0]
    assert entity["values"] == ["JFK", "EWR", "LGA"]
    assert entity["event_timestamps"] == ["1970-01-01T00:00:00Z"] * 3


def test_feature_service_with_full_names(client: TestClient) -> None:
    answer = client.post(
        "/get-online-features",
        json={
            "feature_service": "departure_delay_model",
            "entities": {"origin": ["JFK"], "carrier": ["B6"], "tailnum": ["N665JB"]},
            "full_feature_names": True,
        },
    )
    assert answer.status_code == 200
    names = answer.json()["metadata"]["feature_names"]
    assert "weather_hourly__temp" in names
    assert "plane_daily__year_built" in names
    assert "carrier_daily__avg_dep_delay_7d" in names


@pytest.mark.parametrize(
    ("body", "status", "code", "names"),
    [
        (
            {"features": ["weather_hourly:nope"], "entities": {"origin": ["JFK"]}},
            422, "unknown_feature", "weather_hourly:nope",
        ),
        (
            {"feature_service": "nope", "entities": {"origin": ["JFK"]}},
            404, "unknown_feature_service", "nope",
        ),
        (
            {"features": ["carrier_daily:flights_7d"], "entities": {"origin": ["JFK"]}},
            422, "missing_join_key", "carrier",
        ),
        (
            {"features": ["weather_hourly:temp"], "entities": {"origin": [7]}},
            422, "wrong_entity_type", "origin",
        ),
        (
            {"features": ["weather_hourly:temp"] * 2, "entities": {"origin": ["JFK"]}},
            422, "duplicate_feature", "weather_hourly:temp",
        ),
        ({"features": ["weather_hourly:temp"]}, 422, "invalid_request", "entities"),
        ({"features": "weather_hourly:temp", "entities": {}}, 422, "invalid_request", "features"),
    ],
)  # fmt: skip
def test_bad_requests_get_4xx_json(
    client: TestClient, body: dict, status: int, code: str, names: str
) -> None:
    answer = client.post("/get-online-features", json=body)
    assert answer.status_code == status
    error = answer.json()
    assert error["code"] == code
    assert names in error["detail"]


def test_malformed_json_is_4xx(client: TestClient) -> None:
    answer = client.post(
        "/get-online-features", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request"
