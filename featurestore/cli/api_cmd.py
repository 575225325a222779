"""``featurestore serve`` and ``featurestore api start|stop|status``.

``api start`` runs the server in its own session, records it in ``data/run/api.pid`` and
returns once *its* ``/ready`` says yes: the server is started with a per-start token that
it sends in a header on every answer (``x-featurestore-instance``), so another server
holding the port (whose ``/ready`` may well answer 200) is not taken for it; our server
then fails to bind, and start says why, from the log. The pid file records the pid, the
URL, the process's start time (``/proc/<pid>/stat``) and the token, and ``stop`` signals
only a process that still matches: a pid reused by another process after the server died
is left alone and the stale file removed.

Both commands give the server its own prometheus_client multiprocess folder
(``data/run/prometheus``, emptied at start): importing Feast points
``PROMETHEUS_MULTIPROC_DIR`` at a temporary folder that the importing process removes
when it exits, and a server that inherited the caller's would lose it with the caller,
and every worker started after that (a replacement for one that died) would fail at its
first import of Feast. Our own metrics do not use the folder (``api.metrics``).

The server's output goes to ``data/run/api.log``; a start finding it past
``LOG_LIMIT_BYTES`` moves it to ``api.log.1`` first (one previous log is kept).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console

from featurestore.errors import FeatureStoreError
from featurestore.project import Project

app = typer.Typer(help="Run the HTTP API in the background.", no_args_is_help=True)
console = Console()
# Both through api.worker, which imports Feast without typeguard's instrumentation first.
_FACTORY = "api.worker:create_app_from_env"
# uvicorn's httptools protocol with POST /get-online-features answered inline (no ASGI
# cycle per request): the fastest measured, bench/bench_serving.py.
_PROTOCOL = "api.worker:InlineHttpProtocol"
_INSTANCE = "x-featurestore-instance"  # the header carrying the token of one start
LOG_LIMIT_BYTES = 10 * 2**20


def uvicorn_args(host: str, port: int, workers: int | None, token: str | None = None) -> list[str]:
    """The server command: uvicorn with uvloop and our httptools protocol, no access log
    (the inline route needs none configured), and no worker recycling (no
    --limit-max-requests: Feast's --max-requests 1000 stalls ~1 s); with ``token``, every
    answer carries it in the ``x-featurestore-instance`` header."""
    if workers is None:
        from api.settings import ApiSettings

        workers = ApiSettings.from_env().workers
    instance = [] if token is None else ["--header", f"{_INSTANCE}:{token}"]
    return [
        sys.executable, "-m", "uvicorn", _FACTORY, "--factory",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", _PROTOCOL, "--no-access-log", *instance,
    ]  # fmt: skip


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(6566, help="Port to listen on."),
    workers: int | None = typer.Option(
        None, min=1, help="Worker processes (default: FEATURESTORE_API_WORKERS or 1)."
    ),
) -> None:
    """Serve the API in the foreground (Ctrl-C stops it)."""
    project = Project.find()  # fail here, with one line, if the project is broken
    os.environ.update(server_env(project))
    os.execv(sys.executable, uvicorn_args(host, port, workers))


def server_env(project: Project) -> dict[str, str]:
    """What the server's workers need to find this project wherever they start, and a
    prometheus_client multiprocess folder that lives as long as the server."""
    if project.project_file is not None:
        env = {"FEATURESTORE_PROJECT": str(project.root)}
    else:
        env = {"FEATURESTORE_REPO_PATH": str(project.repo_path)}
    metrics = project.layout.run / "prometheus"
    metrics.mkdir(parents=True, exist_ok=True)
    for stale in metrics.glob("*.db"):  # a previous server's, one file per worker pid
        stale.unlink(missing_ok=True)
    # prometheus_client reads the first name, Feast the second (and sets the first from it).
    return {
        **env,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "PROMETHEUS_MULTIPROCESS_DIR": str(metrics),
    }


def _run_dir(settings: Project) -> Path:
    return settings.layout.run


def _start_time(pid: int) -> str | None:
    """When the process ``pid`` started (clock ticks since boot, ``/proc/<pid>/stat``
    field 22); None when there is no such live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


@dataclass(frozen=True)
class _Server:
    """A started server as its pid file records it (a file from before the start time
    and token were recorded holds only the pid and URL)."""

    pid: int
    url: str
    started: str | None = None
    token: str | None = None

    @classmethod
    def read(cls, pidfile: Path) -> _Server | None:
        try:
            pid, url, *rest = pidfile.read_text().split()
            return cls(int(pid), url, *rest[:2])
        except (OSError, ValueError):
            return None

    def write(self, pidfile: Path) -> None:
        pidfile.write_text(f"{self.pid} {self.url} {self.started} {self.token}\n")

    def runs(self) -> bool:
        """Whether the process at ``pid`` is this server: the recorded start time, and
        our uvicorn (with this start's token) on its command line."""
        started = _start_time(self.pid)
        if started is None or (self.started is not None and started != self.started):
            return False
        try:
            args = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        token = None if self.token is None else f"{_INSTANCE}:{self.token}".encode()
        return _FACTORY.encode() in args and (token is None or token in args)


def _healthy(url: str) -> bool:
    return _get(f"{url}/health")[0] == 200


def _get(url: str) -> tuple[int | None, str, str | None]:
    """Status, body and instance token of ``GET url``; ``None`` when nothing answers."""
    import httpx

    try:
        answer = httpx.get(url, timeout=1.0)
    except httpx.HTTPError as exc:
        return None, str(exc), None
    return answer.status_code, answer.text, answer.headers.get(_INSTANCE)


def _not_ready(body: str) -> str:
    """Why ``/ready`` said no, from its JSON (``{"ready", "redis", "registry"}``)."""
    try:
        state = json.loads(body)
        return f"redis: {state['redis']}, registry: {state['registry']}"
    except (ValueError, KeyError, TypeError):
        return body.strip()[:200] or "no answer"


def _log_error(logfile: Path, since: int) -> str:
    """The last error line the server logged after byte ``since`` (uvicorn logs its
    shutdown after the error), else its last line."""
    with logfile.open("rb") as log:
        log.seek(since)
        lines = log.read().decode(errors="replace").strip().splitlines()
    errors = [line for line in lines if line.startswith(("ERROR", "Traceback")) or "Error" in line]
    return " ".join((errors or lines or ["no output"])[-1].split())


def _rotate(logfile: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if logfile.stat().st_size > LOG_LIMIT_BYTES:
            logfile.replace(logfile.with_name(f"{logfile.name}.1"))


@app.command()
def start(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(6566, help="Port to listen on."),
    workers: int | None = typer.Option(
        None, min=1, help="Worker processes (default: FEATURESTORE_API_WORKERS or 1)."
    ),
    timeout: float = typer.Option(90.0, help="Seconds to wait for /ready."),
) -> None:
    """Start the API in the background and wait until its /ready answers; logs in
    data/run/api.log."""
    settings = Project.find()
    run_dir = _run_dir(settings)
    run_dir.mkdir(parents=True, exist_ok=True)
    pidfile, logfile = run_dir / "api.pid", run_dir / "api.log"
    url = f"http://{host}:{port}"
    running = _Server.read(pidfile)
    if running is not None and running.runs():
        if running.url == url:
            console.print(f"api already running at {url} (pid {running.pid})")
            return
        raise FeatureStoreError(
            f"the API already runs at {running.url} (pid {running.pid}): "
            "featurestore api stop first"
        )
    pidfile.unlink(missing_ok=True)
    _rotate(logfile)
    token = secrets.token_hex(8)
    with logfile.open("ab") as log:
        since = log.tell()
        proc = subprocess.Popen(
            uvicorn_args(host, port, workers, token),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **server_env(settings)},
        )
    _Server(proc.pid, url, _start_time(proc.pid), token).write(pidfile)
    try:
        _wait_ready(proc, url, token, timeout, logfile, since)
    except BaseException:  # not ready, or interrupted: leave nothing behind
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        pidfile.unlink(missing_ok=True)
        raise
    console.print(f"api started at {url} (pid {proc.pid}, log {logfile})")


def _wait_ready(
    proc: subprocess.Popen[bytes], url: str, token: str, timeout: float, logfile: Path, since: int
) -> None:
    """Until the server started as ``proc`` (the one answering with ``token``) is ready;
    else the reason, from its log when it exited."""
    deadline = time.monotonic() + timeout
    status: int | None = None
    body, instance = "", None
    while time.monotonic() < deadline:
        status, body, instance = _get(f"{url}/ready")
        if status == 200 and instance == token:
            return
        code = proc.poll()
        if code is not None:
            raise FeatureStoreError(
                f"the API exited with code {code} before it was ready at {url}: "
                f"{_log_error(logfile, since)} (see {logfile})"
            )
        time.sleep(0.05)
    if status is None:
        why = f"no answer ({body})"
    elif instance != token:
        why = "another server answers there"
    else:
        why = _not_ready(body)
    raise FeatureStoreError(
        f"the API at {url} was not ready within {timeout:g} s: {why} (see {logfile})"
    )


@app.command()
def stop() -> None:
    """Stop the background API (only the process its pid file still describes)."""
    pidfile = _run_dir(Project.find()) / "api.pid"
    server = _Server.read(pidfile)
    if server is None or not server.runs():
        pidfile.unlink(missing_ok=True)
        if server is None or _start_time(server.pid) is None:
            console.print("no api running")
        else:
            console.print(
                f"no api running: pid {server.pid} is now another process, not signalled "
                f"(removed the stale {pidfile})"
            )
        return
    os.killpg(server.pid, signal.SIGTERM)
    for _ in range(100):
        if not server.runs():
            break
        time.sleep(0.1)
    pidfile.unlink(missing_ok=True)
    console.print(f"api stopped (pid {server.pid})")


@app.command()
def status() -> None:
    """Say whether the background API runs."""
    pidfile = _run_dir(Project.find()) / "api.pid"
    server = _Server.read(pidfile)
    if server is None or not server.runs():
        console.print("api not running")
        raise typer.Exit(3)
    state = "healthy" if _healthy(server.url) else "not answering"
    console.print(f"api running at {server.url} (pid {server.pid}), {state}")
