"""``featurestore training build``: a model's point-in-time-correct training set."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.console import Console

from featurestore.settings import Settings

app = typer.Typer(help="Build training sets from feature services.", no_args_is_help=True)
console = Console()


@app.command()
def build(
    feature_service: str = typer.Argument(..., help="The model's feature service."),
    label_sql: Path = typer.Option(
        None, help="Label query file (default: feature_repo/labels/NAME.sql)."
    ),
    limit: int = typer.Option(None, help="Use only the first N label rows."),
    output: Path = typer.Option(None, help="Write the training set to this Parquet file."),
    show: int = typer.Option(5, help="Print this many rows."),
) -> None:
    """Join the label query's rows with the model's features as of each row's time."""
    from featurestore.store import open_store
    from featurestore.training import build_training_set

    settings = Settings.from_env()
    sql = label_sql.read_text() if label_sql else None
    with console.status(f"building the training set of {feature_service}"):
        frame = build_training_set(settings, open_store(settings), feature_service, sql, limit)
    console.print(
        f"training set for {feature_service}: {frame.shape[0]:,} rows x {frame.shape[1]} columns"
    )
    if show:
        with pd.option_context("display.width", 250, "display.max_columns", 40):
            print(frame.head(show).to_string(index=False))
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(output, index=False)
        console.print(f"written to {output}")
