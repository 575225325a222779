"""The API as ``featurestore serve`` runs it, in its own process: what fault, kill and soak
tests need that an in-process server cannot give (its own pid to SIGKILL, its own RSS).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from featurestore.cli.api_cmd import server_env, uvicorn_args
from featurestore.project import Project
from featurestore.redis_server import free_port
from tests.conftest import ROOT


class ApiProcess:
    """``uvicorn api.worker:create_app_from_env`` (the server command of ``featurestore
    serve``) for one project, on a free port; ``env`` adds FEATURESTORE_* settings."""

    def __init__(self, project: Project, log: Path, env: dict[str, str] | None = None) -> None:
        self.project = project
        self.log = log
        self.env = env or {}
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 90.0) -> ApiProcess:
        env = {
            **os.environ,
            **server_env(self.project),  # the project, and a metrics folder of its own
            "PYTHONPATH": str(ROOT),
            "FEATURESTORE_REDIS_URL": self.project.redis_url,
            "FEATURESTORE_REGISTRY_REFRESH": "0",
            **self.env,
        }
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                uvicorn_args("127.0.0.1", self.port, 1),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the API exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"the API did not answer within {timeout} s")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_bytes(self) -> int:
        """Resident memory of the server process (VmRSS)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def kill(self) -> None:
        """SIGKILL, no clean-up: what a crash or the OOM killer does."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            assert self.proc is not None
            self.proc.wait(10)

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> ApiProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
