"""The ``--engine`` and ``--spark-master`` options of the commands that run batch work."""

from __future__ import annotations

import typer

from featurestore.project import Project

ENGINE = typer.Option(
    None, "--engine", help="duckdb or spark (default: the project file's engine, else duckdb)."
)
SPARK_MASTER = typer.Option(
    None, "--spark-master", help="Spark master URL, e.g. local[4] or spark://host:7077."
)


def find_project(engine: str | None, master: str | None) -> Project:
    """The current project with the command's engine options applied."""
    return Project.find().with_engine(engine, master)
