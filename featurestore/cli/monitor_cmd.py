"""``featurestore monitor``: statistics, drift, trend, freshness, consistency, skew and
the HTML report of a project's features (``featurestore.monitor``).

Every command only reads: feature tables and Redis are never changed. ``drift`` exits
with code 2 when a feature crossed its threshold, so a scheduler can retrain on it.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Watch the features: statistics, drift, trend, freshness, consistency, skew, report.",
    no_args_is_help=True,
)


# -- freshness and consistency (featurestore.monitor.freshness, .consistency) ----------


def _age(seconds: float | None) -> str:
    """``3d 4h``, ``2h 5m``, ``40s``: a duration to its two largest units."""
    if seconds is None:
        return "-"
    sign, left = ("-" if seconds < 0 else ""), int(abs(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
    return sign + " ".join(parts[:2])


@app.command("freshness")
def freshness(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Per feature view: newest event offline, last materialization, age of what is
    served, and its objective. Exits with code 2 when any view is past its objective."""
    import json

    from rich.console import Console
    from rich.table import Table

    from featurestore.feast_import import skip_typechecks
    from featurestore.monitor.freshness import freshness_report
    from featurestore.monitor.model import to_json

    skip_typechecks()  # reads the registry only: Feast without typeguard's instrumentation
    from featurestore.project import Project
    from featurestore.store import open_store

    project = Project.find()
    report = freshness_report(project, open_store(project))
    if as_json:
        typer.echo(json.dumps(to_json(report), indent=2))
    else:
        table = Table()
        table.add_column("view", no_wrap=True)
        for title in ("newest event", "materialized to", "served age", "objective", "status"):
            table.add_column(title)
        for item in report:
            when = [
                moment.strftime("%Y-%m-%d %H:%M") if moment else "-"
                for moment in (item.newest_event, item.last_materialized)
            ]
            status = "[red]stale[/red]" if item.stale else "[green]fresh[/green]"
            table.add_row(
                item.view,
                *when,
                _age(item.served_age_seconds),
                f"{_age(item.objective_seconds)} ({item.objective_source})",
                f"{status} {item.note}".rstrip(),
            )
        Console().print(table)
    if any(item.stale for item in report):
        raise typer.Exit(2)


@app.command("consistency")
def consistency(
    views: list[str] = typer.Option(None, "--view", "-v", help="Only these feature views."),
    sample: int = typer.Option(1000, "--sample", help="Entities sampled per view (at least 1)."),
    seed: int = typer.Option(0, "--seed", help="Which entities are sampled."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Sampled entities' online values against the offline latest rows as of each view's
    last materialization, per feature. Exits with code 2 when any value differs or is
    missing online. Reads only: Redis and the tables are never changed."""
    import json

    from rich.console import Console
    from rich.table import Table

    from featurestore.feast_import import skip_typechecks
    from featurestore.monitor.consistency import consistency_report
    from featurestore.monitor.model import to_json

    skip_typechecks()
    from featurestore.project import Project
    from featurestore.store import open_store

    project = Project.find()
    report = consistency_report(project, open_store(project), views or None, sample, seed)
    if as_json:
        typer.echo(json.dumps(to_json(report), indent=2))
    else:
        table = Table()
        table.add_column("feature", no_wrap=True)
        for title in ("sampled", "mismatches", "missing online", "mismatch rate"):
            table.add_column(title, justify="right")
        for item in report:
            rate = item.mismatch_rate
            bad = item.mismatches or item.missing_online
            table.add_row(
                f"[red]{item.view}:{item.feature}[/red]" if bad else f"{item.view}:{item.feature}",
                f"{item.sampled:,}",
                f"{item.mismatches:,}",
                f"{item.missing_online:,}",
                "-" if rate is None else f"{rate:.2%}",
            )
        Console().print(table)
    if any(item.mismatches or item.missing_online for item in report):
        raise typer.Exit(2)
