"""Materialize the real data, then look it up: the values are the latest feature rows."""

from __future__ import annotations

import pandas as pd
import pytest

from featurestore.errors import (
    DuplicateFeatureError,
    EntityTypeError,
    MissingJoinKeyError,
    UnknownFeatureError,
    UnknownFeatureServiceError,
)
from featurestore.online import OnlineLookup
from featurestore.project import Project
from ingestion import feature_table_path

pytestmark = [pytest.mark.slow, pytest.mark.redis]


@pytest.fixture(scope="module")
def lookup(demo_project: Project) -> OnlineLookup:
    return OnlineLookup.open(demo_project)


def _latest(settings: Project, table: str, key: str, value: str) -> pd.Series:
    frame = pd.read_parquet(feature_table_path(settings, table))
    return frame[frame[key] == value].sort_values("event_timestamp").iloc[-1]


def _column(answer: dict, name: str) -> dict:
    index = answer["metadata"]["feature_names"].index(name)
    return answer["results"][index]


def test_lookup_returns_latest_materialized_values(
    demo_project: Project, lookup: OnlineLookup
) -> None:
    answer = lookup.get_online_features(
        entities={"origin": ["JFK"], "carrier": ["UA"]},
        features=["weather_hourly:temp", "carrier_daily:avg_dep_delay_7d"],
    )
    weather = _latest(demo_project, "weather_hourly", "origin", "JFK")
    carrier = _latest(demo_project, "carrier_daily", "carrier", "UA")
    temp = _column(answer, "temp")
    assert temp["values"] == [pytest.approx(weather.temp)]
    # 2013 data: every value is older than its view's TTL, and still returned.
    assert temp["statuses"] == ["OUTSIDE_MAX_AGE"]
    expected_ts = weather.event_timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert temp["event_timestamps"] == [expected_ts]
    assert _column(answer, "avg_dep_delay_7d")["values"] == [
        pytest.approx(carrier.avg_dep_delay_7d)
    ]
    assert _column(answer, "origin")["values"] == ["JFK"]


def test_lookup_by_feature_service(demo_project: Project, lookup: OnlineLookup) -> None:
    answer = lookup.get_online_features(
        entities={"origin": ["EWR", "LGA"], "carrier": ["B6", "DL"]},
        feature_service="cancellation_model",
    )
    names = answer["metadata"]["feature_names"]
    assert set(names) == {
        "origin", "carrier", "wind_speed", "wind_gust", "precip", "visib",
        "flights_7d", "cancel_rate_7d", "cancel_rate_1d",
    }  # fmt: skip
    assert all(len(result["values"]) == 2 for result in answer["results"])
    dl = _latest(demo_project, "carrier_daily", "carrier", "DL")
    assert _column(answer, "flights_7d")["values"][1] == dl.flights_7d


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"features": ["weather_hourly:nope"]}, UnknownFeatureError),
        ({"features": ["no_view:temp"]}, UnknownFeatureError),
        ({"features": ["temp"]}, UnknownFeatureError),
        ({"feature_service": "no_model"}, UnknownFeatureServiceError),
        ({"features": ["weather_hourly:temp", "weather_hourly:temp"]}, DuplicateFeatureError),
        ({"features": ["carrier_daily:flights_7d"]}, MissingJoinKeyError),
    ],
)
def test_bad_requests_raise_named_errors(
    lookup: OnlineLookup, kwargs: dict, error: type[Exception]
) -> None:
    with pytest.raises(error):
        lookup.get_online_features(entities={"origin": ["JFK"]}, **kwargs)


def test_wrong_entity_type(lookup: OnlineLookup) -> None:
    with pytest.raises(EntityTypeError, match="'origin' expects string values, got 42"):
        lookup.get_online_features(entities={"origin": [42]}, features=["weather_hourly:temp"])
