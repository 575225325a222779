"""The job runner on the small sample project: errors name the file and line, failures
leave the table as it was, unknown tables are named."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from featurestore.errors import IngestionError, JobSQLError, UnknownJobError, UnknownTableError
from featurestore.project import Project
from ingestion import discover_jobs, feature_table_path, run_jobs, runs
from tests.conftest import ROOT
from tests.ingestion.conftest import job_fails, snapshot, write_job

JAN1 = datetime(2013, 1, 1, tzinfo=UTC)
JAN2 = datetime(2013, 1, 2, tzinfo=UTC)


def test_sql_error_names_file_and_line(project: Project, jobs_dir: Path) -> None:
    jobs = jobs_dir
    (jobs / "broken.sql").write_text(
        "-- name: broken\n-- entities: origin\n-- timestamp: event_timestamp\n"
        "SELECT origin, time_hour AS event_timestamp\nFROM weather\nWHERE temp >\n"
    )
    with job_fails(JobSQLError) as error:
        run_jobs(project, start=JAN1, end=JAN2)
    message = str(error.value)
    assert "broken.sql:" in message
    assert "\n" not in message


def test_binder_error_names_line(project: Project, jobs_dir: Path) -> None:
    jobs = jobs_dir
    (jobs / "typo.sql").write_text(
        "-- name: typo\n-- entities: origin\n-- timestamp: event_timestamp\n"
        "SELECT origin,\n  time_hour AS event_timestamp,\n  temperature\nFROM weather\n"
    )
    with job_fails(JobSQLError, match=r"typo\.sql:6: .*temperature"):
        run_jobs(project, start=JAN1, end=JAN2)


def test_unknown_job_lists_known_ones(flights: Project) -> None:
    with pytest.raises(UnknownJobError, match="known jobs: carrier_daily, plane_daily"):
        run_jobs(flights, ["nope"])


def test_a_table_no_source_declares_is_named_with_the_declared_ones(
    project: Project, jobs_dir: Path
) -> None:
    write_job(jobs_dir, "t", "entities: origin\ntimestamp: ts", "SELECT * FROM weathr")
    with job_fails(UnknownTableError) as error:
        run_jobs(project, start=JAN1, end=JAN2)
    message = str(error.value)
    assert "t.sql reads table 'weathr'" in message
    assert "declared raw sources: flights, weather, planes, airlines, airports" in message
    assert not project.layout.table("t").exists()


def test_an_incremental_run_with_no_new_rows_is_up_to_date(
    project: Project, jobs_dir: Path
) -> None:
    header = "entities: origin\ntimestamp: ts\nstart: 2013-01-01"
    write_job(
        jobs_dir,
        "temps",
        header,
        "SELECT origin, time_hour AS ts, temp FROM weather "
        "WHERE time_hour >= $start AND time_hour < $end "
        "QUALIFY row_number() OVER (PARTITION BY origin, time_hour) = 1",
    )
    # The sample's weather ends on 2013-04-01; a week later there is nothing new.
    (first,) = run_jobs(project, now=datetime(2013, 4, 3, tzinfo=UTC))
    assert first.status == "success"
    (idle,) = run_jobs(project, now=datetime(2013, 4, 8, tzinfo=UTC))
    assert (idle.status, idle.rows, idle.start) == (
        "up to date",
        0,
        datetime(2013, 4, 3, tzinfo=UTC),
    )
    assert runs(project.data_dir, "temps")[0].status == "up to date"
    # The empty window is looked at again: a row arriving late for it is not skipped.
    (later,) = run_jobs(project, now=datetime(2013, 4, 9, tzinfo=UTC))
    assert (later.status, later.start) == ("up to date", datetime(2013, 4, 3, tzinfo=UTC))


def test_failed_run_keeps_previous_table(project: Project, jobs_dir: Path) -> None:
    job = jobs_dir / "one.sql"
    header = "-- name: one\n-- entities: origin\n-- timestamp: event_timestamp\n"
    job.write_text(header + "SELECT 'JFK' AS origin, TIMESTAMPTZ '2013-01-01' AS event_timestamp\n")
    run_jobs(project, start=JAN1, end=JAN2)
    before = snapshot(feature_table_path(project, "one"))
    job.write_text(header + "SELECT 'JFK' AS origin, 1/0::INT AS event_timestamp FROM nowhere\n")
    with job_fails(IngestionError):
        run_jobs(project, start=JAN1, end=JAN2)
    assert snapshot(feature_table_path(project, "one")) == before


def test_every_job_declares_its_keys() -> None:
    jobs = discover_jobs(ROOT / "ingestion" / "jobs")
    assert set(jobs) == {"weather_hourly", "carrier_daily", "plane_daily"}
    assert jobs["weather_hourly"].entities == ("origin",)
    assert all(job.timestamp == "event_timestamp" for job in jobs.values())
