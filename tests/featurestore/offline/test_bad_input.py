"""Bad requests fail at retrieve() (before any feature data is read) with an error naming
the column or feature."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from featurestore.errors import (
    EntityColumnTypeError,
    EntityTimestampError,
    InvalidRequestError,
    MissingJoinKeyError,
    RequestError,
    UnknownFeatureError,
)
from featurestore.offline import ViewSpec, retrieve
from tests.featurestore.offline.conftest import at


def _frame(**columns: object) -> pd.DataFrame:
    base: dict[str, object] = {"driver_id": [1], "event_timestamp": [pd.Timestamp(at(5))]}
    base.update(columns)
    return pd.DataFrame({k: v for k, v in base.items() if v is not None})


def test_missing_join_key(rides: ViewSpec) -> None:
    with pytest.raises(MissingJoinKeyError, match="driver_id") as caught:
        retrieve([rides], _frame(driver_id=None))
    assert caught.value.join_keys == ["driver_id"]


def test_missing_timestamp_column(rides: ViewSpec) -> None:
    with pytest.raises(EntityTimestampError, match="event_timestamp"):
        retrieve([rides], _frame(event_timestamp=None))


def test_named_timestamp_column_absent(rides: ViewSpec) -> None:
    with pytest.raises(EntityTimestampError, match="'label_time'"):
        retrieve([rides], _frame(), timestamp_column="label_time")


def test_timestamp_of_the_wrong_type(rides: ViewSpec) -> None:
    with pytest.raises(EntityColumnTypeError, match="'event_timestamp' has type VARCHAR"):
        retrieve([rides], _frame(event_timestamp=["2024-01-01T00:05:00Z"]))


def test_join_key_of_the_wrong_type(rides: ViewSpec) -> None:
    with pytest.raises(EntityColumnTypeError, match="'driver_id' has type VARCHAR") as caught:
        retrieve([rides], _frame(driver_id=["1"]))
    assert caught.value.column == "driver_id"


def test_unknown_feature(rides: ViewSpec) -> None:
    view = replace(rides, features={"trips": "trips", "speed": "speed"})
    with pytest.raises(UnknownFeatureError, match="'rides:speed'"):
        retrieve([view], _frame())


def test_missing_source(rides: ViewSpec, tmp_path: Path) -> None:
    view = replace(rides, path=str(tmp_path / "nope.parquet"))
    with pytest.raises(InvalidRequestError, match="feature view 'rides'"):
        retrieve([view], _frame())


def test_unsupported_entity_frame(rides: ViewSpec) -> None:
    with pytest.raises(InvalidRequestError, match="not list"):
        retrieve([rides], [{"driver_id": 1}])  # type: ignore[arg-type]


def test_bad_sql(rides: ViewSpec) -> None:
    with pytest.raises(InvalidRequestError, match="cannot read the entity frame"):
        retrieve([rides], "SELECT * FROM no_such_table")


def test_reserved_column(rides: ViewSpec) -> None:
    with pytest.raises(InvalidRequestError, match="__fs_row"):
        retrieve([rides], _frame(__fs_row=[0]))


def test_output_name_clash(rides: ViewSpec) -> None:
    with pytest.raises(InvalidRequestError, match="trips"):
        retrieve([rides], _frame(trips=[1]))


def test_all_are_request_errors() -> None:
    for kind in (EntityColumnTypeError, EntityTimestampError, MissingJoinKeyError):
        assert issubclass(kind, RequestError)
