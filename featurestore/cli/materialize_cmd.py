"""``featurestore materialize`` and ``materialize-incremental``: Feast's commands, through our
engine, with one-line errors. ``--engine spark`` computes the latest rows on Spark (the
batch engine reads ``FEATURESTORE_ENGINE`` / ``FEATURESTORE_SPARK_MASTER``, which the
options set for this process)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from dateutil import parser

from featurestore.cli._engine import ENGINE, SPARK_MASTER
from featurestore.engine import check_engine, check_master
from featurestore.feast_import import skip_typechecks
from featurestore.project import Project


def _use_engine(engine: str | None, master: str | None) -> None:
    """The options for the batch engine Feast builds inside ``open_store``."""
    import os

    if engine is not None:
        os.environ["FEATURESTORE_ENGINE"] = check_engine(engine, "--engine")
    if master is not None:
        os.environ["FEATURESTORE_SPARK_MASTER"] = check_master(master, "--spark-master")


def _moment(text: str) -> datetime:
    try:
        moment = parser.isoparse(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def materialize(
    start: str = typer.Argument(..., help="Window start, ISO 8601 (UTC unless a zone is given)."),
    end: str = typer.Argument(..., help="Window end, ISO 8601; both ends are included."),
    views: list[str] = typer.Option(None, "--views", "-v", help="Only these feature views."),
    engine: str = ENGINE,
    spark_master: str = SPARK_MASTER,
) -> None:
    """Write the latest row per entity in [START, END] of each view into Redis."""
    _use_engine(engine, spark_master)
    skip_typechecks()  # reads the registry only: Feast without typeguard's instrumentation
    from featurestore.materialize import run
    from featurestore.store import open_store

    settings = Project.find()
    run.materialize(open_store(settings), _moment(start), _moment(end), views or None)


def materialize_incremental(
    end: str = typer.Argument(..., help="Window end, ISO 8601."),
    views: list[str] = typer.Option(None, "--views", "-v", help="Only these feature views."),
    engine: str = ENGINE,
    spark_master: str = SPARK_MASTER,
) -> None:
    """Materialize each view from where its last materialization ended up to END."""
    _use_engine(engine, spark_master)
    skip_typechecks()
    from featurestore.materialize import run
    from featurestore.store import open_store

    settings = Project.find()
    run.materialize_incremental(open_store(settings), _moment(end), views or None)
