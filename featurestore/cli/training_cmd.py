"""``featurestore training build``: a model's point-in-time-correct training set."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from featurestore.feast_import import skip_typechecks
from featurestore.project import Project

if TYPE_CHECKING:
    import pandas as pd

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
) -> None:
    """Join the label query's rows with the model's features as of each row's time."""
    skip_typechecks()  # reads the registry only: Feast without typeguard's instrumentation
    import pandas as pd

    from featurestore.offline import ProgressBar
    from featurestore.offline.manifest import manifest_path
    from featurestore.store import open_store
    from featurestore.training import build_training_set, write_training_set

    settings = Project.find()
    sql = label_sql.read_text() if label_sql else None
    store = open_store(settings)
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


def _head(path: Path, rows: int) -> pd.DataFrame:
    import pandas as pd
    import pyarrow.parquet as pq

    batches = pq.ParquetFile(path).iter_batches(batch_size=max(rows, 1))
    first = next(batches, None)
    return first.to_pandas() if first is not None else pd.DataFrame()
