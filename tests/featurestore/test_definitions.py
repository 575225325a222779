"""Feast definitions derived from job headers: nothing is declared twice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from feast import Entity, ValueType
from feast.types import Float64, Int32, Int64, String

from featurestore.definitions import job_feature_view, job_fields, job_source
from featurestore.errors import JobDefinitionError, UnknownJobColumnError, UnknownJobError
from featurestore.job_spec import discover_jobs
from tests.conftest import ROOT

REPO = ROOT / "feature_repo"
JOBS = ROOT / "ingestion" / "jobs"
AIRPORT = Entity(name="airport", join_keys=["origin"], value_type=ValueType.STRING)


def test_fields_follow_the_job_header() -> None:
    fields = job_fields("plane_daily", jobs_dir=JOBS)
    assert [(f.name, f.dtype) for f in fields] == [
        ("tailnum", String),
        ("flights_to_date", Int64),
        ("flights_30d", Int64),
        ("avg_dep_delay_30d", Float64),
        ("cancel_rate_30d", Float64),
        ("year_built", Int64),
        ("seats", Int64),
        ("engines", Int32),
        ("manufacturer", String),
    ]
    assert fields[1].description == "Flights since 2013-01-01"


def test_source_reads_the_jobs_table() -> None:
    source = job_source("weather_hourly", REPO)
    assert source.path == str(ROOT / "data" / "features" / "weather_hourly.parquet")
    assert source.timestamp_field == "event_timestamp"
    assert source.name == "weather_hourly_source"


def test_view_takes_a_subset_of_features() -> None:
    view = job_feature_view(
        "weather_hourly",
        repo_path=REPO,
        entities=[AIRPORT],
        ttl=timedelta(hours=3),
        features=["temp", "visib"],
    )
    assert [f.name for f in view.features] == ["temp", "visib"]
    assert [f.name for f in view.entity_columns] == ["origin"]
    assert view.description == discover_jobs(JOBS)["weather_hourly"].description


@pytest.mark.parametrize("name", ["no_such_column", "event_timestamp"])
def test_a_column_the_job_does_not_produce_is_a_clear_error(name: str) -> None:
    with pytest.raises(UnknownJobColumnError) as error:
        job_fields("weather_hourly", ["temp", name], jobs_dir=JOBS)
    message = str(error.value)
    assert f"weather_hourly.sql does not produce column(s) {name}" in message
    assert "it produces: temp, dewp, humid" in message


def test_unknown_job_lists_the_known_ones() -> None:
    with pytest.raises(UnknownJobError, match="known jobs: carrier_daily, plane_daily"):
        job_fields("flights_daily", jobs_dir=JOBS)


def test_a_job_without_declared_columns_cannot_make_a_view(tmp_path: Path) -> None:
    (tmp_path / "bare.sql").write_text(
        "-- name: bare\n-- entities: origin\n-- timestamp: ts\nSELECT 1"
    )
    with pytest.raises(JobDefinitionError, match="declare the output columns"):
        job_fields("bare", jobs_dir=tmp_path)


def test_the_view_records_its_job_for_the_catalogs_lineage() -> None:
    view = job_feature_view(
        "weather_hourly", repo_path=REPO, entities=[AIRPORT], ttl=timedelta(hours=3),
        tags={"domain": "weather"},
    )  # fmt: skip
    assert view.tags == {"domain": "weather", "job": "weather_hourly"}
    source = view.batch_source
    assert source.description == "Feature table written by ingestion/jobs/weather_hourly.sql"
