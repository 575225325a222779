"""The local redis-server the demo runs, through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from featurestore.cli import app
from featurestore.redis_server import free_port
from tests.conftest import copy_project

pytestmark = pytest.mark.redis


def test_start_status_stop(tmp_path: Path) -> None:
    repo = copy_project(tmp_path)
    env = {
        "FEATURESTORE_REPO_PATH": str(repo),
        "FEATURESTORE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    runner = CliRunner()
    try:
        started = runner.invoke(app, ["redis", "start"], env=env)
        assert started.exit_code == 0, started.output
        assert "redis started" in started.output
        assert (tmp_path / "data" / "redis" / "redis.pid").is_file()
        status = runner.invoke(app, ["redis", "status"], env=env)
        assert status.exit_code == 0
        assert "version 6." in status.output or "version 7." in status.output
    finally:
        stopped = runner.invoke(app, ["redis", "stop"], env=env)
    assert "redis stopped" in stopped.output
    after = runner.invoke(app, ["redis", "status"], env=env)
    assert after.exit_code == 3
    assert "not running" in after.output


def test_refuses_to_manage_a_remote_redis(tmp_path: Path) -> None:
    repo = copy_project(tmp_path)
    env = {
        "FEATURESTORE_REPO_PATH": str(repo),
        "FEATURESTORE_REDIS_URL": "redis://redis.example.internal:6379/0",
    }
    result = CliRunner().invoke(app, ["redis", "start"], env=env)
    assert result.exit_code != 0
    assert "not at this machine" in str(result.exception)
