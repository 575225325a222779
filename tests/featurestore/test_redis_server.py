"""The local redis-server a project runs: its own, never another project's on its port."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from featurestore.cli import app
from featurestore.cli._errors import is_known
from featurestore.errors import ForeignRedisError, RedisServerError
from featurestore.redis_server import LocalRedis, free_port, ping
from tests.conftest import copy_project
from tests.frozen_redis import frozen

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


@pytest.fixture
def foreign(tmp_path: Path) -> Iterator[LocalRedis]:
    """Another project's server on a free port, holding a key of its own."""
    server = LocalRedis(workdir=tmp_path / "other_project" / "redis", port=free_port())
    server.start(daemonize=False, persist=False)
    pid = server.pid()
    assert pid is not None
    client = redis.Redis(port=server.port)
    client.set("theirs", "kept")
    client.close()
    yield server
    if ping(server.address):
        try:
            server.stop()
        finally:
            if ping(server.address):
                os.kill(pid, signal.SIGTERM)


def _untouched(server: LocalRedis) -> None:
    client = redis.Redis(port=server.port)
    try:
        assert client.ping()
        assert client.get("theirs") == b"kept"
        assert client.config_get("dir") == {"dir": str(server.workdir.resolve())}
    finally:
        client.close()
    assert server.owned()


def test_start_refuses_a_port_held_by_a_server_this_project_did_not_start(
    foreign: LocalRedis, tmp_path: Path
) -> None:
    ours = LocalRedis(workdir=tmp_path / "redis", port=foreign.port)
    with pytest.raises(ForeignRedisError) as raised:
        ours.start(daemonize=False, persist=False)
    assert str(raised.value) == (
        f"port {foreign.port} is taken by a server this project did not start "
        f"(pid {foreign.pid()}, dir {foreign.workdir.resolve()}); "
        "choose another port for this project"
    )
    assert isinstance(raised.value, RedisServerError)
    assert not ours.pidfile.exists()
    _untouched(foreign)


def test_stop_leaves_a_server_this_project_did_not_start_running(
    foreign: LocalRedis, tmp_path: Path
) -> None:
    ours = LocalRedis(workdir=tmp_path / "redis", port=foreign.port)
    with pytest.raises(ForeignRedisError, match="not started by this project; left it running"):
        ours.stop()
    _untouched(foreign)
    state = ours.status()
    assert (state.running, state.owned, state.pid) == (True, False, foreign.pid())


def test_a_pid_file_naming_another_projects_server_does_not_make_it_ours(
    foreign: LocalRedis, tmp_path: Path
) -> None:
    """The pid matches what answers on the port, but that server serves another dir: a
    reused pid, or a copied data folder. Neither start nor stop may adopt it."""
    ours = LocalRedis(workdir=tmp_path / "redis", port=foreign.port)
    ours.workdir.mkdir()
    ours.pidfile.write_text(f"{foreign.pid()}\n")
    with pytest.raises(ForeignRedisError):
        ours.stop()
    _untouched(foreign)
    ours.pidfile.write_text(f"{foreign.pid()}\n")
    assert not ours.owned()
    with pytest.raises(ForeignRedisError):
        ours.start(daemonize=False, persist=False)
    assert not ours.pidfile.exists()
    _untouched(foreign)


def test_a_stale_pid_file_is_removed_and_replaced(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    ours = LocalRedis(workdir=tmp_path / "redis", port=free_port())
    ours.workdir.mkdir()
    ours.pidfile.write_text(f"{dead.pid}\n")
    assert not ours.status().running
    assert ours.stop() is False
    assert not ours.pidfile.exists()

    ours.pidfile.write_text(f"{dead.pid}\n")
    ours.start(daemonize=False, persist=False)
    try:
        state = ours.status()
        assert state.owned and state.pid == ours.pid() != dead.pid
    finally:
        assert ours.stop() is True


def test_our_server_round_trip(tmp_path: Path) -> None:
    ours = LocalRedis(workdir=tmp_path / "redis", port=free_port())
    ours.start(daemonize=False, persist=False)
    try:
        first = ours.status()
        assert first.running and first.owned and first.dir == ours.workdir.resolve()
        ours.start(daemonize=False, persist=False)  # already running: the same process
        assert ours.status().pid == first.pid
    finally:
        assert ours.stop() is True
    assert not ours.status().running
    assert not ours.pidfile.exists()
    assert ours.stop() is False


def test_cli_never_adopts_or_stops_another_projects_server(
    foreign: LocalRedis, tmp_path: Path
) -> None:
    repo = copy_project(tmp_path / "project")
    env = {
        "FEATURESTORE_REPO_PATH": str(repo),
        "FEATURESTORE_REDIS_URL": f"redis://127.0.0.1:{foreign.port}/0",
    }
    runner = CliRunner()
    started = runner.invoke(app, ["redis", "start"], env=env)
    assert started.exit_code == 1
    assert isinstance(started.exception, ForeignRedisError)
    assert f"port {foreign.port} is taken" in str(started.exception)
    status = runner.invoke(app, ["redis", "status"], env=env)
    assert status.exit_code == 1
    assert "redis running (not started by this project)" in " ".join(status.output.split())
    stopped = runner.invoke(app, ["redis", "stop"], env=env)
    assert stopped.exit_code == 1
    assert isinstance(stopped.exception, ForeignRedisError)
    assert not (tmp_path / "project" / "data" / "redis" / "redis.pid").exists()
    _untouched(foreign)


def test_a_frozen_server_is_one_clear_error_within_the_timeout(
    own_redis: LocalRedis, tmp_path: Path
) -> None:
    """A server that accepts connections but answers nothing (SIGSTOP) is neither ours nor
    foreign: ``redis status`` says it does not answer, after FEATURESTORE_REDIS_TIMEOUT."""
    repo = copy_project(tmp_path / "project")
    env = {
        "FEATURESTORE_REPO_PATH": str(repo),
        "FEATURESTORE_REDIS_URL": own_redis.url,
        "FEATURESTORE_REDIS_TIMEOUT": "0.5",
    }
    with frozen(own_redis):
        start = time.monotonic()
        status = CliRunner().invoke(app, ["redis", "status"], env=env)
        elapsed = time.monotonic() - start
    assert isinstance(status.exception, RedisServerError), status.output
    assert is_known(status.exception)
    assert "accepts connections but did not answer within 0.5 s" in str(status.exception)
    assert elapsed < 5
