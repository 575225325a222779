"""``featurestore training build`` on the demo project: a frame, a file with a manifest,
and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from featurestore.project import Project

pytestmark = pytest.mark.slow

FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))


def _run(settings: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FEATURESTORE_REPO_PATH": str(settings.repo_path),
        "FEATURESTORE_REDIS_URL": settings.redis_url,
    }
    return subprocess.run(
        [FEATURESTORE, "training", "build", *args], env=env, capture_output=True, text=True
    )


def test_build_in_memory(demo_project: Project) -> None:
    result = _run(demo_project, "cancellation_model", "--limit", "300", "--show", "2")
    assert result.returncode == 0, result.stderr
    assert "training set for cancellation_model: 300 rows x 15 columns" in result.stdout


def test_build_to_parquet_with_manifest(demo_project: Project, tmp_path: Path) -> None:
    output = tmp_path / "delay.parquet"
    result = _run(demo_project, "departure_delay_model", "--limit", "1000", "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert "1,000 rows written to" in result.stdout
    assert pq.read_metadata(output).num_rows == 1000
    manifest = json.loads((tmp_path / "delay.manifest.json").read_text())
    assert manifest["row_count"] == 1000


def test_unknown_service_is_one_line(demo_project: Project) -> None:
    result = _run(demo_project, "nope")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: unknown feature service 'nope'; known feature services: "
        "cancellation_model, departure_delay_model"
    ]


def test_bad_label_query_is_one_line(demo_project: Project, tmp_path: Path) -> None:
    label = tmp_path / "labels.sql"
    label.write_text("SELECT origin, time_hour AS event_timestamp FROM flights")
    result = _run(demo_project, "cancellation_model", "--label-sql", str(label))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: missing join key(s): carrier"]
