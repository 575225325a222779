"""The ``featurestore`` command line.

Every command works on one project (``featurestore.project``): ``--project DIR``, else
``FEATURESTORE_PROJECT``, else the project file in the current folder or a parent.
Known errors become one clear line on stderr and exit code 1; ``--debug`` (or
``FEATURESTORE_DEBUG=1``) shows the traceback instead.

Start-up: every command module is imported here to register it, so each imports at its
top only typer, rich and Feast-free parts of the library, and the rest inside the
command. ``featurestore --help``, ``redis``, ``ingest`` and ``demo`` never import Feast;
the commands that only read the registry import it through ``featurestore.feast_import``
(without typeguard's instrumentation); ``plan`` and ``apply`` load user definitions and
import it as it is, checks included. ``tests/featurestore/cli/test_startup.py`` checks it.
"""

from __future__ import annotations

import os
import sys

import typer

from featurestore.cli import (
    api_cmd,
    catalog_cmd,
    demo_cmd,
    ingest_cmd,
    init_cmd,
    materialize_cmd,
    monitor_cmd,
    plan_cmd,
    push_cmd,
    raw_cmd,
    redis_cmd,
    training_cmd,
)
from featurestore.cli._errors import is_known, one_line

app = typer.Typer(
    help="Feature store: SQL feature jobs, Feast registry, Redis online store, HTTP API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("init")(init_cmd.init)
app.add_typer(raw_cmd.app, name="raw")
app.add_typer(redis_cmd.app, name="redis")
app.add_typer(ingest_cmd.app, name="ingest")
app.add_typer(api_cmd.app, name="api")
app.add_typer(training_cmd.app, name="training")
app.add_typer(demo_cmd.app, name="demo")
app.add_typer(catalog_cmd.app, name="catalog")
app.add_typer(monitor_cmd.app, name="monitor")
app.command("serve")(api_cmd.serve)
app.command("plan")(plan_cmd.plan)
app.command("apply")(plan_cmd.apply)
app.command("push", help=push_cmd._HELP)(push_cmd.push)
app.command("materialize")(materialize_cmd.materialize)
app.command("materialize-incremental")(materialize_cmd.materialize_incremental)

_debug = False


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    project: str = typer.Option(
        None,
        "--project",
        "-p",
        help="The project folder (default: FEATURESTORE_PROJECT, else the folder holding "
        "featurestore.yaml here or above).",
    ),
) -> None:
    global _debug
    _debug = debug
    if project:
        # Commands and the processes they start (the API's workers) find it there.
        os.environ["FEATURESTORE_PROJECT"] = os.path.abspath(project)


def main() -> None:
    try:
        app()
    except Exception as exc:
        if not is_known(exc) or _debug or os.environ.get("FEATURESTORE_DEBUG") == "1":
            raise
        print(f"error: {one_line(exc)}", file=sys.stderr)
        sys.exit(1)
