"""The serving log through the real app on a real Redis: off by default (no thread, no
file), and at rate 1 every answer of both lookup routes is in the files, exactly."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.settings import ApiSettings
from featurestore.errors import ConfigError
from featurestore.monitor.config import MonitorConfig, ServingLogConfig
from featurestore.monitor.serving_log import answered, log_files, read_log
from featurestore.project import Project
from tests.online_repo import OnlineRepo, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis]

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
THREAD = "featurestore-serving-log"
ALL_TYPES = [
    "user_stats:f_double",
    "user_stats:f_float",
    "user_stats:f_int64",
    "user_stats:f_int32",
    "user_stats:f_string",
    "user_stats:f_bool",
    "user_stats:f_bytes",
    "user_stats:f_ts",
    "user_stats:f_doubles",
    "user_stats:f_strings",
]


@pytest.fixture(scope="module")
def repo(online_repo: OnlineRepo) -> OnlineRepo:  # noqa: F811
    online_repo.reset()
    online_repo.write(
        "user_stats",
        {
            "user_id": [1, 2],
            "event_timestamp": [NOW, NOW - timedelta(hours=30)],  # the second past its TTL
            "f_double": [2.25, float("inf")],
            "f_float": [0.1, None],  # 0.1 as float32 is not 0.1
            "f_int64": [7, 2**40],
            "f_int32": [-3, None],
            "f_string": ["é", None],
            "f_bool": [True, False],
            "f_bytes": [b"\x00\xff", None],
            "f_ts": [NOW, None],
            "f_doubles": [[1.5, -2.0], None],
            "f_strings": [["a", "b"], None],
        },
    )
    online_repo.write(
        "item_stats",
        {"item_id": ["i1"], "price": [9.5], "title": ["a"], "event_timestamp": [NOW]},
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
    return online_repo


def _project(repo: OnlineRepo, data: Path, rate: float | None = None) -> Project:
    monitor = MonitorConfig() if rate is None else MonitorConfig(serving_log=ServingLogConfig(rate))
    return replace(repo.settings, data_dir=data, monitor=monitor)


def _client(project: Project) -> TestClient:
    return TestClient(create_app(project, ApiSettings(registry_refresh_seconds=0)))


def _log_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD]


def test_off_by_default_no_thread_no_file(repo: OnlineRepo, tmp_path: Path) -> None:
    project = _project(repo, tmp_path / "data")
    with _client(project) as client:
        assert client.app.state.metrics.serving_log is None  # type: ignore[attr-defined]
        assert not _log_threads()
        for user in (1, 2, 3):
            body = {"features": ALL_TYPES, "entities": {"user_id": [user]}}
            assert client.post("/get-online-features", json=body).status_code == 200
        assert "featurestore_serving_log" not in client.get("/metrics").text
    assert not project.layout.serving_log.exists()


def test_rate_zero_in_the_environment_turns_a_configured_log_off(
    repo: OnlineRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEATURESTORE_SERVING_LOG_RATE", "0")
    project = _project(repo, tmp_path / "data", rate=1.0)
    with _client(project) as client:
        body = {"features": ALL_TYPES, "entities": {"user_id": [1]}}
        assert client.post("/get-online-features", json=body).status_code == 200
        assert not _log_threads()
    assert not project.layout.serving_log.exists()


def test_a_bad_rate_in_the_environment_stops_the_start(
    repo: OnlineRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEATURESTORE_SERVING_LOG_RATE", "1%")
    with pytest.raises(ConfigError, match="FEATURESTORE_SERVING_LOG_RATE must be a number"):
        create_app(_project(repo, tmp_path / "data"))


def _parse_times(texts: list[str]) -> list[pd.Timestamp]:
    return [pd.Timestamp(t) for t in texts]


def _columns(document: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    names = document["metadata"]["feature_names"]
    return dict(zip(names, document["results"], strict=True))


def test_rate_one_logs_every_answer_of_both_routes_exactly(
    repo: OnlineRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEATURESTORE_SERVING_LOG_RATE", "1")
    project = _project(repo, tmp_path / "data")
    feature_lists: list[dict[str, Any]] = []
    with _client(project) as client:
        assert len(_log_threads()) == 1
        for entities, full in (({"user_id": [1, 2, 3]}, False), ({"user_id": ["2"]}, True)):
            body = {"features": ALL_TYPES, "entities": entities, "full_feature_names": full}
            answer = client.post("/get-online-features", json=body)
            assert answer.status_code == 200
            feature_lists.append(answer.json())
        records = client.post(
            "/feature-services/ranking_model/online",
            json={"entities": [{"user_id": 1, "item_id": "i1"}, {"user_id": 9, "item_id": "x"}]},
        )
        assert records.status_code == 200
        wrong = client.post("/get-online-features", json={"features": ["nope:x"], "entities": {}})
        assert wrong.status_code == 422  # errors are not answers: nothing logged
        metrics = client.get("/metrics").text
    assert 'featurestore_serving_log_requests_total{outcome="queued"} 3.0' in metrics
    assert 'featurestore_serving_log_requests_total{outcome="dropped"} 0.0' in metrics
    assert not _log_threads()  # the lifespan's end closed the log, after writing it

    root = project.layout.serving_log
    (by_list,) = read_log(root, None)
    table = by_list.table
    assert table.num_rows == 4  # 3 + 1 entity rows
    assert [f.ref for f in by_list.features] == ALL_TYPES
    assert by_list.join_keys == {"user_id": "INT64"}
    assert table["feature_service"].null_count == 4
    assert table["request"].to_pylist() == [1, 1, 1, 2]
    served_at = table["served_at"].to_pylist()
    assert served_at[0] == served_at[2] <= served_at[3]
    assert abs(served_at[0] - datetime.now(UTC)) < timedelta(minutes=1)
    assert table["entities"].combine_chunks().field("user_id").to_pylist() == [1, 2, 3, 2]
    values = table["values"].combine_chunks()
    statuses = table["statuses"].combine_chunks()
    times = table["event_timestamps"].combine_chunks()
    offset = 0
    for document in feature_lists:
        columns = list(_columns(document).values())[1:]  # the entity column first
        count = len(columns[0]["values"])
        for feature, column in zip(by_list.features, columns, strict=True):
            rows = slice(offset, offset + count)
            logged = answered(values.field(feature.ref)[rows], feature.value_type, feature.encoding)
            assert logged == column["values"], feature.ref
            assert statuses.field(feature.ref)[rows].to_pylist() == column["statuses"]
            assert times.field(feature.ref)[rows].to_pylist() == _parse_times(
                column["event_timestamps"]
            )
        offset += count
    # Typed columns, not JSON: float32 stays float32, bytes are bytes.
    assert str(values.type.field("user_stats:f_float").type) == "float"
    assert values.field("user_stats:f_bytes")[0].as_py() == b"\x00\xff"
    assert values.field("user_stats:f_doubles").type == "string"  # a list: JSON text
    assert set(statuses.field("user_stats:f_double").to_pylist()) == {
        "PRESENT",
        "OUTSIDE_MAX_AGE",
        "NOT_FOUND",
    }

    (by_service,) = read_log(root, "ranking_model")
    assert by_service.table["feature_service"].to_pylist() == ["ranking_model"] * 2
    entities = by_service.table["entities"].combine_chunks()
    assert entities.field("user_id").to_pylist() == [1, 9]
    assert entities.field("item_id").to_pylist() == ["i1", "x"]
    served = by_service.table["values"].combine_chunks()
    service_statuses = by_service.table["statuses"].combine_chunks()
    body = records.json()
    for feature in by_service.features:
        name = feature.ref.split(":")[1]
        logged = answered(served.field(feature.ref), feature.value_type, feature.encoding)
        assert logged == [record[name] for record in body["records"]], feature.ref
        assert service_statuses.field(feature.ref).to_pylist() == [
            status[name] for status in body["statuses"]
        ]
    assert [f.ref for f in by_service.features] == [
        "item_stats:title",
        "item_stats:price",
        "user_stats:f_int64",
        "user_stats:f_double",
        "user_item:score",
        "user_item:clicks",
    ]
    assert len(log_files(root, "ranking_model")) == 1


def test_the_inline_route_of_featurestore_serve_logs_too(
    repo: OnlineRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under ``featurestore serve`` the lookup is answered by ``api.protocol``, without
    ASGI: the same ``read_then``, so the same log."""
    import httpx

    from tests.online_repo import ServerThread

    monkeypatch.setenv("FEATURESTORE_SERVING_LOG_RATE", "1")
    project = _project(repo, tmp_path / "data")
    body = {"features": ["user_stats:f_int64"], "entities": {"user_id": [1, 2]}}
    with ServerThread(project) as server, httpx.Client(base_url=server.url) as client:
        answers = [client.post("/get-online-features", json=body).json() for _ in range(3)]
    (logged,) = read_log(project.layout.serving_log, None)
    assert logged.table["request"].to_pylist() == [1, 1, 2, 2, 3, 3]
    logged_values = logged.table["values"].combine_chunks().field("user_stats:f_int64")
    assert logged_values.to_pylist() == [v for a in answers for v in a["results"][1]["values"]]
