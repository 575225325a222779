"""``featurestore monitor``: statistics, drift, trend, freshness, consistency, skew and
the HTML report of a project's features (``featurestore.monitor``).

Every command only reads: feature tables and Redis are never changed. ``drift`` exits
with code 2 when a feature crossed its threshold, so a scheduler can retrain on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from featurestore.monitor.model import Score

app = typer.Typer(
    help="Watch the features: statistics, drift, trend, freshness, consistency, skew, report.",
    no_args_is_help=True,
)


# -- skew (featurestore.monitor.skew) ------------------------------------------------------


@app.command("skew")
def skew(
    model: str = typer.Argument(..., help="The model's feature service."),
    start: str = typer.Option(
        None, help="Only requests served at or after this time (ISO; UTC unless it says)."
    ),
    end: str = typer.Option(None, help="Only requests served before this time."),
    max_differing: float = typer.Option(
        0.01, "--max-differing", help="Exit 2 when a feature differs in more than this share."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Served feature vectors (the API's serving log) against a point-in-time join of the
    same requests: per feature the share of served values a training set would not have
    had, and the distance between the two distributions. Exits with code 2 when a
    feature's differing share is above --max-differing."""
    import json
    import sys

    from rich.console import Console
    from rich.table import Table

    from featurestore.errors import InvalidRequestError
    from featurestore.feast_import import skip_typechecks

    skip_typechecks()  # reads the registry only: Feast without typeguard's instrumentation
    from featurestore.monitor.skew import skew_report
    from featurestore.monitor.windows import parse_time
    from featurestore.project import Project
    from featurestore.store import open_store

    if not 0 <= max_differing <= 1:
        raise InvalidRequestError(f"--max-differing must be in 0..1, got {max_differing}")
    since = parse_time(start, "--start") if start else None
    until = parse_time(end, "--end") if end else None
    project = Project.find()
    report = skew_report(project, open_store(project), model, since, until)
    exceeded = [
        f
        for f in report.features
        if f.differing_rate is not None and f.differing_rate > max_differing
    ]
    if as_json:
        document = report.to_json()
        document["max_differing"] = max_differing
        document["exceeded"] = [f"{f.view}:{f.feature}" for f in exceeded]
        print(json.dumps(document, indent=2))
    else:
        console = Console()
        console.print(
            f"skew of {model}: {report.requests:,} logged requests served "
            f"{report.window.label.removeprefix('served ')}, replayed as a point-in-time join"
        )
        table = Table("feature", "served", "differing", "share", "distance", "served statuses")
        worst_first = sorted(report.features, key=lambda f: -(f.differing_rate or 0))
        for f in worst_first:
            rate = f.differing_rate
            share = "-" if rate is None else f"{rate:.1%}"
            style = "bold red" if f in exceeded else None
            table.add_row(
                f"{f.view}:{f.feature}",
                f"{f.served:,}",
                f"{f.differing:,}",
                share,
                _skew_distance(f.distance),
                ", ".join(f"{s} {n:,}" for s, n in sorted(f.statuses.items())),
                style=style,
            )
        console.print(table)
    for f in exceeded:
        print(
            f"{f.view}:{f.feature} differs in {f.differing_rate:.1%} of served values "
            f"(limit {max_differing:.1%})",
            file=sys.stderr,
        )
    if exceeded:
        raise typer.Exit(2)


def _skew_distance(score: Score | None) -> str:
    if score is None:
        return "-"
    if score.value is None:
        return f"- ({score.reason})" if score.reason else "-"
    name = f"{score.method} p" if score.p_value is not None else score.method
    return f"{name} {score.value:.3g}"
