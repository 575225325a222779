"""Job headers: the schema, the expectations and clear errors for a malformed header."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from featurestore.errors import JobDefinitionError
from featurestore.job_spec import discover_jobs, parse_job, parse_share, read_jobs
from tests.conftest import ROOT
from tests.ingestion.conftest import write_job


def test_header_declares_columns_and_rules(jobs_dir: Path) -> None:
    path = write_job(
        jobs_dir,
        "hours",
        "entities: origin\ntimestamp: ts\ngrain: hour\nstart: 2013-01-01\nmax_bad_rows: 5%\n"
        "column: origin VARCHAR in ('EWR', 'JFK')\ncolumn: ts TIMESTAMPTZ\n"
        "column: hour_of_day BIGINT not null min 0 max 23 | Scheduled hour",
        "SELECT 1",
    )
    job = parse_job(path)
    assert (job.grain, job.start, job.max_bad_rows) == (
        "hour",
        datetime(2013, 1, 1, tzinfo=UTC),
        0.05,
    )
    hour = job.column_map["hour_of_day"]
    assert (hour.type, hour.feast_type, hour.not_null, hour.min, hour.max) == (
        "BIGINT", "Int64", True, 0, 23,
    )  # fmt: skip
    assert hour.description == "Scheduled hour"
    assert job.column_map["origin"].allowed == ("'EWR'", "'JFK'")
    assert [c.name for c in job.features] == ["hour_of_day"]


def test_window_parameters_keep_line_numbers(jobs_dir: Path) -> None:
    path = write_job(jobs_dir, "w", "entities: a\ntimestamp: ts", "SELECT *\nWHERE ts >= $start\n")
    sql = parse_job(path).render(datetime(2013, 1, 1, tzinfo=UTC), datetime(2013, 1, 2, tzinfo=UTC))
    assert "WHERE ts >= TIMESTAMPTZ '2013-01-01 00:00:00+00:00'" in sql
    assert sql.count("\n") == path.read_text().rstrip().count("\n")


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("entities: a", r"w\.sql: header lacks timestamp"),
        ("entities: a\ntimestamp: ts\ncolumn: a BIGNUM", r"w\.sql:4: unknown type 'BIGNUM'"),
        ("entities: a\ntimestamp: ts\ncolumn: a BIGINT between 1 and 2", r"w\.sql:4: cannot read"),
        ("entities: a\ntimestamp: ts\ngrain: week", "grain must be one of day, hour"),
        ("entities: a\ntimestamp: ts\ncolumn: a BIGINT", r"column\(s\) not declared: ts"),
        ("entities: a\ntimestamp: ts\nmax_bad_rows: 150%", "max_bad_rows must be a share"),
        ("entities: a\ntimestamp: ts\nstart: soon", "start 'soon' is not a date"),
    ],
)
def test_malformed_headers_name_the_file_and_line(
    jobs_dir: Path, header: str, problem: str
) -> None:
    path = write_job(jobs_dir, "w", header, "SELECT 1")
    with pytest.raises(JobDefinitionError, match=problem):
        parse_job(path)


def test_share_accepts_fractions_and_percentages() -> None:
    assert (parse_share("0.05"), parse_share("5%"), parse_share(None)) == (0.05, 0.05, 0.01)


def test_shipped_jobs_declare_every_column() -> None:
    for job in discover_jobs(ROOT / "ingestion" / "jobs").values():
        assert job.columns, job.name
        assert job.start == datetime(2013, 1, 1, tzinfo=UTC)


def test_one_bad_header_does_not_hide_the_other_jobs(jobs_dir: Path) -> None:
    """Issue 13, 10: reading the jobs raised at the first bad header."""
    write_job(jobs_dir, "good", "entities: a\ntimestamp: ts", "SELECT 1")
    write_job(jobs_dir, "bad", "entities: a\ntimestamp: ts\ncolumn: a BIGGINT", "SELECT 1")
    found = read_jobs(jobs_dir)
    assert list(found.jobs) == ["good"]
    assert "unknown type 'BIGGINT'" in str(found.broken["bad"])
    assert found.names == ["bad", "good"]
    with pytest.raises(JobDefinitionError, match="BIGGINT"):
        discover_jobs(jobs_dir)  # the strict form, for callers that need every job
