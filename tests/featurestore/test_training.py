"""Point-in-time correctness of training sets, on hand-checked rows of the real data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from featurestore.errors import (
    EntityColumnTypeError,
    MissingJoinKeyError,
    UnknownFeatureServiceError,
)
from featurestore.offline.manifest import Manifest, manifest_path
from featurestore.project import Project
from featurestore.store import open_store
from featurestore.training import build_training_set, training_set, write_training_set
from ingestion import feature_table_path

pytestmark = pytest.mark.slow


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


def _row(settings: Project, table: str, key: str, value: str, ts: str) -> pd.Series:
    frame = pd.read_parquet(feature_table_path(settings, table))
    match = frame[(frame[key] == value) & (frame.event_timestamp == _ts(ts))]
    assert len(match) == 1
    return match.iloc[0]


@pytest.fixture(scope="module")
def hand_checked(demo_project: Project) -> pd.DataFrame:
    entity_df = pd.DataFrame(
        {
            "origin": ["EWR", "JFK", "JFK", "LGA", "EWR"],
            "carrier": ["UA", "UA", "UA", "UA", "UA"],
            "tailnum": ["N14228", "N14228", "N14228", "N14228", "N14228"],
            "event_timestamp": pd.to_datetime(
                [
                    "2013-01-01T10:15:00Z",  # UA1545, the first flight of the year
                    "2013-01-02T05:00:00Z",  # exactly when Jan 1 statistics become known
                    "2013-01-02T04:59:59Z",  # one second before
                    "2013-01-02T12:30:00Z",  # weather 12:00, Jan 1 statistics
                    "2014-01-06T00:00:00Z",  # past every view's TTL but the plane's
                ],
                utc=True,
            ).astype("datetime64[us, UTC]"),
            "label": [0, 1, 2, 3, 4],
        }
    )
    return training_set(open_store(demo_project), "departure_delay_model", entity_df)


def test_rows_kept_in_order(hand_checked: pd.DataFrame) -> None:
    assert list(hand_checked.label) == [0, 1, 2, 3, 4]


def test_first_flight_sees_only_weather(demo_project: Project, hand_checked: pd.DataFrame) -> None:
    first = hand_checked.iloc[0]
    weather = _row(demo_project, "weather_hourly", "origin", "EWR", "2013-01-01T10:00:00Z")
    assert first.temp == pytest.approx(weather.temp)
    assert first.pressure == pytest.approx(weather.pressure)
    # No carrier or plane statistics exist before 2013-01-02T05:00Z.
    assert pd.isna(first.avg_dep_delay_7d)
    assert pd.isna(first.flights_30d)


def test_statistics_appear_exactly_when_known(
    demo_project: Project, hand_checked: pd.DataFrame
) -> None:
    at, before = hand_checked.iloc[1], hand_checked.iloc[2]
    assert at.flights_1d == 165  # UA flights on 2013-01-01
    assert pd.isna(before.flights_1d)
    plane = _row(demo_project, "plane_daily", "tailnum", "N14228", "2013-01-02T05:00:00Z")
    assert at.flights_30d == plane.flights_30d
    assert at.year_built == 1999


def test_latest_row_at_or_before(demo_project: Project, hand_checked: pd.DataFrame) -> None:
    row = hand_checked.iloc[3]
    weather = _row(demo_project, "weather_hourly", "origin", "LGA", "2013-01-02T12:00:00Z")
    assert row.temp == pytest.approx(weather.temp)
    assert row.flights_1d == 165


def test_ttl_expires_stale_values(hand_checked: pd.DataFrame) -> None:
    late = hand_checked.iloc[4]
    assert pd.isna(late.temp)  # weather TTL 3 hours; the data ends 2013-12-30
    assert pd.isna(late.flights_1d)  # carrier TTL 2 days
    assert late.year_built == 1999  # plane TTL 90 days


def test_build_from_label_query(demo_project: Project) -> None:
    frame = build_training_set(
        demo_project, open_store(demo_project), "departure_delay_model", limit=500
    )
    assert len(frame) == 500
    assert frame.event_timestamp.is_monotonic_increasing
    assert set(frame.dep_delayed_15.unique()) <= {True, False}
    assert {"temp", "avg_dep_delay_7d", "year_built"} <= set(frame.columns)


def test_unknown_feature_service(demo_project: Project) -> None:
    with pytest.raises(UnknownFeatureServiceError, match="known feature services"):
        training_set(open_store(demo_project), "nope", pd.DataFrame())


def test_label_sql_is_joined_inside_duckdb(demo_project: Project) -> None:
    sql = "SELECT origin, carrier, tailnum, time_hour AS event_timestamp FROM flights"
    frame = training_set(open_store(demo_project), "departure_delay_model", sql)
    assert len(frame) == 336_776  # every flight, none dropped or merged


def test_write_training_set_streams_with_manifest(demo_project: Project, tmp_path: Path) -> None:
    store = open_store(demo_project)
    seen: list[float] = []
    output = tmp_path / "sets" / "delay.parquet"
    manifest = write_training_set(
        demo_project, store, "departure_delay_model", output, limit=5000, progress=seen.append
    )
    table = pq.read_table(output)
    assert table.num_rows == manifest.row_count == 5000
    assert seen[-1] == 100.0
    written = Manifest.read(manifest_path(output))
    assert written == manifest
    assert manifest.feature_service == "departure_delay_model"
    assert "weather_hourly:temp" in manifest.features and len(manifest.features) == 17
    assert manifest.window_start == "2013-01-01T10:15:00+00:00"
    assert "LIMIT 5000" in manifest.label_sql
    assert table.column_names[-17:] == [f.split(":")[1] for f in manifest.features]
    again = write_training_set(demo_project, store, "departure_delay_model", output, limit=5000)
    assert again.definitions_sha256 == manifest.definitions_sha256  # stable
    other = write_training_set(demo_project, store, "cancellation_model", output, limit=10)
    assert other.definitions_sha256 != manifest.definitions_sha256


def test_bad_label_queries_fail_before_work(demo_project: Project) -> None:
    store = open_store(demo_project)
    no_tail = "SELECT origin, carrier, time_hour AS event_timestamp FROM flights"
    with pytest.raises(MissingJoinKeyError, match="tailnum"):
        build_training_set(demo_project, store, "departure_delay_model", no_tail)
    text_ts = (
        "SELECT origin, carrier, tailnum, CAST(time_hour AS VARCHAR) AS event_timestamp "
        "FROM flights"
    )
    with pytest.raises(EntityColumnTypeError, match="event_timestamp"):
        build_training_set(demo_project, store, "departure_delay_model", text_ts)
    with pytest.raises(UnknownFeatureServiceError):
        write_training_set(demo_project, store, "nope", Path("never.parquet"))
