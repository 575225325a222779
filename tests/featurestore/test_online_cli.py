"""``featurestore demo lookup`` against a running server on the real demo data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from featurestore.project import Project
from tests.online_repo import ServerThread

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def test_demo_lookup_prints_values_marked_outside_max_age(demo_project: Project) -> None:
    with ServerThread(demo_project) as server:
        env = {
            **os.environ,
            "FEATURESTORE_REPO_PATH": str(demo_project.repo_path),
            "FEATURESTORE_REDIS_URL": demo_project.redis_url,
            "COLUMNS": "200",
        }
        cli = Path(sys.executable).with_name("featurestore")
        done = subprocess.run(
            [str(cli), "demo", "lookup", "--url", server.url],
            env=env, capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "OUTSIDE_MAX_AGE" in done.stdout
    assert "older than its feature view's TTL" in done.stdout
    assert "NOT_FOUND" not in done.stdout  # the last flight's entities all have rows
