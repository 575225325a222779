"""Drift of a model's features between a reference and a current window, and its trend.

    drift_report(project, store, "departure_delay_model", reference, current)
    trend_report(project, store, "departure_delay_model", reference, period="day")

Both read each feature view's table once, in DuckDB: one ``GROUP BY`` per feature over
both windows (or every period of the trend) gives each window's distinct values and
counts, and ``featurestore.monitor.metrics`` scores them. No window's rows are loaded
into Python, so a drift report costs about one scan of the columns it scores.

A numeric column is grouped on a fine grid of ``BINS`` equal steps between its smallest
and largest value (from the Parquet footers): an integer column whose range fits the
grid, and any column with at most one distinct value per step, is grouped by value and
scored exactly (what the tests compare with scipy and Evidently); a step that holds
several values stands at their mean, which bounds the error of every metric by the
step (``metrics`` says how). The grid is the same for both windows and every period.

Which metric scores a feature and its threshold come from ``MonitorConfig.drift_rule``
(project file, job header, built-in ``auto``). A feature whose windows hold fewer rows
than its metric needs gets a result without a score and a reason ("not enough data"),
never a made-up number; a reference window with no rows at all is an error. A float
feature whose values turn into whole numbers (an upstream change from float to int) is
flagged whatever its score.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import numpy as np

from featurestore import sql
from featurestore.errors import MonitorError, NoDataError
from featurestore.monitor import metrics
from featurestore.monitor.config import DriftRule
from featurestore.monitor.metrics import Distribution
from featurestore.monitor.model import (
    DriftReport,
    FeatureDrift,
    FeatureTrend,
    Histogram,
    Kind,
    TrendPoint,
    TrendReport,
    Window,
)
from featurestore.push.spec import table_headers

if TYPE_CHECKING:
    from feast import FeatureStore

    from featurestore.project import Project

BINS = 16_384  # the fine grid of a numeric column in a drift report
TREND_BINS = 4_096  # ... in a trend (one grid per period)
MAX_PERIODS = 1_000
_NUMERIC = {"FLOAT", "DOUBLE", "INT32", "INT64"}
_CATEGORICAL = {"STRING", "BOOL"}
_SHOWN_LABELS = 30  # categories drawn in a histogram; the rest are "(other)"
_WHOLE_MIN_ROWS = 20  # rows each window needs before the float-to-int check speaks
_PERIODS = {"day": timedelta(days=1), "week": timedelta(weeks=1)}


@dataclass(frozen=True)
class Feature:
    """One monitored feature of a feature service: where its values live and how it is
    scored. ``kind`` is ``None`` for a type the monitor does not score (``skip`` says why)."""

    view: str
    name: str
    column: str  # the source table's column
    table: str
    kind: Kind | None
    dtype: str
    rule: DriftRule
    skip: str = ""

    @property
    def ref(self) -> str:
        return f"{self.view}:{self.name}"


@dataclass(frozen=True)
class ViewSource:
    """A feature view's table, its timestamp column, and the service's features of it."""

    view: str
    path: str
    timestamp: str
    features: list[Feature] = field(default_factory=list)


def service_sources(
    project: Project, store: FeatureStore, feature_service: str, only: Sequence[str] | None = None
) -> list[ViewSource]:
    """The feature views of ``feature_service`` with the features to monitor (``only``:
    these ``view:feature`` or bare feature names; an unknown one is an error)."""
    from feast import FileSource

    from featurestore.offline.views import source_path
    from featurestore.training import get_feature_service

    service = get_feature_service(store, feature_service)
    jobs = table_headers(project.jobs_dir)  # the jobs' and the push sources'
    sources: list[ViewSource] = []
    for projection in service.feature_view_projections:
        try:
            view = store.get_feature_view(projection.name)
        except Exception:  # an on-demand or stream view: Feast raises its own error
            raise MonitorError(
                f"feature view {projection.name!r} of {feature_service!r} has no batch table: "
                "the monitor reads feature views over Parquet tables"
            ) from None
        source = view.batch_source
        if not isinstance(source, FileSource):
            raise MonitorError(
                f"feature view {view.name!r} reads a {type(source).__name__}; the monitor "
                "reads Parquet file sources"
            )
        path = source_path(source, project.repo_path)
        table = Path(path.rstrip("/")).name.removesuffix(".parquet")
        job = jobs.get(table)
        reverse = {target: column for column, target in (source.field_mapping or {}).items()}
        features = []
        for feature in projection.features:
            value_type = feature.dtype.to_value_type().name
            kind: Kind | None = (
                "numeric" if value_type in _NUMERIC
                else "categorical" if value_type in _CATEGORICAL else None
            )  # fmt: skip
            rule = project.monitor.drift_rule(
                table, feature.name, kind or "numeric", job.drift if job else None
            )
            skip = "" if kind else f"{feature.dtype} features are not scored"
            column = reverse.get(feature.name, feature.name)
            features.append(
                Feature(
                    view.name, feature.name, column, table, kind, str(feature.dtype), rule, skip
                )
            )
        ts = reverse.get(source.timestamp_field, source.timestamp_field)
        sources.append(ViewSource(view.name, path, ts, features))
    if only:
        sources = _select(sources, only)
    return sources


def _select(sources: list[ViewSource], only: Sequence[str]) -> list[ViewSource]:
    wanted = set(only)
    found: set[str] = set()
    selected = []
    for source in sources:
        kept = [f for f in source.features if f.ref in wanted or f.name in wanted]
        found |= {f.ref for f in kept} | {f.name for f in kept}
        if kept:
            selected.append(ViewSource(source.view, source.path, source.timestamp, kept))
    unknown = sorted(wanted - found)
    if unknown:
        known = ", ".join(f.ref for s in sources for f in s.features)
        raise MonitorError(f"unknown feature(s) {', '.join(map(repr, unknown))}; known: {known}")
    return selected


def newest_event(sources: Iterable[ViewSource]) -> datetime | None:
    """The newest event time in any of the views' tables (from the Parquet footers:
    ``featurestore.monitor.freshness.newest_event``)."""
    from featurestore.monitor import freshness

    found = [freshness.newest_event(s.path, s.timestamp) for s in sources]
    return max((moment for moment in found if moment is not None), default=None)


def event_range(source: ViewSource) -> tuple[datetime | None, datetime | None]:
    con = sql.connect()
    try:
        ts = sql.ident(source.timestamp)
        row = con.execute(
            f"SELECT min({ts}), max({ts}) FROM {sql.parquet_scan(source.path)}"
        ).fetchone()
    finally:
        con.close()
    if not row or row[0] is None:
        return None, None
    return _utc(row[0]), _utc(row[1])


def drift_report(
    project: Project,
    store: FeatureStore,
    feature_service: str,
    reference: Window,
    current: Window,
    *,
    features: Sequence[str] | None = None,
    exact: bool = False,
) -> DriftReport:
    """Every feature of ``feature_service`` scored between the two windows (``exact``:
    group numeric columns by value, not on the grid: scipy's numbers to the last digit
    on any data, slower on a column of many distinct values)."""
    sources = service_sources(project, store, feature_service, features)
    results: list[FeatureDrift] = []
    empty_views = []
    for source in sources:
        branches = [_Branch("0", reference), _Branch("1", current)]
        found = _distributions(source, branches, None if exact else BINS)
        if all(found[(f.name, 0)].rows + found[(f.name, 0)].nulls == 0 for f in _scored(source)):
            empty_views.append(source)
        for feature in source.features:
            if feature.kind is None:
                results.append(_unscored(feature, feature.skip))
                continue
            empty = _empty(feature.kind)
            ref = found.get((feature.name, 0), empty)
            results.append(_drift(feature, ref, found.get((feature.name, 1), empty)))
    if sources and len(empty_views) == len([s for s in sources if _scored(s)]):
        raise NoDataError(_no_reference(reference, empty_views))
    return DriftReport(reference, current, _worst_first(results), feature_service)


def _no_reference(reference: Window, sources: list[ViewSource]) -> str:
    spans = []
    for source in sources:
        first, last = event_range(source)
        held = f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}" if first and last else "no rows"
        spans.append(f"{source.view} holds {held}")
    label = reference.label or _span(reference)
    return f"the reference window {label} holds no rows: {'; '.join(spans)}"


def trend_report(
    project: Project,
    store: FeatureStore,
    feature_service: str,
    reference: Window,
    period: Literal["day", "week"] = "day",
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    features: Sequence[str] | None = None,
    exact: bool = False,
) -> TrendReport:
    """Each feature's drift score per ``period`` from ``start`` (default: the reference's
    end) to ``end`` (default: the newest event), every period against the reference."""
    if period not in _PERIODS:
        raise MonitorError(f"period must be day or week, got {period!r}")
    sources = service_sources(project, store, feature_service, features)
    step = _PERIODS[period]
    first = _floor(start or reference.end, period)
    last = end or ((newest_event(sources) or first) + timedelta(microseconds=1))
    count = max(1, -(-(last - first) // step))
    if count > MAX_PERIODS:
        raise MonitorError(
            f"{count:,} {period}s from {first:%Y-%m-%d} to {last:%Y-%m-%d}: at most "
            f"{MAX_PERIODS:,} (use --period week or a later --start)"
        )
    span = Window(first, first + count * step)
    step_us = int(step.total_seconds()) * 1_000_000
    key = f"1 + (epoch_us(__ts) - {_epoch_us(first)}) // {step_us}"
    trends: list[FeatureTrend] = []
    for source in sources:
        found = _distributions(
            source, [_Branch("0", reference), _Branch(key, span)], None if exact else TREND_BINS
        )
        if all(found[(f.name, 0)].rows + found[(f.name, 0)].nulls == 0 for f in _scored(source)):
            raise NoDataError(_no_reference(reference, [source]))
        for feature in _scored(source):
            ref = found[(feature.name, 0)]
            method, threshold = feature.rule.resolve(feature.kind or "numeric", ref.rows)
            points = []
            for index in range(count):
                cur = found.get((feature.name, index + 1), _empty(feature.kind or "numeric"))
                result = metrics.score(method, ref, cur)
                value = result.value
                drifted = None if value is None else metrics.is_drift(method, value, threshold)
                start_at = first + index * step
                points.append(TrendPoint(start_at, start_at + step, cur.rows, value, drifted))
            trends.append(FeatureTrend(feature.view, feature.name, method, threshold, points))
    return TrendReport(reference, period, trends, feature_service)


# --- scoring -------------------------------------------------------------------------


def _scored(source: ViewSource) -> list[Feature]:
    return [f for f in source.features if f.kind is not None]


def _unscored(feature: Feature, reason: str) -> FeatureDrift:
    return FeatureDrift(feature.view, feature.name, feature.kind or "numeric",
                        feature.rule.method, feature.rule.threshold or 0.0, None, None, 0, 0,
                        reason=reason)  # fmt: skip


def _drift(feature: Feature, ref: Distribution, cur: Distribution) -> FeatureDrift:
    kind: Kind = feature.kind or "numeric"
    method, threshold = feature.rule.resolve(kind, ref.rows)
    scores = {m: metrics.score(m, ref, cur) for m in metrics.methods(kind)}
    chosen = scores.get(method) or metrics.score(method, ref, cur)
    alerts = _whole_number_alert(feature, ref, cur)
    drifted: bool | None = None
    if chosen.value is not None:
        drifted = metrics.is_drift(method, chosen.value, threshold) or bool(alerts)
    elif alerts:
        drifted = True
    return FeatureDrift(
        feature.view, feature.name, kind, method, threshold, chosen.value, drifted, ref.rows,
        cur.rows, scores, *_histograms(ref, cur), reason=chosen.reason, alerts=alerts,
    )  # fmt: skip


def _whole_number_alert(feature: Feature, ref: Distribution, cur: Distribution) -> tuple[str, ...]:
    """A float feature whose values all turned whole (an upstream int where a float was)."""
    if feature.dtype not in ("Float32", "Float64") or min(ref.rows, cur.rows) < _WHOLE_MIN_ROWS:
        return ()
    before, after = ref.whole / ref.rows, cur.whole / cur.rows
    if before <= 0.5 and after == 1.0:
        return (
            f"every current value is a whole number ({before:.0%} of the reference's were): "
            "an integer where a float belongs upstream?",
        )
    return ()


def _histograms(ref: Distribution, cur: Distribution) -> tuple[Histogram | None, Histogram | None]:
    if ref.rows == 0 or cur.rows == 0:
        return None, None
    if ref.kind == "numeric" and ref.distinct > 20:
        edges = metrics.sturges_edges(ref, cur)
        binned = [np.histogram(d.values, edges, weights=d.counts)[0] for d in (ref, cur)]
        shown = tuple(float(e) for e in edges)
        return (
            Histogram(tuple(int(c) for c in binned[0]), edges=shown, nulls=ref.nulls),
            Histogram(tuple(int(c) for c in binned[1]), edges=shown, nulls=cur.nulls),
        )
    keys = np.union1d(ref.values, cur.values)
    ref_counts = dict(zip(ref.values.tolist(), ref.counts.tolist(), strict=True))
    cur_counts = dict(zip(cur.values.tolist(), cur.counts.tolist(), strict=True))
    keys_list = keys.tolist()
    if ref.kind == "categorical":
        keys_list.sort(key=lambda k: -(ref_counts.get(k, 0) + cur_counts.get(k, 0)))
    shown_keys, rest = keys_list[:_SHOWN_LABELS], keys_list[_SHOWN_LABELS:]
    labels = tuple(_label(k) for k in shown_keys) + (("(other)",) if rest else ())

    def counts(table: dict[object, int]) -> tuple[int, ...]:
        head = tuple(int(table.get(k, 0)) for k in shown_keys)
        return head + ((sum(int(table.get(k, 0)) for k in rest),) if rest else ())

    return (
        Histogram(counts(ref_counts), labels=labels, nulls=ref.nulls),
        Histogram(counts(cur_counts), labels=labels, nulls=cur.nulls),
    )


def _label(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _worst_first(results: list[FeatureDrift]) -> list[FeatureDrift]:
    """Drifted first, then by how far past (or short of) its threshold each one is."""

    def badness(result: FeatureDrift) -> tuple[int, float]:
        if result.score is None:
            return (1 if result.drifted else 2, 0.0)
        if result.method in ("ks", "chisquare"):
            ratio = result.threshold / max(result.score, 1e-300)
        else:
            ratio = result.score / result.threshold if result.threshold else 0.0
        return (0 if result.drifted else 1, -ratio)

    return sorted(results, key=badness)


# --- the scan ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Branch:
    """Rows of ``window``, tagged with ``key`` (a SQL expression of ``__ts``: the window's
    index, or a period's)."""

    key: str
    window: Window


def _distributions(
    source: ViewSource, branches: list[_Branch], bins: int | None
) -> dict[tuple[str, int], Distribution]:
    """Each scored feature's distribution per branch key: ``(feature name, key)``;
    numeric columns on a grid of ``bins`` steps, or by value (``None``)."""
    features = _scored(source)
    out: dict[tuple[str, int], Distribution] = {}
    if not features:
        return out
    scan = sql.parquet_scan(source.path)
    con = sql.connect()
    try:
        partitioned = _has_column(con, scan, "partition_date")
        parts = []
        columns = ", ".join(
            f"{sql.ident(f.column)} AS {sql.ident('f' + str(i))}" for i, f in enumerate(features)
        )
        for branch in branches:
            where = _window_sql(sql.ident(source.timestamp), branch.window, partitioned)
            parts.append(
                f"SELECT {branch.key.replace('__ts', sql.ident(source.timestamp))} AS __w, "
                f"{columns} FROM {scan} WHERE {where}"
            )
        con.execute(f"CREATE TEMP VIEW src AS {' UNION ALL '.join(parts)}")
        numeric = [(i, f) for i, f in enumerate(features) if f.kind == "numeric"]
        categorical = [(i, f) for i, f in enumerate(features) if f.kind == "categorical"]
        if numeric:
            ranges = None if bins is None else _ranges(con, source, scan, [f for _, f in numeric])
            out |= _numeric(con, numeric, ranges, bins)
        if categorical:
            out |= _categorical(con, categorical)
    except Exception as exc:
        if isinstance(exc, duckdb.Error):
            raise MonitorError(f"cannot read feature view {source.view!r} ({source.path}): "
                               f"{str(exc).splitlines()[0]}") from None  # fmt: skip
        raise
    finally:
        con.close()
    keys = {int(k) for _, k in out} | {0}
    for feature in features:
        for key in keys:
            out.setdefault((feature.name, key), _empty(feature.kind or "numeric"))
    return out


def _has_column(con: duckdb.DuckDBPyConnection, scan: str, name: str) -> bool:
    return name in {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}


def _window_sql(ts: str, window: Window, partitioned: bool) -> str:
    where = f"{ts} >= {_ts_literal(window.start)} AND {ts} < {_ts_literal(window.end)}"
    if partitioned:  # prune hive partitions before reading them
        first = int(window.start.astimezone(UTC).strftime("%Y%m%d"))
        last = int(window.end.astimezone(UTC).strftime("%Y%m%d"))
        where += f" AND partition_date BETWEEN {first} AND {last}"
    return where


def _ranges(
    con: duckdb.DuckDBPyConnection, source: ViewSource, scan: str, features: list[Feature]
) -> dict[str, tuple[float, float, bool]]:
    """Each numeric column's (smallest, largest, is an integer type), from the Parquet
    footers when every row group has statistics, else from one pass over the column."""
    types = dict(
        (row[0], row[1]) for row in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    )
    glob = _glob(source.path)
    found: dict[str, tuple[float, float]] = {}
    try:
        rows = con.execute(
            "SELECT path_in_schema, min(TRY_CAST(stats_min_value AS DOUBLE)), "
            "max(TRY_CAST(stats_max_value AS DOUBLE)), "
            "count(*) FILTER (WHERE stats_min_value IS NULL AND stats_null_count IS DISTINCT "
            "FROM num_values) "
            f"FROM parquet_metadata({sql.literal(glob)}) GROUP BY 1"
        ).fetchall()
        found = {r[0]: (r[1], r[2]) for r in rows if r[3] == 0 and r[1] is not None}
    except Exception:  # no footers to read: scan instead
        found = {}
    missing = [f for f in features if f.column not in found]
    if missing:
        items = ", ".join(
            f"min(CAST({sql.ident(f.column)} AS DOUBLE)) FILTER (WHERE isfinite(CAST("
            f"{sql.ident(f.column)} AS DOUBLE))), max(CAST({sql.ident(f.column)} AS DOUBLE)) "
            f"FILTER (WHERE isfinite(CAST({sql.ident(f.column)} AS DOUBLE)))"
            for f in missing
        )
        row = con.execute(f"SELECT {items} FROM {scan}").fetchone() or ()
        for i, f in enumerate(missing):
            low, high = row[2 * i], row[2 * i + 1]
            found[f.column] = (0.0, 0.0) if low is None else (float(low), float(high))
    integer_types = (
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
    )
    return {
        f.column: (*found[f.column], str(types.get(f.column, "")).upper() in integer_types)
        for f in features
    }


def _glob(path: str) -> str:
    if Path(path).is_dir():
        return str(Path(path) / "**" / "*.parquet")
    return path


def _numeric(
    con: duckdb.DuckDBPyConnection,
    numeric: list[tuple[int, Feature]],
    ranges: dict[str, tuple[float, float, bool]] | None,
    bins: int | None,
) -> dict[tuple[str, int], Distribution]:
    parts = []
    for i, feature in numeric:
        value = f"CAST(f{i} AS DOUBLE)"
        if ranges is None or bins is None:  # by value
            parts.append(
                f"SELECT {i} AS f, __w, CASE WHEN isfinite(v) THEN v END AS b, count(*) AS n, "
                f"min(v) AS lo, max(v) AS hi, sum(v) AS s, sum(v * v) AS ss, "
                f"count_if(v = round(v)) AS whole FROM (SELECT __w, {value} AS v FROM src) "
                "GROUP BY ALL"
            )
            continue
        low, high, integer = ranges[feature.column]
        if integer and high - low + 1 <= bins:
            scale = 1.0  # one step per integer: grouped by value
        else:
            scale = (bins / (high - low)) if high > low else 0.0
        step = (
            f"CASE WHEN isfinite(v) THEN least(greatest(floor((v - {low!r}) * {scale!r}), 0), "
            f"{bins - 1})::BIGINT END"
        )
        parts.append(
            f"SELECT {i} AS f, __w, {step} AS b, count(*) AS n, min(v) AS lo, max(v) AS hi, "
            f"sum(v) AS s, sum(v * v) AS ss, count_if(v = round(v)) AS whole "
            f"FROM (SELECT __w, {value} AS v FROM src) GROUP BY ALL"
        )
    found = con.execute(" UNION ALL ".join(parts) + " ORDER BY f, __w, b NULLS FIRST").fetchnumpy()
    columns = {name: np.asarray(found[name]) for name in found}
    names = {i: f.name for i, f in numeric}
    out: dict[tuple[str, int], Distribution] = {}
    if not len(columns["f"]):
        return out
    group = columns["f"].astype(np.int64) * (1 << 32) + columns["__w"].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    for first, last in zip(starts, np.r_[starts[1:], len(group)], strict=True):
        rows = slice(first, last)
        null = _is_null(found["b"], rows)
        steps = ~null
        count = columns["n"][rows].astype(np.int64)
        smallest = columns["lo"][rows].astype(np.float64)
        largest = columns["hi"][rows].astype(np.float64)
        total = columns["s"][rows].astype(np.float64)
        single: np.ndarray = smallest == largest
        # a step of one value is that value; a step of several stands at their mean
        values = np.where(single, smallest, total / np.maximum(count, 1))[steps]
        out[(names[int(columns["f"][first])], int(columns["__w"][first]))] = Distribution(
            "numeric",
            values,
            count[steps],
            nulls=int(count[null].sum()),
            exact=bool(single[steps].all()),
            whole=int(columns["whole"][rows].astype(np.int64)[steps].sum()),
            total=float(total[steps].sum()),
            squares=float(columns["ss"][rows].astype(np.float64)[steps].sum()),
        )
    return out


def _is_null(column: Any, rows: slice) -> np.ndarray:
    """Which of ``rows`` hold NULL (DuckDB's numpy results mask them)."""
    if np.ma.isMaskedArray(column):
        return np.asarray(np.ma.getmaskarray(column)[rows])
    values = np.asarray(column)[rows]
    if values.dtype == object:
        return np.asarray([v is None for v in values], dtype=bool)
    return np.isnan(values) if values.dtype.kind == "f" else np.zeros(len(values), dtype=bool)


def _categorical(
    con: duckdb.DuckDBPyConnection, categorical: list[tuple[int, Feature]]
) -> dict[tuple[str, int], Distribution]:
    parts = [
        f"SELECT {i} AS f, __w, CAST(f{i} AS VARCHAR) AS v, count(*) AS n FROM src GROUP BY ALL"
        for i, _ in categorical
    ]
    rows: list[Any] = con.execute(
        " UNION ALL ".join(parts) + " ORDER BY f, __w, v NULLS FIRST"
    ).fetchall()
    names = {i: f.name for i, f in categorical}
    grouped: dict[tuple[int, int], list[Any]] = {}
    for row in rows:
        grouped.setdefault((int(row[0]), int(row[1])), []).append(row)
    out: dict[tuple[str, int], Distribution] = {}
    for (i, key), group in grouped.items():
        steps = [r for r in group if r[2] is not None]
        out[(names[i], key)] = Distribution(
            "categorical",
            np.array([str(r[2]) for r in steps], dtype=object),
            np.array([r[3] for r in steps], dtype=np.int64),
            nulls=sum(int(r[3]) for r in group if r[2] is None),
        )
    return out


def _empty(kind: Kind) -> Distribution:
    dtype: type = np.float64 if kind == "numeric" else object
    return Distribution(kind, np.array([], dtype=dtype), np.array([], dtype=np.int64))


def _ts_literal(moment: datetime) -> str:
    return f"TIMESTAMPTZ {sql.literal(moment.astimezone(UTC).isoformat())}"


def _epoch_us(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _floor(moment: datetime, period: str) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) if period == "week" else day


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _span(window: Window) -> str:
    return f"{window.start:%Y-%m-%d %H:%M}..{window.end:%Y-%m-%d %H:%M}"
