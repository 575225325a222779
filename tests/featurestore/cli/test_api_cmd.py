"""``featurestore api start|status|stop``: the server the demo runs, over a real socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from featurestore.redis_server import free_port
from tests.online_repo import OnlineRepo, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis]


def _cli(
    repo: OnlineRepo, *args: str, redis_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FEATURESTORE_REPO_PATH": str(repo.settings.repo_path),
        "FEATURESTORE_REDIS_URL": redis_url or repo.settings.redis_url,
    }
    cli = Path(sys.executable).with_name("featurestore")
    return subprocess.run(
        [str(cli), "api", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_start_serves_lookups_with_our_protocol_then_stops(online_repo: OnlineRepo) -> None:  # noqa: F811
    port = free_port()
    started = _cli(online_repo, "start", "--port", str(port))
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        pid = int((online_repo.settings.data_dir / "run" / "api.pid").read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert b"api.worker:InlineHttpProtocol" in cmdline
        body = {"features": ["item_stats:price"], "entities": {"item_id": ["nope"]}}
        answer = httpx.post(f"http://127.0.0.1:{port}/get-online-features", json=body)
        assert answer.status_code == 200
        assert answer.json()["results"][1]["statuses"] == ["NOT_FOUND"]
        assert _cli(online_repo, "status").returncode == 0
    finally:
        stopped = _cli(online_repo, "stop")
    assert stopped.returncode == 0
    assert _cli(online_repo, "status").returncode == 3


def test_start_says_why_the_server_died(online_repo: OnlineRepo) -> None:  # noqa: F811
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        started = _cli(online_repo, "start", "--port", str(taken.getsockname()[1]))
    assert started.returncode == 1
    assert started.stderr.startswith("error: the API exited with code ")
    assert "address already in use" in started.stderr


def test_start_waits_for_ready_and_says_what_is_missing(
    online_repo: OnlineRepo,  # noqa: F811
) -> None:
    """The process answers /health, but without Redis /ready never says yes."""
    down = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there
    started = _cli(online_repo, "start", "--port", str(free_port()), "--timeout", "20",
                   redis_url=down)  # fmt: skip
    assert started.returncode == 1
    assert "was not ready within 20 s: redis: " in started.stderr
    assert _cli(online_repo, "status").returncode == 3  # the server was stopped
