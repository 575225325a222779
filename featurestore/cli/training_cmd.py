"""``featurestore training build``: a model's point-in-time-correct training set."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from featurestore.cli._engine import ENGINE, SPARK_MASTER, find_project
from featurestore.errors import ConfigError
from featurestore.feast_import import skip_typechecks

if TYPE_CHECKING:
    import pandas as pd

    from featurestore.project import Project

app = typer.Typer(help="Build training sets from feature services.", no_args_is_help=True)
console = Console()


@app.command()
def build(
    feature_service: str = typer.Argument(..., help="The model's feature service."),
    label_sql: Path = typer.Option(
        None, help="Label query file (default: feature_repo/labels/NAME.sql)."
    ),
    limit: int = typer.Option(None, help="Use only the first N label rows."),
    output: Path = typer.Option(
        None, help="Stream the training set to this Parquet file, with NAME.manifest.json."
    ),
    show: int = typer.Option(5, help="Print this many rows."),
    engine: str = ENGINE,
    spark_master: str = SPARK_MASTER,
) -> None:
    """Join the label query's rows with the model's features as of each row's time."""
    skip_typechecks()  # reads the registry only: Feast without typeguard's instrumentation
    import pandas as pd

    from featurestore.offline import ProgressBar
    from featurestore.offline.manifest import manifest_path
    from featurestore.store import open_store
    from featurestore.training import build_training_set, write_training_set

    settings = find_project(engine, spark_master)
    sql = label_sql.read_text() if label_sql else None
    store = open_store(settings)
    _check_yaml_agrees(store.config.offline_store, settings, engine, spark_master)
    if output:
        with ProgressBar(f"training set of {feature_service}") as progress:
            manifest = write_training_set(
                settings, store, feature_service, output, sql, limit, progress=progress
            )
        console.print(
            f"training set for {feature_service}: {manifest.row_count:,} rows written to "
            f"{output} (manifest {manifest_path(output).name}, "
            f"definitions {manifest.definitions_sha256[:12]})"
        )
        frame = _head(output, show)
    else:
        with ProgressBar(f"training set of {feature_service}") as progress:
            frame = build_training_set(settings, store, feature_service, sql, limit, progress)
        console.print(
            f"training set for {feature_service}: "
            f"{frame.shape[0]:,} rows x {frame.shape[1]} columns"
        )
    if show:
        with pd.option_context("display.width", 250, "display.max_columns", 40):
            print(frame.head(show).to_string(index=False))


def _check_yaml_agrees(
    offline: object, settings: Project, engine: str | None, spark_master: str | None
) -> None:
    """``feature_store.yaml``'s ``offline_store.engine``/``spark_master`` decide over the
    project's engine: a command option saying otherwise is an error, not ignored."""
    chosen = {"engine": settings.engine.name, "spark_master": settings.engine.spark.master}
    for key, option, given in (("engine", "--engine", engine),
                               ("spark_master", "--spark-master", spark_master)):  # fmt: skip
        named = getattr(offline, key, None)
        if given is not None and named is not None and named != chosen[key]:
            raise ConfigError(
                f"{option} {given}: {settings.repo_path / 'feature_store.yaml'} sets "
                f"offline_store.{key}: {named}, which decides; remove it to choose per command"
            )


def _head(path: Path, rows: int) -> pd.DataFrame:
    import pandas as pd
    import pyarrow.parquet as pq

    batches = pq.ParquetFile(path).iter_batches(batch_size=max(rows, 1))
    first = next(batches, None)
    return first.to_pandas() if first is not None else pd.DataFrame()
