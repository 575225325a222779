"""``/push`` and ``/write-to-online-store`` on the demo project's push source, through
real HTTP (TestClient), real Redis and the real push log."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from featurestore.project import Project
from featurestore.push.compact import compact
from featurestore.push.spec import find_push
from tests.api_process import ApiProcess
from tests.push_project import SOURCE, TABLE, applied_push_project, db, push_project, rows

__all__ = ["applied_push_project", "db", "push_project"]


@pytest.fixture
def client(push_project: Project) -> Iterator[TestClient]:
    api = ApiSettings(registry_refresh_seconds=0, push_compact_seconds=0, max_body_bytes=200_000)
    with TestClient(create_app(push_project, api)) as test_client:
        yield test_client


def _push(client: TestClient, body: dict[str, object]) -> httpx.Response:
    return client.post("/push", json={"push_source_name": SOURCE, **body})


def test_feast_wire_format_is_accepted_unchanged(client: TestClient, db: redis.Redis) -> None:
    answer = _push(client, {"df": rows(3), "to": "online"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"rows": 3, "accepted": 3, "quarantined": 0, "online_written": 3,
                             "online_skipped": 0, "logged": 0}  # fmt: skip
    lookup = client.post("/get-online-features", json={
        "features": ["departure_status:hour", "departure_status:status"],
        "entities": {"carrier": ["C1"], "origin": ["EWR"]}})  # fmt: skip
    assert [r["values"][0] for r in lookup.json()["results"][2:]] == [5, "normal"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"hour": [5, 77, 5]}, "row 1: hour = 77 breaks 'hour <= 23'"),
        ({"dep_delay_avg_1h": [2.5, 2.5, 3]},
         "row 2: dep_delay_avg_1h = 3 breaks 'dep_delay_avg_1h is DOUBLE'"),
    ],
)  # fmt: skip
def test_the_seeds_cases_are_refused_naming_the_rule_and_never_reach_redis(
    client: TestClient, db: redis.Redis, change: dict[str, list[object]], named: str
) -> None:
    answer = _push(client, {"df": rows(3, **change), "to": "online_and_offline"})
    assert answer.status_code == 422
    assert answer.json()["code"] == "bad_rows"
    assert named in answer.json()["detail"]
    assert db.dbsize() == 0


def test_quarantine_mode_writes_the_good_rows_and_says_how_many_of_each(
    client: TestClient, db: redis.Redis, push_project: Project
) -> None:
    body = {"df": rows(3, hour=[5, 77, 5]), "to": "online_and_offline", "on_bad_rows": "quarantine"}
    answer = _push(client, body)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["accepted"], answer.json()["quarantined"]) == (2, 1)
    assert db.dbsize() == 2
    metrics = client.get("/metrics").text
    assert f'featurestore_push_rows_total{{outcome="quarantined",target="{SOURCE}"}} 1.0' in metrics
    assert f'featurestore_push_log_bytes{{table="{TABLE}"}}' in metrics
    assert "featurestore_push_seconds_bucket" in metrics


@pytest.mark.parametrize(
    ("body", "status", "code", "named"),
    [
        ({"push_source_name": "nope", "df": {"a": [1]}},
         404, "not_found", "unknown push source 'nope'"),
        ({"push_source_name": SOURCE, "df": {"carrier": ["UA"]}},
         422, "invalid_request", "lack column(s) origin (entity key)"),
        ({"push_source_name": SOURCE, "df": rows(1), "to": "disk"},
         422, "invalid_request", "'to' must be one of"),
        ({"push_source_name": SOURCE, "df": rows(1), "on_bad_rows": "drop"},
         422, "invalid_request", "'on_bad_rows' must be one of"),
        ({"push_source_name": SOURCE, "df": rows(1), "extra": 1},
         422, "invalid_request", "unknown field(s) extra"),
        ({"push_source_name": SOURCE, "df": rows(1, event_timestamp=["2999-01-01T00:00:00Z"])},
         422, "bad_rows", "event_timestamp <= now + 5m"),
        ({"push_source_name": SOURCE, "df": rows(10_000)},
         413, "request_too_large", "the limit is 200000 bytes"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error_and_nothing_is_written(
    client: TestClient, db: redis.Redis, push_project: Project,
    body: dict[str, object], status: int, code: str, named: str,
) -> None:  # fmt: skip
    answer = client.post("/push", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert named in answer.json()["detail"]
    assert db.dbsize() == 0
    assert not push_project.layout.push_log(TABLE).exists()
    lookup = {"features": ["departure_status:hour"],
              "entities": {"carrier": ["UA"], "origin": ["EWR"]}}  # fmt: skip
    health = client.post("/get-online-features", json=lookup)
    assert health.status_code == 200  # lookups keep being served


def test_write_to_online_store_applies_the_job_headers_rules(
    client: TestClient, db: redis.Redis
) -> None:
    row = {"origin": ["JFK"], "event_timestamp": ["2013-01-01T05:00:00Z"],
           **{f: [1.0] for f in ("temp", "dewp", "wind_speed", "wind_gust", "precip",
                                 "pressure", "visib")},
           "humid": [140.0], "wind_dir": [10.0]}  # fmt: skip
    answer = client.post(
        "/write-to-online-store", json={"feature_view_name": "weather_hourly", "df": row}
    )
    assert answer.status_code == 422, answer.text
    assert "humid <= 100" in answer.json()["detail"]
    assert db.dbsize() == 0


def test_offline_pushes_reach_the_table_after_compaction(
    client: TestClient, push_project: Project
) -> None:
    assert _push(client, {"df": rows(4), "to": "offline"}).status_code == 200
    client.app.state.push.close()  # what the background compaction does first  # type: ignore[attr-defined]
    result = compact(push_project, find_push(TABLE, push_project.jobs_dir))
    assert result.written == 4


def test_the_background_compaction_folds_the_log_by_itself(push_project: Project) -> None:
    import time

    api = ApiSettings(registry_refresh_seconds=0, push_compact_seconds=0.2)
    with TestClient(create_app(push_project, api)) as test_client:
        assert _push(test_client, {"df": rows(2), "to": "online_and_offline"}).status_code == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not push_project.layout.table(TABLE).exists():
            time.sleep(0.1)
        assert push_project.layout.table(TABLE).exists()
        lag = [line for line in test_client.get("/metrics").text.splitlines()
               if line.startswith("featurestore_push_compaction_lag_seconds{")]  # fmt: skip
        assert lag == [f'featurestore_push_compaction_lag_seconds{{table="{TABLE}"}} 0.0']


def test_a_served_api_answers_pushes_over_http(push_project: Project, tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    with ApiProcess(push_project, tmp_path / "api.log") as api:
        answer = httpx.post(f"{api.url}/push", json={"push_source_name": SOURCE, "df": rows(2)})
        assert answer.status_code == 200, answer.text
        assert answer.json()["online_written"] == 2
