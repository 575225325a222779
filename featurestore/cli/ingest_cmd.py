"""``featurestore ingest run|backfill|status``: the SQL feature jobs and their history."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from featurestore.errors import IngestionError, WindowError
from featurestore.project import Project

if TYPE_CHECKING:
    from ingestion import JobResult

app = typer.Typer(help="Run the project's SQL feature jobs.", no_args_is_help=True)
console = Console()

_JOBS = typer.Argument(None, help="Job names (default: all); upstream jobs run first.")
_MAX_BAD = typer.Option(
    None, "--max-bad-rows", help="Share of rows that may be quarantined, e.g. 0.05 or 5%."
)


@app.command()
def run(
    jobs: list[str] = _JOBS,
    start: str = typer.Option(None, help="Window start (ISO date or time, UTC)."),
    end: str = typer.Option(None, help="Window end, exclusive (default: the last full period)."),
    max_bad_rows: str = _MAX_BAD,
) -> None:
    """Replace the window's partitions; without --start, continue from the last success."""
    from ingestion import run_jobs

    settings = Project.find()
    with console.status("running feature jobs"):
        results = run_jobs(
            settings,
            jobs or None,
            start=_time(start, "--start"),
            end=_time(end, "--end"),
            max_bad_rows=_share(max_bad_rows),
        )
    _print_results(results)


@app.command()
def backfill(
    jobs: list[str] = _JOBS,
    start: str = typer.Option(..., help="Range start (ISO date or time, UTC)."),
    end: str = typer.Option(..., help="Range end, exclusive."),
    step: str = typer.Option("30d", help="Window size of each run, e.g. 7d or 6h."),
    max_bad_rows: str = _MAX_BAD,
) -> None:
    """Run a range of windows, one step at a time, each upstream first."""
    from ingestion import backfill as run_backfill
    from ingestion.window import parse_step

    settings = Project.find()
    begin, finish = _time(start, "--start"), _time(end, "--end")
    assert begin is not None and finish is not None
    with console.status("backfilling feature jobs"):
        results = run_backfill(
            settings,
            jobs or None,
            begin,
            finish,
            parse_step(step),
            max_bad_rows=_share(max_bad_rows),
        )
    _print_results(results)


@app.command()
def status(
    job: str = typer.Argument(None, help="Only this job."),
    limit: int = typer.Option(20, help="Show this many runs, newest first."),
) -> None:
    """The run history: window, status, rows and duration of each run."""
    from ingestion import runs

    records = runs(Project.find().data_dir, job, limit)
    table = Table("job", "window", "status", "in", "written", "quarantined", "s", "error")
    for r in records:
        table.add_row(
            r.job,
            _span(r.window_start, r.window_end),
            r.status,
            _count(r.rows_in),
            _count(r.rows_written),
            _count(r.rows_quarantined),
            "" if r.seconds is None else f"{r.seconds:.2f}",
            r.error or "",
        )
    console.print(table if records else "no runs recorded yet")


def _print_results(results: list[JobResult]) -> None:
    table = Table("job", "window", "status", "in", "written", "quarantined", "s")
    for r in results:
        table.add_row(
            r.job,
            _span(r.start, r.end),
            r.status,
            f"{r.rows_in:,}",
            f"{r.rows:,}",
            f"{r.rows_quarantined:,}",
            f"{r.seconds:.2f}",
        )
    console.print(table)


def _time(value: str | None, option: str) -> datetime | None:
    from featurestore.job_spec import parse_time

    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise WindowError("ingest", f"{option} {value!r} is not an ISO date or time") from None


def _share(value: str | None) -> float | None:
    from featurestore.job_spec import parse_share

    if value is None:
        return None
    try:
        return parse_share(value)
    except ValueError as exc:
        raise IngestionError("ingest", str(exc)) from None


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _span(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    midnight = all(t.hour == t.minute == 0 for t in (start, end))
    fmt = "%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M"
    return f"{start:{fmt}}..{end:{fmt}}"
