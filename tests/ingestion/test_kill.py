"""A run killed at any point leaves the old partitions or the new ones, never a mix."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from featurestore.job_spec import parse_time
from featurestore.project import Project
from ingestion import feature_table_path, run_jobs, runs
from ingestion.storage import versions_dir
from tests.flights_sample import make_sample_project
from tests.ingestion.conftest import snapshot, write_job
from tests.reliability import Figures, scaled

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

HEADER = "entities: id\ntimestamp: ts\nstart: 2013-01-01\n"
HEADER += "column: id BIGINT\ncolumn: ts TIMESTAMPTZ\ncolumn: v BIGINT min 0"
# 3 million rows over ~1,400 daily partitions: a few seconds of writing.
SQL = (
    "SELECT i % 2000 AS id, TIMESTAMPTZ '2013-01-01 00:00:00+00' + to_seconds(i * 40) AS ts, "
    "i * {factor} AS v FROM range(3000000) t(i)"
)
WINDOW = ("2013-01-01", "2017-01-01")
RUN = (
    "import sys; from pathlib import Path; from ingestion import run_jobs; "
    "from featurestore.job_spec import parse_time; from featurestore.project import Project; "
    "run_jobs(Project.load(Path(sys.argv[1])), "
    "start=parse_time(sys.argv[2]), end=parse_time(sys.argv[3]))"
)


def _run_in_process(project: Project) -> None:
    run_jobs(project, start=parse_time(WINDOW[0]), end=parse_time(WINDOW[1]))


def _spawn(project: Project) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", RUN, str(project.root), *WINDOW],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _staged_files(project: Project) -> int:
    return sum(1 for _ in versions_dir(project.data_dir, "big").glob(".staging-*/**/*.parquet"))


@pytest.fixture
def old_and_new(tmp_path: Path, project: Project, jobs_dir: Path) -> tuple[dict, dict]:  # type: ignore[type-arg]
    """The table after a run of the old job, and (elsewhere) after a run of the new one."""
    other = make_sample_project(tmp_path / "other", demo_jobs=False, raw_from=project.root / "raw")
    write_job(other.jobs_dir, "big", HEADER, SQL.format(factor=2))
    _run_in_process(other)
    new = snapshot(feature_table_path(other, "big"))

    write_job(jobs_dir, "big", HEADER, SQL.format(factor=1))
    _run_in_process(project)
    old = snapshot(feature_table_path(project, "big"))
    write_job(jobs_dir, "big", HEADER, SQL.format(factor=2))
    assert old != new
    return old, new


def test_kill_mid_write_keeps_old_partitions_and_rerun_is_identical(
    project: Project,
    jobs_dir: Path,
    old_and_new: tuple[dict, dict],  # type: ignore[type-arg]
) -> None:
    old, new = old_and_new
    table = feature_table_path(project, "big")
    process = _spawn(project)
    deadline = time.monotonic() + 120
    while _staged_files(project) == 0 and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert process.poll() is None, "the run ended before it was killed mid-write"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    assert _staged_files(project) > 0  # killed with some new partitions written...
    assert snapshot(table) == old  # ...yet readers still see exactly the old table
    assert runs(project.data_dir, "big")[0].status == "interrupted"

    _run_in_process(project)
    assert snapshot(table) == new  # byte-identical to an uninterrupted run
    assert _staged_files(project) == 0


def test_kill_at_any_moment_leaves_old_or_new(
    project: Project,
    jobs_dir: Path,
    old_and_new: tuple[dict, dict],  # type: ignore[type-arg]
    figures: Figures,
) -> None:
    """Trials at random moments, each run writing the other version of the table: after
    every kill the table is exactly one of the two."""
    old, new = old_and_new
    versions = {1: old, 2: new}
    table = feature_table_path(project, "big")
    chance = random.Random(12)
    trials = scaled(3, 12)
    current, outcomes = 1, {"old": 0, "new": 0}
    for _ in range(trials):
        target = 3 - current
        write_job(jobs_dir, "big", HEADER, SQL.format(factor=target))
        process = _spawn(project)
        time.sleep(chance.uniform(0.2, 5.0))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        after = snapshot(table)
        assert after in (versions[current], versions[target])
        outcomes["new" if after == versions[target] else "old"] += 1
        current = target if after == versions[target] else current
    write_job(jobs_dir, "big", HEADER, SQL.format(factor=2))
    run_jobs(project, start=parse_time(WINDOW[0]), end=parse_time(WINDOW[1]))
    assert snapshot(table) == new
    figures.record(
        "kill -9",
        "ingestion job at a random moment",
        trials=trials,
        left_old=outcomes["old"],
        left_new=outcomes["new"],
        mixed=0,
        rerun_equals_clean_run=True,
    )
