"""`featurestore ingest run|backfill|status` on a copy of the project, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project

pytestmark = pytest.mark.slow

FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    repo = copy_project(tmp_path)
    return {**os.environ, "FEATURESTORE_REPO_PATH": str(repo), "COLUMNS": "200"}


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FEATURESTORE, "ingest", *args], env=env, capture_output=True, text=True, check=False
    )


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
