"""``featurestore api start|status|stop``: the server the demo runs, over a real socket."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

from featurestore.redis_server import free_port
from tests.online_repo import OnlineRepo, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis]


def _cli(
    repo: OnlineRepo, *args: str, redis_url: str | None = None, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FEATURESTORE_REPO_PATH": str(repo.settings.repo_path),
        "FEATURESTORE_REDIS_URL": redis_url or repo.settings.redis_url,
        **env_vars,
    }
    cli = Path(sys.executable).with_name("featurestore")
    return subprocess.run(
        [str(cli), "api", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _run_dir(repo: OnlineRepo) -> Path:
    return repo.settings.data_dir / "run"


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


def test_start_says_why_the_server_died_and_keeps_the_log_bounded(
    online_repo: OnlineRepo,  # noqa: F811
) -> None:
    """The reason comes from the server's log, which start first moves aside when it
    grew past the limit (one previous log is kept)."""
    from featurestore.cli.api_cmd import LOG_LIMIT_BYTES

    run = _run_dir(online_repo)
    run.mkdir(parents=True, exist_ok=True)
    log = run / "api.log"
    log.write_bytes(b"old run\n")
    with log.open("r+b") as file:
        file.truncate(LOG_LIMIT_BYTES + 1)  # sparse: no disk written
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        started = _cli(online_repo, "start", "--port", str(taken.getsockname()[1]))
    assert started.returncode == 1
    assert started.stderr.startswith("error: the API exited with code ")
    assert "address already in use" in started.stderr
    assert (run / "api.log.1").read_bytes().startswith(b"old run\n")
    assert b"address already in use" in log.read_bytes()
    assert log.stat().st_size < 100_000


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


def _workers(master: int) -> list[int]:
    """The live uvicorn workers of a master (its children spawned by multiprocessing, not
    multiprocessing's resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == master and fields[0] != "Z" and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return sorted(found)


def _two_workers_again(master: int, killed: int) -> list[int]:
    deadline = time.monotonic() + 90
    while True:
        workers = _workers(master)
        if len(workers) == 2 and killed not in workers:
            return workers
        assert time.monotonic() < deadline, f"workers of {master}: {workers}"
        time.sleep(0.2)


@pytest.mark.slow
def test_killed_workers_are_replaced_and_serve(
    online_repo: OnlineRepo,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The caller's prometheus multiprocess folder (Feast sets one in every process that
    imports it, and removes it when that process exits) is gone once ``start`` returns;
    a replacement worker must not need it."""
    inherited = tmp_path / "feast_metrics"
    inherited.mkdir()
    port = free_port()
    started = _cli(
        online_repo, "start", "--port", str(port), "--workers", "2",
        PROMETHEUS_MULTIPROC_DIR=str(inherited), PROMETHEUS_MULTIPROCESS_DIR=str(inherited),
    )  # fmt: skip
    shutil.rmtree(inherited)
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        master = int((_run_dir(online_repo) / "api.pid").read_text().split()[0])
        originals = _workers(master)
        assert len(originals) == 2
        body = {"features": ["item_stats:price"], "entities": {"item_id": ["nope"]}}
        for original in originals:  # once both are dead, only replacements can answer
            os.kill(original, signal.SIGKILL)
            _two_workers_again(master, original)
            for _ in range(10):  # new connections: either worker may take them
                url = f"http://127.0.0.1:{port}/get-online-features"
                answer = httpx.post(url, json=body, timeout=60)
                assert answer.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 200
        assert not set(originals) & set(_workers(master))
    finally:
        stopped = _cli(online_repo, "stop")
    assert stopped.returncode == 0, stopped.stderr


class _OtherServer(BaseHTTPRequestHandler):
    """Any HTTP server that says yes to ``GET /ready``."""

    def do_GET(self) -> None:
        payload = json.dumps({"ready": True, "redis": "ok", "registry": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_server() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _OtherServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_start_fails_when_another_server_holds_the_port(
    online_repo: OnlineRepo,  # noqa: F811
    other_server: int,
) -> None:
    started = _cli(online_repo, "start", "--port", str(other_server), "--timeout", "60")
    if started.returncode == 0:  # today's bug: the other server's /ready was taken as ours
        _cli(online_repo, "stop")
    assert started.returncode == 1, started.stdout
    assert started.stderr.count("\n") == 1, started.stderr
    assert f"{other_server}" in started.stderr and "address already in use" in started.stderr
    assert not (_run_dir(online_repo) / "api.pid").exists()


def test_stop_leaves_alone_a_process_that_reuses_a_stale_pid(
    online_repo: OnlineRepo,  # noqa: F811
) -> None:
    """The pid file outlived its server, and the pid now belongs to someone else."""
    unrelated = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        run = _run_dir(online_repo)
        run.mkdir(parents=True, exist_ok=True)
        (run / "api.pid").write_text(f"{unrelated.pid} http://127.0.0.1:{free_port()}\n")
        assert _cli(online_repo, "status").returncode == 3
        stopped = _cli(online_repo, "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert f"pid {unrelated.pid}" in stopped.stdout and "not" in stopped.stdout
        time.sleep(0.2)
        assert unrelated.poll() is None, "stop signalled a process that is not the API"
        assert not (run / "api.pid").exists()
    finally:
        unrelated.kill()
        unrelated.wait()
