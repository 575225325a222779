"""CLI errors are one clear line; --debug shows the traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))


def test_unknown_job_is_one_line() -> None:
    result = subprocess.run(
        [FEATURESTORE, "ingest", "run", "no_such_job"], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: no_such_job: unknown job; known jobs: carrier_daily, plane_daily, weather_hourly"
    ]


@pytest.mark.parametrize("flag", ["--debug"])
def test_debug_flag_shows_traceback(flag: str) -> None:
    result = subprocess.run(
        [FEATURESTORE, flag, "ingest", "run", "no_such_job"], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr
