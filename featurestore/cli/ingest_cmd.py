"""``featurestore ingest run|backfill|status``: the SQL feature jobs and their history.

``run`` and ``backfill`` print every job's outcome (a table, then a line for each job
that failed or was skipped, saying why); when a job failed they exit 1 with a one-line
summary on stderr. A broken job file that was not run (not named, and no named job
reads it) is one warning line on stderr.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from featurestore.cli._engine import ENGINE, SPARK_MASTER, find_project
from featurestore.errors import IngestionError, WindowError
from featurestore.project import Project

if TYPE_CHECKING:
    from ingestion import JobResult

app = typer.Typer(help="Run the project's SQL feature jobs.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

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
    engine: str = ENGINE,
    spark_master: str = SPARK_MASTER,
) -> None:
    """Replace the window's partitions; without --start, continue from the last success."""
    from ingestion import run_jobs

    project = find_project(engine, spark_master)
    window = _time(start, "--start"), _time(end, "--end")
    share = _share(max_bad_rows)
    _report(
        "running feature jobs",
        project,
        jobs,
        lambda: run_jobs(project, jobs or None, start=window[0], end=window[1], max_bad_rows=share),
    )


@app.command()
def backfill(
    jobs: list[str] = _JOBS,
    start: str = typer.Option(..., help="Range start (ISO date or time, UTC)."),
    end: str = typer.Option(..., help="Range end, exclusive."),
    step: str = typer.Option("30d", help="Window size of each run, e.g. 7d or 6h."),
    max_bad_rows: str = _MAX_BAD,
    engine: str = ENGINE,
    spark_master: str = SPARK_MASTER,
) -> None:
    """Run a range of windows, one step at a time, each upstream first."""
    from ingestion import backfill as run_backfill
    from ingestion.window import parse_step

    project = find_project(engine, spark_master)
    begin, finish = _time(start, "--start"), _time(end, "--end")
    assert begin is not None and finish is not None
    size, share = parse_step(step), _share(max_bad_rows)
    _report(
        "backfilling feature jobs",
        project,
        jobs,
        lambda: run_backfill(project, jobs or None, begin, finish, size, max_bad_rows=share),
    )


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


def _report(
    doing: str, project: Project, names: Sequence[str], run: Callable[[], list[JobResult]]
) -> None:
    """Run, print every job's outcome, and re-raise a failure for its one-line summary."""
    from ingestion import JobsFailedError

    failure: JobsFailedError | None = None
    try:
        with console.status(doing):
            results = run()
    except JobsFailedError as exc:
        failure, results = exc, exc.results
    _print_results(results)
    if names:
        _warn_broken(project, {r.job for r in results})
    if failure is not None:
        raise failure


def _warn_broken(project: Project, ran: set[str]) -> None:
    from featurestore.job_spec import read_jobs

    for name, error in read_jobs(project.jobs_dir).broken.items():
        if name not in ran:
            errors.print(f"warning: {name} not run: {error.message}", markup=False, soft_wrap=True)


def _print_results(results: Sequence[JobResult]) -> None:
    table = Table("job", "window", "status", "in", "written", "quarantined", "s")
    for r in results:
        ran = r.status not in ("failed", "skipped")
        table.add_row(
            r.job,
            _span(r.start, r.end),
            r.status,
            f"{r.rows_in:,}" if ran else "",
            f"{r.rows:,}" if ran else "",
            f"{r.rows_quarantined:,}" if ran else "",
            f"{r.seconds:.2f}" if ran else "",
        )
    console.print(table)
    for r in results:
        if r.reason:
            console.print(f"{r.job}: {r.status}: {r.reason}", markup=False, soft_wrap=True)


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
