"""One broken job does not stop the others (issue 13, item 10).

Jobs are validated one by one: a job with a bad header, bad SQL, a missing upstream or a
drifted raw input fails alone, the jobs that read it are skipped, every other job runs;
the error raised after the run carries every job's result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from featurestore.errors import (
    JobDefinitionError,
    JobSQLError,
    MissingUpstreamError,
    RawSchemaDriftError,
    UnknownJobError,
)
from featurestore.project import Project
from ingestion import JobResult, JobsFailedError, backfill, run_jobs
from tests.ingestion.conftest import write_job, write_raw

JAN1 = datetime(2013, 1, 1, tzinfo=UTC)
JAN2 = datetime(2013, 1, 2, tzinfo=UTC)
JAN3 = datetime(2013, 1, 3, tzinfo=UTC)
HEADER = "entities: origin\ntimestamp: ts"
TEMPS = (
    "SELECT origin, time_hour AS ts, temp FROM weather "
    "WHERE time_hour >= $start AND time_hour < $end "
    "QUALIFY row_number() OVER (PARTITION BY origin, time_hour) = 1"
)


def _healthy(jobs_dir: Path, *names: str) -> None:
    for name in names:
        write_job(jobs_dir, name, HEADER, TEMPS)


def _outcomes(results: list[JobResult]) -> dict[str, str]:
    return {r.job: r.status for r in results}


def test_a_broken_header_elsewhere_does_not_stop_a_named_job(
    project: Project, jobs_dir: Path
) -> None:
    _healthy(jobs_dir, "b")
    write_job(jobs_dir, "a", HEADER + "\ncolumn: origin VARCHAR\ncolumn: ts BIGGINT", TEMPS)
    (result,) = run_jobs(project, ["b"], start=JAN1, end=JAN2)
    assert (result.job, result.status) == ("b", "success")
    assert project.layout.table("b").exists()


def test_bad_sql_in_one_job_fails_it_alone(project: Project, jobs_dir: Path) -> None:
    _healthy(jobs_dir, "b", "c")
    write_job(jobs_dir, "a", HEADER, "SELECT origin, time_hour AS ts FROM weather WHERE temp >")
    write_job(jobs_dir, "d", HEADER, "SELECT * FROM a")  # reads a: cannot run without it
    with pytest.raises(JobsFailedError) as error:
        run_jobs(project, start=JAN1, end=JAN2)
    results = error.value.results
    assert _outcomes(results) == {"a": "failed", "b": "success", "c": "success", "d": "skipped"}
    by_job = {r.job: r for r in results}
    assert isinstance(by_job["a"].error, JobSQLError)
    assert "a.sql:" in by_job["a"].reason and "\n" not in by_job["a"].reason
    assert by_job["d"].reason == "upstream job 'a' failed"
    assert [r.job for r in error.value.failed] == ["a"]
    assert str(error.value).startswith("a: ")  # the one failure's own line
    assert "skipped: d" in str(error.value)
    assert project.layout.table("b").exists() and project.layout.table("c").exists()
    assert not project.layout.table("d").exists()


def test_a_broken_header_is_a_failed_job_and_its_readers_are_skipped(
    project: Project, jobs_dir: Path
) -> None:
    _healthy(jobs_dir, "b")
    write_job(jobs_dir, "a", HEADER + "\ncolumn: origin VARCHAR\ncolumn: ts BIGGINT", TEMPS)
    write_job(jobs_dir, "d", HEADER, "SELECT * FROM a")
    write_job(jobs_dir, "e", HEADER, "SELECT * FROM d")  # two steps downstream
    with pytest.raises(JobsFailedError) as error:
        run_jobs(project, start=JAN1, end=JAN2)
    by_job = {r.job: r for r in error.value.results}
    assert _outcomes(error.value.results) == {
        "a": "failed", "b": "success", "d": "skipped", "e": "skipped",
    }  # fmt: skip
    assert isinstance(by_job["a"].error, JobDefinitionError)
    assert "unknown type 'BIGGINT'" in by_job["a"].reason
    assert by_job["e"].reason == "upstream job 'd' was skipped"


def test_a_named_broken_job_is_reported_not_raised_as_a_crash(
    project: Project, jobs_dir: Path
) -> None:
    write_job(jobs_dir, "a", "entities: origin", TEMPS)  # no timestamp
    with pytest.raises(JobsFailedError, match="header lacks timestamp") as error:
        run_jobs(project, ["a"], start=JAN1, end=JAN2)
    assert _outcomes(error.value.results) == {"a": "failed"}


def test_an_unknown_name_is_still_refused_before_anything_runs(
    project: Project, jobs_dir: Path
) -> None:
    _healthy(jobs_dir, "b")
    write_job(jobs_dir, "a", "entities: origin", TEMPS)
    with pytest.raises(UnknownJobError, match="known jobs: a, b"):
        run_jobs(project, ["b", "nope"], start=JAN1, end=JAN2)
    assert not project.layout.table("b").exists()


def test_a_missing_upstream_or_a_cycle_fails_those_jobs_only(
    project: Project, jobs_dir: Path
) -> None:
    _healthy(jobs_dir, "b")
    write_job(jobs_dir, "orphan", HEADER + "\nupstream: nowhere", TEMPS)
    write_job(jobs_dir, "one", HEADER, "SELECT * FROM two")
    write_job(jobs_dir, "two", HEADER, "SELECT * FROM one")
    write_job(jobs_dir, "after", HEADER, "SELECT * FROM one")
    with pytest.raises(JobsFailedError) as error:
        run_jobs(project, start=JAN1, end=JAN2)
    by_job = {r.job: r for r in error.value.results}
    assert _outcomes(error.value.results) == {
        "after": "skipped", "b": "success", "one": "failed", "orphan": "failed", "two": "failed",
    }  # fmt: skip
    assert isinstance(by_job["orphan"].error, MissingUpstreamError)
    assert "forms a cycle among one, two" in by_job["one"].reason
    assert by_job["after"].reason == "upstream job 'one' failed"


def test_a_drifted_raw_source_fails_only_the_jobs_that_read_it(project: Project) -> None:
    project = write_raw(project, "counts", "SELECT 'JFK' AS origin, 1 AS n")
    assert project.project_file is not None
    spec = yaml.safe_load(project.project_file.read_text())
    spec["sources"]["counts"]["columns"] = {"origin": "VARCHAR", "n": "DOUBLE"}
    project.project_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    project = Project.load(project.root)
    _healthy(project.jobs_dir, "b")
    write_job(project.jobs_dir, "a", HEADER, "SELECT origin, TIMESTAMPTZ '2013-01-01' AS ts "
              "FROM counts")  # fmt: skip
    with pytest.raises(JobsFailedError) as error:
        run_jobs(project, start=JAN1, end=JAN2)
    by_job = {r.job: r for r in error.value.results}
    assert _outcomes(error.value.results) == {"a": "failed", "b": "success"}
    assert isinstance(by_job["a"].error, RawSchemaDriftError)
    assert "column 'n' is INTEGER, declared DOUBLE" in by_job["a"].reason


def test_a_backfill_stops_after_the_window_that_failed(project: Project, jobs_dir: Path) -> None:
    _healthy(jobs_dir, "b")
    write_job(jobs_dir, "a", HEADER, "SELECT origin, time_hour AS ts FROM weather WHERE temp >")
    with pytest.raises(JobsFailedError) as error:
        backfill(project, None, JAN1, JAN3, JAN2 - JAN1)
    # The first window's results only: a second window would leave a gap in table a.
    assert [(r.job, r.status, r.start) for r in error.value.results] == [
        ("a", "failed", JAN1), ("b", "success", JAN1),
    ]  # fmt: skip
