"""``featurestore monitor``: statistics, drift, trend, freshness, consistency, skew and
the HTML report of a project's features (``featurestore.monitor``).

Every command only reads: feature tables and Redis are never changed. ``drift`` exits
with code 2 when a feature crossed its threshold, so a scheduler can retrain on it.
"""

from __future__ import annotations

from typing import Any

import typer

app = typer.Typer(
    help="Watch the features: statistics, drift, trend, freshness, consistency, skew, report.",
    no_args_is_help=True,
)


# -- featurestore monitor stats -------------------------------------------------------------


@app.command("stats")
def stats(
    table: str = typer.Argument(..., help="The feature table (its job's name)."),
    start: str = typer.Option(
        None, help="Window start (ISO date or time, UTC; default: the first)."
    ),
    end: str = typer.Option(None, help="Window end, exclusive (default: after the last)."),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    """Each feature's statistics over a window, merged from the partitions' statistics
    (no scan of the table), and the share of rows the window's runs quarantined."""
    import json

    from rich.console import Console

    from featurestore.monitor.model import to_json
    from featurestore.monitor.stats import quarantine_rates, window_stats
    from featurestore.project import Project

    project = Project.find()
    features = window_stats(project, table, start, end)
    points = quarantine_rates(project, table, start, end)
    console = Console()
    if as_json:
        document = {"table": table, "start": start, "end": end, "features": to_json(features),
                    "quarantine": to_json(points)}  # fmt: skip
        console.print_json(json.dumps(document))
        return
    window = f"{start or 'the first partition'} .. {end or 'the last'}"
    if not features:
        Console(stderr=True).print(f"{table}: no partitions in {window}", markup=False)
        raise typer.Exit(1)
    console.print(_stats_table(table, window, features), soft_wrap=True)
    console.print(_quarantine_line(points), markup=False, soft_wrap=True)


def _stats_table(table: str, window: str, features: list[Any]) -> Any:
    from rich.table import Table

    shown = Table("feature", "type", "count", "nulls", "distinct", "min", "max", "mean", "std",
                  "p50", "whole", "top values", title=f"{table}, {window}")  # fmt: skip
    for f in features:
        rows = f.count + f.nulls
        distinct = "" if f.distinct is None else f"{'' if f.distinct_exact else '~'}{f.distinct:,}"
        top = ", ".join(f"{value} {n / f.count:.0%}" for value, n in f.top[:3]) if f.count else ""
        shown.add_row(
            f.column, f.type, f"{f.count:,}", f"{f.nulls / rows:.1%}" if rows else "", distinct,
            _number(f.min), _number(f.max), _number(f.mean), _number(f.std),
            _number(f.quantiles.get(0.5)),
            "" if f.whole_share is None else f"{f.whole_share:.0%}", top,
        )  # fmt: skip
    return shown


def _quarantine_line(points: list[Any]) -> str:
    rows_in = sum(p.rows_in for p in points)
    quarantined = sum(p.quarantined for p in points)
    if not rows_in:
        return "quarantined: no rows read in this window"
    line = f"quarantined: {quarantined:,} of {rows_in:,} rows ({quarantined / rows_in:.2%})"
    worst = max(points, key=lambda p: (p.rate or 0.0, p.start))
    if worst.quarantined:
        rules = ", ".join(f"{rule} {n:,}" for rule, n in sorted(worst.by_rule.items()))
        line += f"; worst {worst.start:%Y-%m-%d %H:%M}: {worst.rate:.1%} ({rules})"
    if any(not p.recorded for p in points):
        line += "; some partitions' counts were not recorded by their run"
    return line


def _number(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        return f"{value:,.0f}" if value.is_integer() and abs(value) < 1e15 else f"{value:,.4g}"
    return str(value)
