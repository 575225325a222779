"""``featurestore monitor``: statistics, drift, trend, freshness, consistency, skew and
the HTML report of a project's features (``featurestore.monitor``).

Every command only reads: feature tables and Redis are never changed. A check that
finds a problem exits with code 2 (``drift``: a feature crossed its threshold;
``trend``: its last period did; ``freshness``: a view is past its objective;
``consistency``: an online value differs from the offline one; ``skew``: served values
differ from a training set's), so a scheduler or CI job can act on it; bad input is one
line and exit code 1.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from featurestore.errors import WindowSpecError
from featurestore.feast_import import skip_typechecks
from featurestore.project import Project

if TYPE_CHECKING:
    from feast import FeatureStore

    from featurestore.monitor.model import DriftReport, Score, TrendReport
    from featurestore.monitor.windows import Windows

app = typer.Typer(
    help="Watch the features: statistics, drift, trend, freshness, consistency, skew, report.",
    no_args_is_help=True,
)
console = Console() if sys.stdout.isatty() else Console(width=160)  # a log keeps whole rows


# --- drift and trend -----------------------------------------------------------------

DRIFTED_EXIT = 2  # a check found a problem


def _open() -> tuple[Project, FeatureStore]:
    skip_typechecks()  # reads the registry only: Feast without typeguard's instrumentation
    from featurestore.store import open_store

    project = Project.find()
    return project, open_store(project)


def _windows(
    project: Project, store: FeatureStore, service: str, reference: str | None, current: str | None
) -> tuple[Windows, list[str] | None]:
    from featurestore.monitor.drift import newest_event, service_sources
    from featurestore.monitor.windows import resolve_windows

    sources = service_sources(project, store, service)
    needs_newest = any(spec is None or spec.strip().startswith("last:") for spec in (current,))
    newest = (
        newest_event(sources) if needs_newest or (reference or "").startswith("last:") else None
    )
    windows = resolve_windows(reference, current, newest)
    return windows, windows.trained_features


@app.command()
def drift(
    feature_service: str = typer.Option(
        ..., "--feature-service", "-s", help="The model's feature service."
    ),
    reference: str = typer.Option(
        None, help="START..END, last:30d, previous (default) or training:PATH (a training set)."
    ),
    current: str = typer.Option(None, help="START..END or last:7d (default)."),
    feature: list[str] = typer.Option(
        None, "--feature", "-f", help="Only this feature (view:feature or feature); repeatable."
    ),
    exact: bool = typer.Option(
        False, help="Group numeric columns by value (scipy's numbers on any data; slower)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the report as JSON instead of a table."
    ),
    output: Path = typer.Option(None, help="Also write the JSON report to this file."),
    command: str = typer.Option(
        None, help="Run this shell command when a feature drifted (report JSON on stdin)."
    ),
    webhook: str = typer.Option(
        None, help="POST the report JSON to this URL when a feature drifted."
    ),
) -> None:
    """Score every feature of a model between a reference and a current window.

    Exits 2 when a feature crossed its threshold (after calling --command / --webhook),
    so a scheduler or CI job can retrain on it; 0 otherwise."""
    from featurestore.monitor import alerts
    from featurestore.monitor.drift import drift_report

    project, store = _open()
    windows, trained = _windows(project, store, feature_service, reference, current)
    only = list(feature) if feature else None
    if only is None and trained:  # the features the model was trained on, still served
        only = _known_refs(project, store, feature_service, trained)
    report = drift_report(
        project, store, feature_service, windows.reference, windows.current,
        features=only, exact=exact,
    )  # fmt: skip
    document = report.to_json()
    saved = _save(project, f"drift-{feature_service}", document)
    if output:
        output.write_text(json.dumps(document, indent=2) + "\n")
    if as_json:
        print(json.dumps(document, indent=2))
    else:
        _print_drift(report, saved)
    if report.drifted:
        if command:
            alerts.run_command(command, document, saved)
        if webhook:
            alerts.post_webhook(webhook, document)
        raise typer.Exit(DRIFTED_EXIT)


def _known_refs(
    project: Project, store: FeatureStore, service: str, only: list[str]
) -> list[str] | None:
    """A training set's features that the service still has (one since removed from the
    service is not an error)."""
    from featurestore.monitor.drift import service_sources

    refs = {f.ref for s in service_sources(project, store, service) for f in s.features}
    names = {r.split(":", 1)[-1] for r in refs}
    kept = [r for r in only if r in refs or r in names]
    return kept or None


def _save(project: Project, stem: str, document: dict[str, Any]) -> Path:
    folder = project.layout.monitor_reports
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stem}-{stamp}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    tmp.replace(path)
    return path


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}"


def _print_drift(report: DriftReport, saved: Path) -> None:
    console.print(
        f"[bold]{report.feature_service}[/]: reference {report.reference.label}, "
        f"current {report.current.label}"
    )
    table = Table(
        "feature", "method", "score", "threshold", "", "reference rows", "current rows", "note"
    )
    for result in report.features:
        state = (
            ("[red]DRIFT[/]" if result.drifted else "[green]ok[/]")
            if result.drifted is not None
            else "-"
        )
        if result.score is None and result.drifted:
            state = "[red]DRIFT[/]"
        note = result.reason or ("see below" if result.alerts else "")
        table.add_row(
            result.name, result.method, _number(result.score), _number(result.threshold), state,
            f"{result.reference_rows:,}", f"{result.current_rows:,}", note,
        )  # fmt: skip
    console.print(table)
    for result in report.features:
        for alert in result.alerts:
            console.print(f"[red]![/] {result.name}: {alert}")
    drifted = len(report.drifted)
    summary = f"{drifted} of {len(report.features)} features drifted" if drifted else "no drift"
    console.print(f"{summary}; report saved to {saved}")


@app.command()
def trend(
    feature_service: str = typer.Option(
        ..., "--feature-service", "-s", help="The model's feature service."
    ),
    reference: str = typer.Option(
        ..., help="START..END or training:PATH: what every period is scored against."
    ),
    period: str = typer.Option("day", help="day or week."),
    start: str = typer.Option(None, help="First period (default: the reference's end)."),
    end: str = typer.Option(None, help="End of the last period (default: the newest event)."),
    feature: list[str] = typer.Option(
        None, "--feature", "-f", help="Only this feature; repeatable."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the trend as JSON."),
) -> None:
    """Each feature's drift score per day or week against a reference: a slow decay shows
    as a rising line. Exits 2 when the last period of a feature is past its threshold."""
    from featurestore.monitor.drift import trend_report
    from featurestore.monitor.windows import parse_time, resolve_windows

    if period not in ("day", "week"):
        raise WindowSpecError(f"--period must be day or week, got {period!r}")
    project, store = _open()
    spec = reference.strip()
    if spec == "previous" or spec.startswith("last:"):
        raise WindowSpecError(
            f"--reference {spec!r}: a trend scores every period against a fixed window; give "
            "START..END or training:PATH"
        )
    reference_window = resolve_windows(spec, "2000-01-01..2000-01-02", None).reference
    report = trend_report(
        project, store, feature_service, reference_window, period,  # type: ignore[arg-type]
        parse_time(start, "--start") if start else None, parse_time(end, "--end") if end else None,
        features=list(feature) if feature else None,
    )  # fmt: skip
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print_trend(report)
    if any(f.points and f.points[-1].drifted for f in report.features):
        raise typer.Exit(DRIFTED_EXIT)


_BARS = "▁▂▃▄▅▆▇█"


def _spark(values: list[float | None], threshold: float, p_value: bool) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return ""
    top = max(max(known), threshold) if not p_value else 1.0
    out = []
    for value in values:
        if value is None:
            out.append(" ")
            continue
        height = value / top if top else 0.0
        bar = _BARS[min(len(_BARS) - 1, int(height * (len(_BARS) - 1)))]
        crossed = value < threshold if p_value else value >= threshold
        out.append(f"[red]{bar}[/]" if crossed else bar)
    return "".join(out)


def _print_trend(report: TrendReport) -> None:
    console.print(
        f"[bold]{report.feature_service}[/]: per {report.period} against {report.reference.label}"
    )
    table = Table("feature", "method", "threshold", "first past threshold", "last", "trend")
    for result in report.features:
        first = result.first_drifted
        last = result.points[-1].score if result.points else None
        p_value = result.method in ("ks", "chisquare")
        table.add_row(
            f"{result.view}:{result.feature}", result.method, _number(result.threshold),
            f"{first.start:%Y-%m-%d} ({_number(first.score)})" if first else "-", _number(last),
            _spark([p.score for p in result.points][-60:], result.threshold, p_value),
        )  # fmt: skip
    console.print(table)


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
    from featurestore.monitor.freshness import freshness_report
    from featurestore.monitor.model import to_json

    project, store = _open()
    report = freshness_report(project, store)
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
        console.print(table)
    if any(item.stale for item in report):
        raise typer.Exit(DRIFTED_EXIT)


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
    from featurestore.monitor.consistency import consistency_report
    from featurestore.monitor.model import to_json

    project, store = _open()
    report = consistency_report(project, store, views or None, sample, seed)
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
        console.print(table)
    if any(item.mismatches or item.missing_online for item in report):
        raise typer.Exit(DRIFTED_EXIT)


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
    from featurestore.errors import FeatureStoreError

    target = Path(output)
    if not target.parent.is_dir():  # before the work, not after it
        raise FeatureStoreError(f"cannot write the report to {target}: no folder {target.parent}")
    from featurestore.monitor.report import build_report

    project, store = _open()
    page = build_report(project, store, feature_service, reference, current)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise FeatureStoreError(f"cannot write the report to {target}: {exc.strerror}") from None
    typer.echo(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)")


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
    from featurestore.errors import InvalidRequestError
    from featurestore.monitor.windows import parse_time

    if not 0 <= max_differing <= 1:
        raise InvalidRequestError(f"--max-differing must be in 0..1, got {max_differing}")
    since = parse_time(start, "--start") if start else None
    until = parse_time(end, "--end") if end else None
    project, store = _open()
    from featurestore.monitor.skew import skew_report

    report = skew_report(project, store, model, since, until)
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
        raise typer.Exit(DRIFTED_EXIT)


def _skew_distance(score: Score | None) -> str:
    if score is None:
        return "-"
    if score.value is None:
        return f"- ({score.reason})" if score.reason else "-"
    name = f"{score.method} p" if score.p_value is not None else score.method
    return f"{name} {score.value:.3g}"


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
    from featurestore.monitor.model import to_json
    from featurestore.monitor.stats import quarantine_rates, window_stats

    project = Project.find()
    features = window_stats(project, table, start, end)
    points = quarantine_rates(project, table, start, end)
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
    shown = Table("feature", "type", "count", "nulls", "distinct", "min", "max", "mean", "std",
                  "p50 (binned)", "whole", "top values", title=f"{table}, {window}")  # fmt: skip
    for f in features:
        rows = f.count + f.nulls
        distinct = "" if f.distinct is None else f"{'' if f.distinct_exact else '~'}{f.distinct:,}"
        top = ", ".join(f"{value} {n / f.count:.0%}" for value, n in f.top[:3]) if f.count else ""
        shown.add_row(
            f.column, f.type, f"{f.count:,}", f"{f.nulls / rows:.1%}" if rows else "", distinct,
            _stat(f.min), _stat(f.max), _stat(f.mean), _stat(f.std),
            _stat(f.quantiles.get(0.5)),
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


def _stat(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        return f"{value:,.0f}" if value.is_integer() and abs(value) < 1e15 else f"{value:,.4g}"
    return str(value)
