"""Upstream jobs run first; a missing upstream or a cycle is named; a job that cannot run
is set aside alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from featurestore import job_graph
from featurestore.errors import JobDefinitionError, MissingUpstreamError, UnknownJobError
from featurestore.job_spec import discover_jobs, read_jobs
from tests.conftest import ROOT
from tests.ingestion.conftest import write_job

HEADER = "entities: a\ntimestamp: ts"


def test_upstream_is_inferred_from_the_sql(jobs_dir: Path) -> None:
    write_job(jobs_dir, "base", HEADER, "SELECT * FROM flights")
    write_job(jobs_dir, "lhs", HEADER, "WITH x AS (SELECT * FROM base) SELECT * FROM x")
    write_job(jobs_dir, "rhs", HEADER, "SELECT * FROM weather JOIN base USING (a)")
    write_job(jobs_dir, "top", HEADER, "SELECT * FROM lhs UNION ALL SELECT * FROM rhs")
    jobs = discover_jobs(jobs_dir)
    levels = job_graph.levels(["top"], jobs)
    assert [[job.name for job in level] for level in levels] == [
        ["base"], ["lhs", "rhs"], ["top"],
    ]  # fmt: skip


def test_declared_upstream_must_exist(jobs_dir: Path) -> None:
    write_job(jobs_dir, "child", HEADER + "\nupstream: parent", "SELECT 1")
    with pytest.raises(MissingUpstreamError, match=r"child\.sql: upstream job 'parent' does not"):
        job_graph.levels(["child"], discover_jobs(jobs_dir))


def test_a_cycle_is_named(jobs_dir: Path) -> None:
    write_job(jobs_dir, "one", HEADER, "SELECT * FROM two")
    write_job(jobs_dir, "two", HEADER, "SELECT * FROM one")
    with pytest.raises(MissingUpstreamError, match="forms a cycle among one, two"):
        job_graph.levels(["one"], discover_jobs(jobs_dir))


def test_the_shipped_jobs_are_independent() -> None:
    levels = job_graph.levels(
        ["carrier_daily", "plane_daily", "weather_hourly"],
        discover_jobs(ROOT / "ingestion" / "jobs"),
    )
    assert len(levels) == 1


def test_plan_sets_aside_the_jobs_that_cannot_run(jobs_dir: Path) -> None:
    """Issue 13, 10: one broken header made every plan fail."""
    write_job(jobs_dir, "base", HEADER, "SELECT * FROM flights")
    write_job(jobs_dir, "bad", "entities: a", "SELECT * FROM flights")  # no timestamp
    write_job(jobs_dir, "reader", HEADER, "SELECT * FROM bad JOIN base USING (a)")
    write_job(jobs_dir, "orphan", HEADER + "\nupstream: nowhere", "SELECT 1")
    write_job(jobs_dir, "one", HEADER, "SELECT * FROM two JOIN base USING (a)")
    write_job(jobs_dir, "two", HEADER, "SELECT * FROM one")
    write_job(jobs_dir, "top", HEADER, "SELECT * FROM two")
    found = read_jobs(jobs_dir)
    planned = job_graph.plan(found.names, found)
    assert sorted(planned.broken) == ["bad", "one", "orphan", "two"]
    assert isinstance(planned.broken["bad"], JobDefinitionError)
    assert "forms a cycle among one, two" in str(planned.broken["one"])
    assert "upstream job 'nowhere' does not exist" in str(planned.broken["orphan"])
    # The readers of broken jobs stay in the plan, after them: the runner skips them.
    assert [[job.name for job in level] for level in planned.levels] == [
        ["base"], ["reader"], ["top"],
    ]  # fmt: skip
    assert planned.upstream["reader"] == ("bad", "base")
    # Only what the selection needs is looked at.
    assert job_graph.plan(["base"], found).broken == {}
    with pytest.raises(UnknownJobError, match="known jobs: bad, base, one, orphan"):
        job_graph.plan(["nope"], found)
