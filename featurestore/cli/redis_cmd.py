"""``featurestore redis start|stop|status``: the demo's local redis-server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

from featurestore.errors import ConfigError
from featurestore.project import Project
from featurestore.settings import parse_redis_url, redis_timeout_from_env

if TYPE_CHECKING:
    from featurestore.redis_server import LocalRedis

app = typer.Typer(help="Run a local redis-server for the online store.", no_args_is_help=True)
console = Console()


def local_redis(settings: Project) -> LocalRedis:
    from featurestore.redis_server import LocalRedis  # redis-py: only when a command runs

    address = parse_redis_url(settings.redis_url)
    if address.topology != "single":
        raise ConfigError(
            f"FEATURESTORE_REDIS_URL names a Redis {address.topology.title()}; the local Redis "
            "commands only manage one redis-server on 127.0.0.1"
        )
    if not address.is_local:
        raise ConfigError(
            f"FEATURESTORE_REDIS_URL points at {address.host}:{address.port}, not at this "
            "machine; the local Redis commands only manage a redis-server on 127.0.0.1"
        )
    return LocalRedis(
        workdir=settings.layout.redis, port=address.port, timeout=redis_timeout_from_env()
    )


@app.command()
def start() -> None:
    """Start redis-server on 127.0.0.1 (port from FEATURESTORE_REDIS_URL), data in data/redis/."""
    server = local_redis(Project.find())
    already = server.owned()
    server.start()
    verb = "already running" if already else "started"
    console.print(f"redis {verb} at {server.url} (files in {server.workdir})")


@app.command()
def stop() -> None:
    """Stop the local redis-server, saving its snapshot; never one this project did not start."""
    server = local_redis(Project.find())
    if server.stop():
        console.print(f"redis stopped ({server.url})")
    else:
        console.print(f"no redis running at {server.url}")


@app.command()
def status() -> None:
    """Say whether the local redis-server runs, its version and key count.

    Exit code 0 when this project's server runs, 3 when nothing answers on its port, and 1
    when the server there is not this project's.
    """
    server = local_redis(Project.find())
    state = server.status()
    if state.owned:
        console.print(
            f"redis running at {server.url}: pid {state.pid}, version {state.version}, "
            f"{state.keys} keys"
        )
    elif state.running:
        console.print(
            f"redis running (not started by this project) at {server.url}: "
            f"pid {state.pid or 'unknown'}, dir {state.dir or 'unknown'}"
        )
        raise typer.Exit(1)
    else:
        console.print(f"redis not running at {server.url}")
        raise typer.Exit(3)
