"""``featurestore serve`` and ``featurestore api start|stop|status``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
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
    return _get(f"{url}/health")[0] == 200


def _get(url: str) -> tuple[int | None, str]:
    """Status and body of ``GET url``; ``None`` when nothing answers."""
    import httpx

    try:
        answer = httpx.get(url, timeout=1.0)
    except httpx.HTTPError as exc:
        return None, str(exc)
    return answer.status_code, answer.text


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


@app.command()
def start(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(6566, help="Port to listen on."),
    workers: int | None = typer.Option(
        None, min=1, help="Worker processes (default: FEATURESTORE_API_WORKERS or 1)."
    ),
    timeout: float = typer.Option(90.0, help="Seconds to wait for /ready."),
) -> None:
    """Start the API in the background and wait until /ready answers; logs in
    data/run/api.log."""
    settings = Project.find()
    run_dir = _run_dir(settings)
    run_dir.mkdir(parents=True, exist_ok=True)
    pidfile, logfile = run_dir / "api.pid", run_dir / "api.log"
    url = f"http://{host}:{port}"
    if _pid(pidfile) and _healthy(url):
        console.print(f"api already running at {url}")
        return
    with logfile.open("ab") as log:
        since = log.tell()
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
    status, body = None, ""
    while time.monotonic() < deadline:
        status, body = _get(f"{url}/ready")
        if status == 200:
            console.print(f"api started at {url} (pid {proc.pid}, log {logfile})")
            return
        code = proc.poll()
        if code is not None:
            pidfile.unlink(missing_ok=True)
            raise FeatureStoreError(
                f"the API exited with code {code} before it was ready at {url}: "
                f"{_log_error(logfile, since)} (see {logfile})"
            )
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    pidfile.unlink(missing_ok=True)
    why = _not_ready(body) if status is not None else f"no answer ({body})"
    raise FeatureStoreError(
        f"the API at {url} was not ready within {timeout:g} s: {why} (see {logfile})"
    )


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
