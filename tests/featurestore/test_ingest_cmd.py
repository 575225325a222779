"""`featurestore ingest run|backfill|status` as a user runs them: on a copy of the demo
project (slow), and on a small project of a few jobs made here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project

FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    repo = copy_project(tmp_path)
    return {**os.environ, "FEATURESTORE_REPO_PATH": str(repo), "COLUMNS": "200"}


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FEATURESTORE, "ingest", *args], env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_run_backfill_and_status(env: dict[str, str]) -> None:
    ran = _cli(env, "run", "weather_hourly", "--start", "2013-01-01", "--end", "2013-01-03")
    assert ran.returncode == 0, ran.stderr
    assert "weather_hourly" in ran.stdout
    assert "2013-01-01..2013-01-03" in ran.stdout
    filled = _cli(env, "backfill", "carrier_daily", "--start", "2013-01-01", "--end", "2013-01-15",
                  "--step", "7d")  # fmt: skip
    assert filled.returncode == 0, filled.stderr
    assert filled.stdout.count("carrier_daily") == 2
    status = _cli(env, "status")
    assert status.returncode == 0
    lines = [line for line in status.stdout.splitlines() if "success" in line]
    assert len(lines) == 3
    assert "2013-01-08..2013-01-15" in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "weather_hourly", "--start", "2013-01-01T05:00", "--end", "2013-01-02"],
            "error: weather_hourly: start 2013-01-01T05:00:00+00:00 is not on a day boundary",
        ),
        (["run", "--start", "yesterday"], "error: ingest: --start 'yesterday' is not an ISO"),
        (
            ["backfill", "--start", "2013-01-01", "--end", "2013-02-01", "--step", "week"],
            "error: backfill: step must look like 7d or 6h, not 'week'",
        ),
    ],
)
def test_bad_input_is_one_line(env: dict[str, str], args: list[str], message: str) -> None:
    result = _cli(env, *args)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(message)


READINGS = """\
name: readings
sources:
  readings:
    format: parquet
    path: raw/readings.parquet
    columns: {station: VARCHAR, ts: TIMESTAMPTZ, value: DOUBLE}
"""
HEADER = "-- name: {name}\n-- entities: station\n-- timestamp: ts\n"
READ = "SELECT station, ts, value FROM readings WHERE ts >= $start AND ts < $end\n"
WINDOW = ("--start", "2013-01-01", "--end", "2013-01-02")


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A project of four jobs: ``a``, ``b`` and ``c`` read the raw readings, ``d`` reads ``a``."""
    from featurestore import sql

    (tmp_path / "feature_repo").mkdir()
    (tmp_path / "feature_repo" / "feature_store.yaml").write_text("project: readings\n")
    (tmp_path / "raw").mkdir()
    con = sql.connect()
    try:
        con.execute(
            "COPY (SELECT 'S' || i AS station, TIMESTAMPTZ '2013-01-01 00:00+00' + "
            "to_hours(i) AS ts, i / 2 AS value FROM range(12) t(i)) "
            f"TO {sql.path_literal(tmp_path / 'raw' / 'readings.parquet')} (FORMAT parquet)"
        )
    finally:
        con.close()
    (tmp_path / "featurestore.yaml").write_text(READINGS)
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for name in "abc":
        (jobs / f"{name}.sql").write_text(HEADER.format(name=name) + READ)
    (jobs / "d.sql").write_text(HEADER.format(name="d") + "SELECT * FROM a\n")
    return tmp_path


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [FEATURESTORE, "--project", str(project), "ingest", "run", *args],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_a_broken_header_in_another_job_does_not_stop_a_named_one(small: Path) -> None:
    """Issue 13, 10: a bad type in one job's header made every run fail."""
    path = small / "jobs" / "a.sql"
    path.write_text(HEADER.format(name="a") + "-- column: value BIGGINT\n" + READ)
    ran = _run(small, "b", *WINDOW)
    assert ran.returncode == 0, ran.stderr
    assert "success" in ran.stdout
    # Not run and not needed, but worth a line.
    (warning,) = ran.stderr.strip().splitlines()
    assert warning.startswith("warning: a not run:") and "unknown type 'BIGGINT'" in warning


def test_bad_sql_in_one_job_lists_every_outcome_and_exits_1(small: Path) -> None:
    """Issue 13, 10: bad SQL in one job printed that error alone, though others ran."""
    (small / "jobs" / "a.sql").write_text(HEADER.format(name="a") + "SELECT station, ts FROM\n")
    ran = _run(small, *WINDOW)
    assert ran.returncode == 1
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in ran.stdout.splitlines()]
    assert {row[0]: row[2] for row in rows if row} == {
        "a": "failed", "b": "success", "c": "success", "d": "skipped",
    }  # fmt: skip
    assert "a: failed: " in ran.stdout and "a.sql:" in ran.stdout
    assert "d: skipped: upstream job 'a' failed" in ran.stdout
    (line,) = ran.stderr.strip().splitlines()
    assert line.startswith("error: a: ") and "skipped: d" in line
    assert "Traceback" not in ran.stderr


def test_a_raw_file_that_is_not_parquet_is_one_line_naming_it(small: Path) -> None:
    """Issue 13, 9: a text file declared as a Parquet source."""
    (small / "raw" / "readings.parquet").write_text("station,ts,value\nS1,2013-01-01,1\n")
    ran = _run(small, *WINDOW)
    assert ran.returncode == 1
    (line,) = ran.stderr.strip().splitlines()
    assert line.startswith("error: 3 of 4 jobs failed: raw source 'readings' (")
    assert "readings.parquet" in line and "(jobs a, b, c); skipped: d" in line
    assert "LINE 1" not in line  # DuckDB's echo of our own SQL
