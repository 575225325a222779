"""The checks every write path shares: types as Feast stores them, then the header's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from featurestore.errors import InvalidRequestError, JobDefinitionError
from featurestore.push.plan import _schema
from featurestore.push.spec import parse_push
from featurestore.push.validate import WriteSchema, check_rows
from tests.push_project import rows

DEMO_SPEC = Path(__file__).resolve().parents[3] / "ingestion" / "jobs" / "departure_status.push"
NOW = datetime(2013, 1, 1, 12, tzinfo=UTC)


def _demo_schema() -> WriteSchema:
    spec = parse_push(DEMO_SPEC)
    return _schema("push source 'departure_status_push'", [], spec.job.column_map, spec, "")


def test_the_demo_declaration_reads_as_a_job_header() -> None:
    spec = parse_push(DEMO_SPEC)
    assert spec.source_name == "departure_status_push"
    assert spec.job.entities == ("carrier", "origin")
    assert spec.ints_for_floats == "refuse" and spec.on_bad_rows == "reject"
    assert spec.future_tolerance == timedelta(minutes=5)
    assert spec.job.column_map["hour"].max == 23


def test_good_rows_pass_typed_as_declared() -> None:
    checked = check_rows(_demo_schema(), rows(3), NOW)
    assert checked.bad_rows == 0
    assert checked.table.schema.field("hour").type == pa.int32()
    assert checked.table.schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC")


@pytest.mark.parametrize(
    ("change", "rule", "value"),
    [
        ({"hour": [5, 77]}, "hour <= 23", 77),  # the seed's case
        ({"dep_delay_avg_1h": [2.5, 3]}, "dep_delay_avg_1h is DOUBLE", 3),  # an int for a float
        ({"dep_delay_avg_1h": [2.5, True]}, "dep_delay_avg_1h is DOUBLE", True),
        ({"departures_1h": [3, None]}, "departures_1h not null", None),
        ({"departures_1h": [3, -1]}, "departures_1h >= 0", -1),
        ({"origin": ["EWR", "SFO"]}, "origin in ('EWR', 'JFK', 'LGA')", "SFO"),
        ({"carrier": ["UA", None]}, "carrier not null", None),
        ({"event_timestamp": ["2013-01-01T05:00:00Z", "soon"]},
         "event_timestamp is TIMESTAMP WITH TIME ZONE", "soon"),
        ({"event_timestamp": ["2013-01-01T05:00:00Z", "2013-01-01T12:06:00Z"]},
         "event_timestamp <= now + 5m", "2013-01-01T12:06:00Z"),
        ({"hour": [5, "five"]}, "hour is INTEGER", "five"),
    ],
)  # fmt: skip
def test_a_bad_row_is_named_with_its_column_rule_and_value(
    change: dict[str, list[object]], rule: str, value: object
) -> None:
    checked = check_rows(_demo_schema(), rows(2, **change), NOW)
    assert checked.bad.tolist() == [False, True]
    [problem] = checked.problems
    assert (problem.row, problem.rule, problem.value) == (1, rule, value)
    assert f"row 1: {problem.column} = {value!r} breaks {rule!r}" in checked.summary()
    assert checked.good().num_rows == 1


def test_the_first_broken_rule_in_declaration_order_is_the_one_named() -> None:
    checked = check_rows(_demo_schema(), rows(1, hour=[77], dep_delay_avg_1h=[3]), NOW)
    assert [p.rule for p in checked.problems] == ["hour <= 23"]


def test_convert_takes_an_int_for_a_float_as_that_float(tmp_path: Path) -> None:
    text = DEMO_SPEC.read_text().replace("ints_for_floats: refuse", "ints_for_floats: convert")
    path = tmp_path / "departure_status.push"
    path.write_text(text)
    spec = parse_push(path)
    schema = _schema("x", [], spec.job.column_map, spec, "")
    checked = check_rows(schema, rows(1, dep_delay_avg_1h=[3]), NOW)
    assert checked.bad_rows == 0
    assert checked.table.column("dep_delay_avg_1h").to_pylist() == [3.0]


def test_arrow_input_is_checked_by_the_same_rules() -> None:
    table = pa.table(rows(2)).set_column(
        5, "dep_delay_avg_1h", pa.array([1, 2], pa.int64())
    )  # an integer column where a DOUBLE belongs
    checked = check_rows(_demo_schema(), table, NOW)
    assert [p.rule for p in checked.problems] == ["dep_delay_avg_1h is DOUBLE"] * 2


def test_a_missing_entity_or_timestamp_column_is_a_bad_request() -> None:
    body = rows(1)
    del body["origin"], body["event_timestamp"]
    with pytest.raises(InvalidRequestError) as caught:
        check_rows(_demo_schema(), body, NOW)
    assert str(caught.value) == (
        "the rows lack column(s) origin (entity key), event_timestamp (event timestamp) "
        "of push source 'departure_status_push'"
    )


def test_columns_of_different_lengths_are_a_bad_request() -> None:
    with pytest.raises(InvalidRequestError, match="same length"):
        check_rows(_demo_schema(), rows(2, hour=[1]), NOW)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("-- ints_for_floats: maybe", "ints_for_floats must be one of convert, refuse"),
        ("-- on_bad_rows: drop", "on_bad_rows must be one of reject, quarantine"),
        ("-- future_tolerance: soon", "future_tolerance"),
        ("-- column: hour WEIRD", "unknown type 'WEIRD'"),
    ],
)
def test_a_bad_declaration_names_the_file_and_the_problem(
    tmp_path: Path, line: str, problem: str
) -> None:
    path = tmp_path / "departure_status.push"
    path.write_text(DEMO_SPEC.read_text() + line + "\n")
    with pytest.raises(JobDefinitionError) as caught:
        parse_push(path)
    assert problem in str(caught.value) and "departure_status.push" in str(caught.value)
