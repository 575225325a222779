"""The read-only catalog routes over HTTP."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.settings import ApiSettings
from featurestore.apply import apply
from featurestore.catalog import load_catalog
from featurestore.project import Project
from featurestore.store import open_store
from ingestion import run_jobs
from ingestion.storage import current_version
from tests.conftest import copy_project
from tests.flights_sample import applied_sample_project

pytestmark = [pytest.mark.slow, pytest.mark.redis]


@pytest.fixture(scope="module")
def client(demo_project: Project) -> Iterator[TestClient]:
    with TestClient(create_app(demo_project)) as test_client:
        yield test_client


def test_feature_views(client: TestClient) -> None:
    views = {v["name"]: v for v in client.get("/catalog/feature-views").json()}
    assert set(views) == {"weather_hourly", "carrier_daily", "plane_daily", "departure_status"}
    carrier = views["carrier_daily"]
    assert carrier["job"]["name"] == "carrier_daily"
    assert carrier["freshness"]["rows"] == 5432
    assert carrier["used_by"] == ["cancellation_model", "departure_delay_model"]


def test_feature_detail_with_lineage(client: TestClient) -> None:
    answer = client.get("/catalog/features/carrier_daily:cancel_rate_7d")
    assert answer.status_code == 200
    feature = answer.json()
    assert feature["dtype"] == "Float64"
    assert feature["owner"] == "data-team@example.com"
    assert feature["job"] == "carrier_daily"
    assert feature["freshness"]["latest_event"].startswith("2014-01-01T05:00:00")
    assert feature["used_by"] == ["cancellation_model"]
    assert feature["lineage"]["feature_services"] == ["cancellation_model"]


def test_feature_service(client: TestClient) -> None:
    service = client.get("/catalog/feature-services/cancellation_model").json()
    assert service["views"] == ["weather_hourly", "carrier_daily"]
    assert service["join_keys"] == ["carrier", "origin"]
    assert len(service["feature_details"]) == len(service["features"]) == 7


def test_search(client: TestClient) -> None:
    hits = client.get("/catalog/features", params={"q": "wind", "entity": "airport"}).json()
    assert [h["ref"] for h in hits] == [
        "weather_hourly:wind_dir", "weather_hourly:wind_gust", "weather_hourly:wind_speed",
    ]  # fmt: skip
    assert client.get("/catalog/features", params={"tag": "domain:nope"}).json() == []


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/catalog/features/weather_hourly:nope", 404, "not_found"),
        ("/catalog/feature-services/nope", 404, "unknown_feature_service"),
        ("/catalog/feature-views/nope", 404, "not_found"),
        ("/catalog/feature-views/0", 404, "not_found"),
    ],
)
def test_unknown_names_are_4xx(client: TestClient, path: str, status: int, code: str) -> None:
    answer = client.get(path)
    assert answer.status_code == status
    assert answer.json()["code"] == code


def test_an_apply_shows_up_without_a_restart(tmp_path: Path, clean_redis_url: str) -> None:
    settings = Project.for_repo(copy_project(tmp_path), redis_url=clean_redis_url)
    run_jobs(settings)
    apply(settings)
    api = ApiSettings(registry_refresh_seconds=0.5)
    with TestClient(create_app(settings, api)) as test_client:
        names = lambda: {s["name"] for s in test_client.get("/catalog/feature-services").json()}  # noqa: E731
        assert names() == {"departure_delay_model", "cancellation_model"}
        (settings.repo_path / "fleet_model.py").write_text(
            "from feast import FeatureService\nfrom feature_views import plane_daily\n"
            "fleet_model = FeatureService(name='fleet_model', features=[plane_daily[['seats']]])\n"
        )
        apply(settings)
        statuses, deadline = [], time.monotonic() + 10
        while "fleet_model" not in names() and time.monotonic() < deadline:
            statuses.append(test_client.get("/catalog/feature-views").status_code)
            time.sleep(0.1)
        assert "fleet_model" in names()
        assert set(statuses) <= {200}
        used_by = test_client.get("/catalog/features/plane_daily:seats").json()["used_by"]
        assert used_by == ["departure_delay_model", "fleet_model"]


def test_a_table_is_scanned_once_per_version(tmp_path: Path, clean_redis_url: str) -> None:
    project = applied_sample_project(tmp_path / "flights", clean_redis_url)
    with TestClient(create_app(project, ApiSettings())) as test_client:
        rows = lambda: {  # noqa: E731
            v["name"]: v["freshness"]["rows"]
            for v in test_client.get("/catalog/feature-views").json()
        }
        before = rows()
        assert before["carrier_daily"] > 0
        # Against the storage contract, drop a day from the current version in place: a
        # scan would now count fewer rows; an unchanged version is never scanned again.
        version = current_version(project.data_dir, "carrier_daily")
        assert version is not None
        shutil.rmtree(version / "partition_date=20130105")
        assert rows() == before
        assert (
            test_client.get("/catalog/features/carrier_daily:flights_7d").json()["freshness"][
                "rows"
            ]
            == before["carrier_daily"]
        )

        # A run commits a new version (the dropped day written again): it shows up.
        start, end = datetime(2013, 1, 1, tzinfo=UTC), datetime(2013, 2, 1, tzinfo=UTC)
        run_jobs(project, ["carrier_daily"], start=start, end=end)
        after = rows()
        assert after["carrier_daily"] > before["carrier_daily"]
        uncached = load_catalog(open_store(project), project)
        assert after == {name: v.freshness.rows for name, v in uncached.views.items()}
