"""A run killed at any point leaves the old partitions or the new ones, never a mix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingestion import feature_table_path, run_jobs, runs
from ingestion.storage import versions_dir
from tests.ingestion.conftest import snapshot, write_job

pytestmark = pytest.mark.slow

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
    "from ingestion.job import parse_time; "
    "run_jobs(Path(sys.argv[1]), jobs_dir=Path(sys.argv[2]), "
    "start=parse_time(sys.argv[3]), end=parse_time(sys.argv[4]))"
)


def _run_in_process(data_dir: Path, jobs_dir: Path) -> None:
    from ingestion.job import parse_time

    run_jobs(data_dir, jobs_dir=jobs_dir, start=parse_time(WINDOW[0]), end=parse_time(WINDOW[1]))


def _spawn(data_dir: Path, jobs_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", RUN, str(data_dir), str(jobs_dir), *WINDOW],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _staged_files(data_dir: Path) -> int:
    return sum(1 for _ in versions_dir(data_dir, "big").glob(".staging-*/**/*.parquet"))


@pytest.fixture
def old_and_new(tmp_path: Path, data_dir: Path, jobs_dir: Path) -> tuple[dict, dict]:  # type: ignore[type-arg]
    """The table after a run of the old job, and (elsewhere) after a run of the new one."""
    other_jobs = tmp_path / "new_jobs"
    other_jobs.mkdir()
    write_job(other_jobs, "big", HEADER, SQL.format(factor=2))
    other_data = tmp_path / "other"
    (other_data / "raw").mkdir(parents=True)
    for raw in (data_dir / "raw").iterdir():
        os.link(raw, other_data / "raw" / raw.name)
    _run_in_process(other_data, other_jobs)
    new = snapshot(feature_table_path(other_data, "big"))

    write_job(jobs_dir, "big", HEADER, SQL.format(factor=1))
    _run_in_process(data_dir, jobs_dir)
    old = snapshot(feature_table_path(data_dir, "big"))
    write_job(jobs_dir, "big", HEADER, SQL.format(factor=2))
    assert old != new
    return old, new


def test_kill_mid_write_keeps_old_partitions_and_rerun_is_identical(
    data_dir: Path,
    jobs_dir: Path,
    old_and_new: tuple[dict, dict],  # type: ignore[type-arg]
) -> None:
    old, new = old_and_new
    table = feature_table_path(data_dir, "big")
    process = _spawn(data_dir, jobs_dir)
    deadline = time.monotonic() + 120
    while _staged_files(data_dir) == 0 and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert process.poll() is None, "the run ended before it was killed mid-write"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    assert _staged_files(data_dir) > 0  # killed with some new partitions written...
    assert snapshot(table) == old  # ...yet readers still see exactly the old table
    assert runs(data_dir, "big")[0].status == "interrupted"

    _run_in_process(data_dir, jobs_dir)
    assert snapshot(table) == new  # byte-identical to an uninterrupted run
    assert _staged_files(data_dir) == 0


@pytest.mark.parametrize("delay", [0.5, 2.0, 4.0])
def test_kill_at_any_moment_leaves_old_or_new(
    data_dir: Path,
    jobs_dir: Path,
    old_and_new: tuple[dict, dict],  # type: ignore[type-arg]
    delay: float,
) -> None:
    old, new = old_and_new
    process = _spawn(data_dir, jobs_dir)
    time.sleep(delay)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert snapshot(feature_table_path(data_dir, "big")) in (old, new)
