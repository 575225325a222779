"""Training/serving skew end to end on the minimal example project: ingest, apply,
materialize, serve through the real API with the serving log at rate 1, replay.

Served from an online store materialized from the same offline data, nothing differs;
after a re-run of the job on changed raw data (not materialized), exactly the changed
feature differs, for exactly the entities whose rows changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import redis
from fastapi.testclient import TestClient

from api import create_app
from api.settings import ApiSettings
from featurestore.apply import apply
from featurestore.errors import NoDataError, UnknownFeatureServiceError
from featurestore.monitor.config import MonitorConfig, ServingLogConfig
from featurestore.monitor.model import SkewReport
from featurestore.monitor.serving_log import answered, read_log
from featurestore.monitor.skew import skew_report
from featurestore.project import Project
from featurestore.redis_server import LocalRedis
from featurestore.scaffold import init_project
from featurestore.store import open_store
from tests.online_repo import OnlineRepo, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis, pytest.mark.slow]

FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))
SERVICE = "driver_model"
FEATURES = ["trips_1d", "fare_avg_1d", "rating_avg_1d"]
CHANGED_DRIVER = 104  # its fares of 2026-01-31, the day its latest row describes


class Shop(NamedTuple):
    project: Project
    served: list[dict[str, Any]]  # the API's answers, in order
    before: SkewReport  # the online store materialized from these offline rows
    after: SkewReport  # the offline rows of the last day changed, not materialized


def _serve(project: Project) -> list[dict[str, Any]]:
    logged = replace(project, monitor=MonitorConfig(serving_log=ServingLogConfig(1.0)))
    answers = []
    with TestClient(create_app(logged, ApiSettings(registry_refresh_seconds=0))) as client:
        for _ in range(2):
            drivers = [101, 102, 103, 104, 105, 999]
            body = {"feature_service": SERVICE, "entities": {"driver_id": drivers}}
            answer = client.post("/get-online-features", json=body)
            assert answer.status_code == 200, answer.text
            answers.append(answer.json())
            records = client.post(
                f"/feature-services/{SERVICE}/online",
                json={"entities": [{"driver_id": CHANGED_DRIVER}, {"driver_id": 101}]},
            )
            assert records.status_code == 200, records.text
            answers.append(records.json())
    return answers


def _change_fares(project: Project) -> None:
    """Double the fares of the changed driver's trips on 2026-01-31 in the raw CSV."""
    path = project.root / "raw" / "trips.csv"
    lines = path.read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        parts = line.split(",")
        if parts[1] == str(CHANGED_DRIVER) and parts[2].startswith("2026-01-31"):
            parts[4] = f"{float(parts[4]) * 2:.2f}"
        out.append(",".join(parts))
    path.write_text("\n".join(out) + "\n")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, redis_server: LocalRedis) -> Shop:
    from ingestion import run_jobs

    url = f"redis://127.0.0.1:{redis_server.port}/7"
    redis.Redis(port=redis_server.port, db=7).flushdb()
    root = init_project(tmp_path_factory.mktemp("skew") / "shop")
    drivers = root / "feature_repo" / "drivers.py"
    # Served now, in December: a TTL long enough that January's rows are still fresh.
    drivers.write_text(drivers.read_text().replace("timedelta(days=2)", "timedelta(days=3650)"))
    project = Project.load(root, environ={"FEATURESTORE_REDIS_URL": url})
    run_jobs(project)
    apply(project)
    store = open_store(project)
    store.materialize(datetime(2026, 1, 1, tzinfo=UTC), datetime.now(UTC))
    served = _serve(project)
    before = skew_report(project, store, SERVICE)
    _change_fares(project)
    day = datetime(2026, 2, 1, tzinfo=UTC)
    run_jobs(project, ["driver_daily"], start=day, end=day + timedelta(days=1))
    after = skew_report(project, open_store(project), SERVICE)
    return Shop(project, served, before, after)


def _by_feature(report: SkewReport) -> dict[str, Any]:
    return {f.feature: f for f in report.features}


def test_nothing_differs_when_online_was_materialized_from_the_same_rows(shop: Shop) -> None:
    report = shop.before
    assert report.feature_service == SERVICE
    assert report.requests == 4
    assert [(f.view, f.feature) for f in report.features] == [("driver_daily", f) for f in FEATURES]
    for feature in report.features:
        assert feature.served == 2 * (6 + 2)
        assert feature.differing == 0, feature.feature
        assert feature.differing_rate == 0
        # driver 999 has no row: NOT_FOUND online, null in training; equal
        assert feature.statuses == {"PRESENT": 14, "NOT_FOUND": 2}
    assert report.window.label == "served at any time"
    assert report.window.start <= report.window.end


def test_exactly_the_changed_feature_differs_for_the_changed_rows(shop: Shop) -> None:
    features = _by_feature(shop.after)
    assert features["fare_avg_1d"].differing == 2 * 2  # driver 104 in both requests, twice
    assert features["fare_avg_1d"].differing_rate == pytest.approx(4 / 16)
    assert features["trips_1d"].differing == 0
    assert features["rating_avg_1d"].differing == 0


def test_the_served_values_are_what_the_api_answered(shop: Shop) -> None:
    (logged,) = read_log(shop.project.layout.serving_log, SERVICE)
    values = logged.table["values"].combine_chunks()
    fares = answered(values.field("driver_daily:fare_avg_1d"), "DOUBLE", "arrow")
    names = shop.served[0]["metadata"]["feature_names"]
    first = dict(zip(names, shop.served[0]["results"], strict=True))
    assert fares[:6] == first["fare_avg_1d"]["values"]
    assert fares[6:8] == [r["fare_avg_1d"] for r in shop.served[1]["records"]]


def test_a_window_without_requests_says_how_to_log(shop: Shop) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(NoDataError, match=r"monitor\.serving_log\.sample_rate") as caught:
        skew_report(shop.project, open_store(shop.project), SERVICE, start=later)
    assert str(caught.value).startswith(
        f"no served vectors logged for feature service {SERVICE!r} since "
    )


def test_a_window_of_the_first_requests_only(shop: Shop) -> None:
    (logged,) = read_log(shop.project.layout.serving_log, SERVICE)
    served_at = sorted(set(logged.table["served_at"].to_pylist()))
    end = served_at[1]  # before the second request
    report = skew_report(shop.project, open_store(shop.project), SERVICE, end=end)
    assert report.requests == 1
    assert _by_feature(report)["fare_avg_1d"].served == 6
    assert _by_feature(report)["fare_avg_1d"].differing == 1  # driver 104 once
    assert report.window.end == end


def test_an_unknown_feature_service(shop: Shop) -> None:
    with pytest.raises(UnknownFeatureServiceError):
        skew_report(shop.project, open_store(shop.project), "nope")


def _cli(shop: Shop, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FEATURESTORE_PROJECT": str(shop.project.root),
        "FEATURESTORE_REDIS_URL": shop.project.redis_url,
        "COLUMNS": "160",  # rich's table, uncut
    }
    return subprocess.run(
        [FEATURESTORE, "monitor", "skew", *args], env=env, capture_output=True, text=True
    )


def test_cli_exits_2_past_the_limit_and_prints_a_table(shop: Shop) -> None:
    result = _cli(shop, SERVICE)
    assert result.returncode == 2, result.stderr
    assert "fare_avg_1d" in result.stdout and "25.0%" in result.stdout
    assert "driver_daily:fare_avg_1d differs in 25.0% of served values" in result.stderr
    assert _cli(shop, SERVICE, "--max-differing", "0.3").returncode == 0


def test_cli_json(shop: Shop) -> None:
    result = _cli(shop, SERVICE, "--json", "--max-differing", "0.5")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["feature_service"] == SERVICE
    assert document["requests"] == 4
    fares = next(f for f in document["features"] if f["feature"] == "fare_avg_1d")
    assert fares["differing"] == 4 and fares["differing_rate"] == 0.25
    assert document["max_differing"] == 0.5 and document["exceeded"] == []


def test_cli_errors_are_one_line(shop: Shop) -> None:
    unknown = _cli(shop, "nope")
    assert unknown.returncode == 1
    assert unknown.stderr.strip().startswith("error: unknown feature service 'nope'")
    assert len(unknown.stderr.strip().splitlines()) == 1
    empty = _cli(shop, SERVICE, "--start", "2099-01-01")
    assert empty.returncode == 1
    assert empty.stderr.strip().startswith("error: no served vectors logged for feature service")
    bad = _cli(shop, SERVICE, "--end", "yesterday")
    assert bad.returncode == 1
    assert "--end" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_training_values_compare_as_the_api_answers_them_from_feasts_bytes(
    online_repo: OnlineRepo,  # noqa: F811
) -> None:
    """The oracle of "equal": the same values written by vanilla Feast and read back by
    the API's lookup are what ``_as_answered`` makes of them (float32 rounding, NaN as
    null, bytes as base64, timestamps as seconds, lists)."""
    import pyarrow as pa

    from featurestore.monitor.skew import _as_answered
    from featurestore.online import OnlineLookup

    moment = datetime(2026, 11, 30, 12, 0, 1, tzinfo=UTC)
    rows: dict[str, list[Any]] = {
        "f_double": [2.25, float("nan"), None, float("inf")],
        "f_float": [0.1, 1e-3, None, -2.5],
        "f_int64": [7, -(2**40), None, 0],
        "f_int32": [-3, 5, None, 2**31 - 1],
        "f_string": ["é", "", None, "x"],
        "f_bool": [True, False, None, True],
        "f_bytes": [b"\x00\xff", b"", None, b"a"],
        "f_ts": [moment, moment - timedelta(days=400), None, moment],
        "f_doubles": [[1.5, -2.0], [], None, [0.1]],
        "f_strings": [["a", "b"], ["c"], None, []],
    }
    types = {"f_double": "DOUBLE", "f_float": "FLOAT", "f_int64": "INT64", "f_int32": "INT32",
             "f_string": "STRING", "f_bool": "BOOL", "f_bytes": "BYTES", "f_ts": "UNIX_TIMESTAMP",
             "f_doubles": "DOUBLE_LIST", "f_strings": "STRING_LIST"}  # fmt: skip
    online_repo.reset()
    users = [1, 2, 3, 4]
    online_repo.write(
        "user_stats", {"user_id": users, "event_timestamp": [datetime.now(UTC)] * 4, **rows}
    )
    lookup = OnlineLookup.open(online_repo.settings)
    try:
        refs = [f"user_stats:{name}" for name in rows]
        answer = lookup.get_online_features({"user_id": users}, refs)
    finally:
        lookup.close()
    served = dict(zip(answer["metadata"]["feature_names"], answer["results"], strict=True))
    for name, values in rows.items():
        column = pa.array(values, pa.timestamp("us", tz="UTC") if name == "f_ts" else None)
        assert _as_answered(column, types[name]) == served[name]["values"], name
