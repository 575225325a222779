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


# -- report ---------------------------------------------------------------------------


@app.command("report")
def report(
    feature_service: str = typer.Argument(..., help="The feature service (model) to report on."),
    output: str = typer.Option("report.html", "--output", "-o", help="The HTML file to write."),
    reference: str = typer.Option(
        None, help="The reference window (as for drift; default: the previous period)."
    ),
    current: str = typer.Option(None, help="The current window (as for drift)."),
) -> None:
    """Write the HTML report of a model's features: drift, trend, freshness, skew.

    One file that opens in any browser offline (plotly.js is inside it); the API serves
    the same page at /monitor/MODEL.
    """
    from pathlib import Path

    from featurestore.errors import FeatureStoreError
    from featurestore.feast_import import skip_typechecks
    from featurestore.project import Project

    target = Path(output)
    if not target.parent.is_dir():  # before the work, not after it
        raise FeatureStoreError(f"cannot write the report to {target}: no folder {target.parent}")
    skip_typechecks()  # reads the registry only
    from featurestore.monitor.report import build_report
    from featurestore.store import open_store

    project = Project.find()
    page = build_report(project, open_store(project), feature_service, reference, current)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise FeatureStoreError(f"cannot write the report to {target}: {exc.strerror}") from None
    typer.echo(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)")
