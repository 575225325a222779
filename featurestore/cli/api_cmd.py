"""``featurestore serve`` and ``featurestore api start|stop|status``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import typer
from rich.console import Console

from featurestore.errors import FeatureStoreError
from featurestore.project import Project

app = typer.Typer(help="Run the HTTP API in the background.", no_args_is_help=True)
console = Console()
_FACTORY = "api.app:create_app_from_env"
# uvicorn's httptools protocol with POST /get-online-features answered inline (no ASGI
# cycle per request): the fastest measured, bench/bench_serving.py.
_PROTOCOL = "api.protocol:InlineHttpProtocol"


def uvicorn_args(host: str, port: int, workers: int | None) -> list[str]:
    """The server command: uvicorn with uvloop and our httptools protocol, no access log
    (the inline route needs none configured), and no worker recycling (no
    --limit-max-requests: Feast's --max-requests 1000 stalls ~1 s)."""
    if workers is None:
        from api.settings import ApiSettings

        workers = ApiSettings.from_env().workers
    return [
        sys.executable, "-m", "uvicorn", _FACTORY, "--factory",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", _PROTOCOL, "--no-access-log",
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
    os.environ.update(_project_env(project))
    os.execv(sys.executable, uvicorn_args(host, port, workers))


def _project_env(project: Project) -> dict[str, str]:
    """What the server's workers need to find this project wherever they start."""
    if project.project_file is not None:
        return {"FEATURESTORE_PROJECT": str(project.root)}
    return {"FEATURESTORE_REPO_PATH": str(project.repo_path)}


def _run_dir(settings: Project) -> Path:
    return settings.layout.run


def _pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@app.command()
def start(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(6566, help="Port to listen on."),
    workers: int | None = typer.Option(
        None, min=1, help="Worker processes (default: FEATURESTORE_API_WORKERS or 1)."
    ),
    timeout: float = typer.Option(90.0, help="Seconds to wait for /health."),
) -> None:
    """Start the API in the background; logs in data/run/api.log."""
    settings = Project.find()
    run_dir = _run_dir(settings)
    run_dir.mkdir(parents=True, exist_ok=True)
    pidfile, logfile = run_dir / "api.pid", run_dir / "api.log"
    url = f"http://{host}:{port}"
    if _pid(pidfile) and _healthy(url):
        console.print(f"api already running at {url}")
        return
    with logfile.open("ab") as log:
        proc = subprocess.Popen(
            uvicorn_args(host, port, workers),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **_project_env(settings)},
        )
    pidfile.write_text(f"{proc.pid} {url}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _healthy(url):
            console.print(f"api started at {url} (pid {proc.pid}, log {logfile})")
            return
        if proc.poll() is not None:
            break
        time.sleep(0.25)
    proc.terminate()
    tail = logfile.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
    raise FeatureStoreError(f"the API did not start at {url}: {tail[0]} (see {logfile})")


@app.command()
def stop() -> None:
    """Stop the background API."""
    pidfile = _run_dir(Project.find()) / "api.pid"
    pid = _pid(pidfile)
    if pid is None:
        console.print("no api running")
        pidfile.unlink(missing_ok=True)
        return
    os.killpg(pid, signal.SIGTERM)
    for _ in range(100):
        if _pid(pidfile) is None:
            break
        time.sleep(0.1)
    pidfile.unlink(missing_ok=True)
    console.print(f"api stopped (pid {pid})")


@app.command()
def status() -> None:
    """Say whether the background API runs."""
    pidfile = _run_dir(Project.find()) / "api.pid"
    pid = _pid(pidfile)
    if pid is None:
        console.print("api not running")
        raise typer.Exit(3)
    url = pidfile.read_text().split()[1]
    state = "healthy" if _healthy(url) else "not answering"
    console.print(f"api running at {url} (pid {pid}), {state}")
