"""The HTML report of a feature service: one page a person would rather look at than read.

    render_report(...)   the page, from results already computed (``featurestore.monitor.model``)
    build_report(...)    computes them (drift, trend, freshness, skew, quarantine), then renders

The page, top to bottom: a summary (the windows compared, how many features drifted, how
many could not be scored, stale views, the worst skew and quarantine rates); a table of
the features; one card per feature with the reference and current histograms overlaid,
the drift score over time against its threshold line, the other metrics' scores and the
feature's skew; then freshness per view (the age of the newest offline event and of what
is served, against the objective), skew per feature, and the quarantine rate per table.

Worst first: drifted features, then the scored ones that did not drift, each group by how
far its score lies past (or short of) its threshold, as a log ratio so methods compare;
ks and chi-square scores are p-values, where smaller is worse. Features that could not be
scored come last, with their reason (and are counted in the summary).

Offline: the plots are plotly.js, shipped in the plotly package. ``plotly_js="inline"``
embeds it once (about 4.5 MB: a file that opens anywhere); any other value is the address
of a copy to load instead (the API serves the package's own file). Nothing comes from a
CDN and no web font is loaded. The figures are JSON in one ``<script id="plots">`` block,
drawn by a few lines of script that then set ``<body data-ready="true">`` (``"error"``
when plotly.js is missing or a plot failed). Every name is HTML-escaped, in the page and
in the plots' labels (plotly.js reads a few HTML tags and entities in those).
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from featurestore.monitor.config import P_VALUE_METHODS
from featurestore.monitor.model import (
    DriftReport,
    FeatureDrift,
    FeatureSkew,
    FeatureTrend,
    Freshness,
    Histogram,
    SkewReport,
    TrendReport,
    Window,
)

if TYPE_CHECKING:
    from feast import FeatureStore

    from featurestore.project import Project

__all__ = ["PLOTLY_INLINE", "QuarantineRate", "build_report", "render_report"]

PLOTLY_INLINE = "inline"
MAX_CATEGORIES = 40  # a categorical histogram draws the labels with the largest shares
WEEKLY_AFTER = 120  # days from the reference's end to the newest event: a trend per week
_MIN_HOURS = 1 / 60  # ages are drawn on a log axis: a minute at least
_MISSING = "&#8211;"  # an en dash, as an entity both HTML and plotly.js read
_AGE_TICKS = [1 / 60, 5 / 60, 0.25, 1, 2, 6, 12, 24, 48, 168, 720, 8760, 87600]  # hours
_AGE_LABELS = ["1 min", "5 min", "15 min", "1 h", "2 h", "6 h", "12 h", "1 d", "2 d", "1 w"]
_AGE_LABELS += ["30 d", "1 y", "10 y"]
_P_FLOOR = 1e-16  # p-values below this are drawn at it (a log axis has no zero)

_INK, _REFERENCE, _CURRENT = "#1d2330", "#98a2b3", "#2f6fed"
_BAD, _GOOD, _WARN, _LATE_OFFLINE = "#d92d20", "#067647", "#b54708", "#f97066"
_PALETTE = (_WARN, _CURRENT, "#7a5af8", "#0e9384", "#c11574", _REFERENCE)
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_AXIS = {"gridcolor": "#eef0f3", "linecolor": "#d0d5dd", "zeroline": False, "automargin": True}
_MARGIN = {"l": 52, "r": 16, "t": 40, "b": 40}
_LAYOUT: dict[str, Any] = {
    "font": {"family": _FONT, "size": 12, "color": _INK},
    "paper_bgcolor": "#ffffff",
    "plot_bgcolor": "#ffffff",
    "margin": _MARGIN,
    "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "font": {"size": 11}},
    "hoverlabel": {"font": {"family": _FONT}},
}


class QuarantineRate(Protocol):
    """One period of a table's quarantine (``featurestore.monitor.stats.QuarantinePoint``):
    of ``rows_in`` arriving rows, ``quarantined`` broke a rule (``by_rule``: counts)."""

    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def rows_in(self) -> int: ...
    @property
    def quarantined(self) -> int: ...
    @property
    def rate(self) -> float | None: ...
    @property
    def by_rule(self) -> Mapping[str, int]: ...


Quarantine = Mapping[str, Sequence[QuarantineRate]]


def render_report(
    feature_service: str,
    drift: DriftReport | None,
    trend: TrendReport | None,
    freshness: Sequence[Freshness],
    skew: SkewReport | None,
    quarantine: Quarantine | None = None,
    *,
    plotly_js: str = PLOTLY_INLINE,
    notes: Mapping[str, str] | None = None,
    generated_at: datetime | None = None,
) -> str:
    """The report as one HTML document. A result that is ``None`` shows as its note from
    ``notes`` (keys ``drift``, ``trend``, ``skew``, ``quarantine``); the quarantine section
    is left out when it has neither. ``plotly_js``: ``"inline"`` or plotly.min.js's address."""
    notes = notes or {}
    page = _Page()
    features = sorted(drift.features, key=_order) if drift else []
    trends = {(t.view, t.feature): t for t in trend.features} if trend else {}
    skews = {(s.view, s.feature): s for s in skew.features} if skew else {}
    trend_note = notes.get("trend") or ("no trend for this feature" if trend else "no trend")
    cards = []
    for f in features:
        key = (f.view, f.feature)
        cards.append(_feature_card(page, f, trends.get(key), skews.get(key), trend_note))
    sections = [
        _summary(features, freshness, skew, quarantine),
        _overview(features, skews, notes.get("drift", "")),
        *cards,
        _freshness_section(page, freshness),
        _skew_section(page, skew, notes.get("skew", "")),
        _quarantine_section(page, quarantine, notes.get("quarantine", "")),
    ]
    header = _header(feature_service, drift, trend, generated_at or datetime.now(UTC))
    return _document(feature_service, header, "\n".join(s for s in sections if s), page, plotly_js)


def build_report(
    project: Project,
    store: FeatureStore,
    feature_service: str,
    reference: str | None = None,
    current: str | None = None,
    *,
    plotly_js: str = PLOTLY_INLINE,
) -> str:
    """The report of ``feature_service``: drift between the ``reference`` and ``current``
    windows (written as ``featurestore monitor drift`` takes them), its trend against the
    reference (per day, per week past ``WEEKLY_AFTER`` days), the freshness of its views,
    the skew of what the API served (a note when nothing was logged) and the quarantine
    rates of its views' tables."""
    from featurestore.errors import FeatureStoreError
    from featurestore.monitor.drift import (
        drift_report,
        newest_event,
        service_sources,
        trend_report,
    )
    from featurestore.monitor.freshness import freshness_report
    from featurestore.monitor.skew import skew_report
    from featurestore.monitor.stats import quarantine_rates
    from featurestore.monitor.windows import resolve_windows

    sources = service_sources(project, store, feature_service)  # an unknown one: an error
    newest = newest_event(sources)
    windows = resolve_windows(reference, current, newest)
    ref, cur = windows.reference, windows.current
    drift = drift_report(project, store, feature_service, ref, cur)
    days = ((newest or ref.end) - ref.end).days
    trend = trend_report(
        project, store, feature_service, ref, "week" if days > WEEKLY_AFTER else "day"
    )
    views = {source.view for source in sources}
    freshness = [f for f in freshness_report(project, store) if f.view in views]
    notes: dict[str, str] = {}
    skew: SkewReport | None = None
    try:
        skew = skew_report(project, store, feature_service)
    except FeatureStoreError as exc:
        if "no served vectors" not in str(exc).lower():
            raise
        notes["skew"] = str(exc)
    tables = sorted({Path(s.path.rstrip("/")).name.removesuffix(".parquet") for s in sources})
    quarantine = {t: rates for t in tables if (rates := quarantine_rates(project, t, ref.start))}
    if not quarantine:
        notes["quarantine"] = "no quarantine statistics recorded for these views' tables"
    return render_report(
        feature_service, drift, trend, freshness, skew, quarantine, plotly_js=plotly_js, notes=notes
    )


# -- order and formatting --------------------------------------------------------------


def _is_p_value(method: str) -> bool:
    return method in P_VALUE_METHODS


def _severity(feature: FeatureDrift) -> float:
    """How far the score lies past its threshold, as a log ratio (above 0: past it)."""
    score, threshold = feature.score, feature.threshold
    if score is None or not math.isfinite(score) or threshold <= 0:
        return -math.inf
    if _is_p_value(feature.method):  # the smaller, the worse
        return math.inf if score <= 0 else math.log(threshold / score)
    return -math.inf if score <= 0 else math.log(score / threshold)


def _scored(feature: FeatureDrift) -> bool:
    """Whether the feature was judged: by its score, or by an alert without one."""
    return feature.drifted is not None


def _alerts(feature: FeatureDrift) -> tuple[str, ...]:
    """Checks beyond the score that fired (a float column turned int)."""
    return tuple(getattr(feature, "alerts", ()) or ())


def _order(feature: FeatureDrift) -> tuple[int, float, str]:
    group = 2 if feature.drifted is None else 0 if feature.drifted else 1
    return group, -_severity(feature), feature.name


def _status(feature: FeatureDrift) -> tuple[str, str]:
    """(css class, label)."""
    if feature.drifted is None:
        return "unscored", "not scored"
    return ("bad", "drifted") if feature.drifted else ("good", "ok")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float | None, p_value: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return _MISSING
    if p_value and 0 < value < 1e-4:
        return f"{value:.1e}"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _pct(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return _MISSING
    return f"{value:.1%}" if value < 0.1 else f"{value:.0%}"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    moment = _utc(moment)
    midnight = not (moment.hour or moment.minute or moment.second or moment.microsecond)
    return f"{moment:%Y-%m-%d}" if midnight else f"{moment:%Y-%m-%d %H:%M}"


def _plot_time(moment: datetime) -> str:
    """A time as plotly.js reads it: UTC, without an offset (it parses none)."""
    return f"{_utc(moment):%Y-%m-%d %H:%M:%S}"


def _age(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return _MISSING
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            value = seconds / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"
    return f"{seconds:.0f} s"


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else max(seconds / 3600, _MIN_HOURS)


def _window(window: Window) -> str:
    """The window's label, and its dates unless the label says them."""
    start, end = _when(window.start), _when(window.end)
    if window.label and start in window.label:
        return _e(window.label)
    label = f"{_e(window.label)} " if window.label else ""
    return f"{label}<span class='muted'>{start} → {end}</span>"


def _anchor(name: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in name)[:40]
    return f"f-{slug}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def _score_text(feature: FeatureDrift) -> str:
    method, p_value = _e(feature.method), _is_p_value(feature.method)
    if feature.score is None:
        return f"{method}: no score"
    past = _severity(feature) > 0  # the score's side of the threshold (an alert aside)
    if p_value:
        sign = "&lt;" if past else "≥"
        return f"{method} p = {_num(feature.score, True)} {sign} {_num(feature.threshold, True)}"
    sign = "&gt;" if past else "≤"
    return f"{method} = {_num(feature.score)} {sign} {_num(feature.threshold)}"


def _panel(section: str, *parts: str) -> str:
    return f"<section id='{section}' class='panel'>{''.join(parts)}</section>"


def _title(text: str) -> dict[str, Any]:
    return {"text": text, "font": {"size": 13}, "x": 0, "xanchor": "left", "y": 0.98}


# -- the page's parts ------------------------------------------------------------------


class _Page:
    """The figures of a page: each becomes a ``<div class="plot">`` and a JSON spec."""

    def __init__(self) -> None:
        self.specs: list[dict[str, Any]] = []

    def plot(self, data: list[dict[str, Any]], layout: dict[str, Any], height: int) -> str:
        plot_id = f"plot-{len(self.specs) + 1}"
        merged = {**_LAYOUT, "xaxis": {}, "yaxis": {}, **layout, "height": height}
        for axis in ("xaxis", "yaxis"):
            merged[axis] = {**_AXIS, **merged[axis]}
        self.specs.append({"id": plot_id, "data": data, "layout": merged})
        return f"<div class='plot' id='{plot_id}' style='height:{height}px'></div>"


def _header(
    service: str, drift: DriftReport | None, trend: TrendReport | None, generated: datetime
) -> str:
    windows = []
    if drift:
        windows.append(f"<div><b>reference</b> {_window(drift.reference)}</div>")
        windows.append(f"<div><b>current</b> {_window(drift.current)}</div>")
    elif trend:
        windows.append(f"<div><b>reference</b> {_window(trend.reference)}</div>")
    windows.append(f"<div class='muted'>generated {_when(generated)} UTC</div>")
    return (
        "<header><div><div class='eyebrow'>Feature monitor</div>"
        f"<h1 id='service'>{_e(service)}</h1></div>"
        f"<div class='windows'>{''.join(windows)}</div></header>"
    )


def _stat(label: str, value: str, detail: str, tone: str, href: str) -> str:
    return (
        f"<a class='stat {tone}' href='#{href}'><div class='label'>{label}</div>"
        f"<div class='value'>{value}</div><div class='detail'>{detail}</div></a>"
    )


def _summary(
    features: list[FeatureDrift],
    freshness: Sequence[Freshness],
    skew: SkewReport | None,
    quarantine: Quarantine | None,
) -> str:
    scored = [f for f in features if _scored(f)]
    drifted = [f for f in scored if f.drifted]
    unscored = len(features) - len(scored)
    stale = [f for f in freshness if f.stale]
    drift_detail = "of the scored features" if scored else "no feature scored"
    unscored_detail = "see their reasons below" if unscored else "every feature scored"
    stale_detail = ", ".join(_e(f.view) for f in stale) or "every view within its objective"
    stats = [
        _stat(
            "drifted",
            f"<span id='drifted-count'>{len(drifted)}</span> / {len(scored)}",
            drift_detail,
            "bad" if drifted else "good",
            "overview",
        ),
        _stat(
            "not scored",
            f"<span id='unscored-count'>{unscored}</span>",
            unscored_detail,
            "warn" if unscored else "good",
            "overview",
        ),
        _stat(
            "stale views",
            f"<span id='stale-count'>{len(stale)}</span> / {len(freshness)}",
            stale_detail,
            "bad" if stale else "good",
            "freshness",
        ),
    ]
    if skew is not None:
        rated = [f for f in skew.features if f.differing_rate is not None]
        worst = max(rated, key=lambda f: f.differing_rate or 0.0, default=None)
        value = _pct(worst.differing_rate) if worst else _MISSING
        detail = f"worst: {_e(worst.feature)}" if worst else "no served values"
        tone = "bad" if worst and worst.differing else "good"
        stats.append(_stat("served values differing", value, detail, tone, "skew"))
    if quarantine:
        latest = [(table, rates[-1].rate or 0.0) for table, rates in quarantine.items() if rates]
        table, rate = max(latest, key=lambda item: item[1], default=("", 0.0))
        detail = f"latest period, {_e(table)}" if table else "nothing recorded"
        tone = "warn" if rate else "good"
        stats.append(_stat("quarantined", _pct(rate), detail, tone, "quarantine"))
    return f"<section class='stats'>{''.join(stats)}</section>"


def _overview(
    features: list[FeatureDrift], skews: Mapping[tuple[str, str], FeatureSkew], note: str
) -> str:
    if not features:
        text = _e(note) if note else "no drift results"
        return _panel("overview", "<h2>Features</h2>", f"<p class='muted note'>{text}</p>")
    rows = []
    for f in features:
        tone, label = _status(f)
        skew = skews.get((f.view, f.feature))
        skew_cell = f"<td class='num'>{_pct(skew.differing_rate) if skew else _MISSING}</td>"
        alerts = _alerts(f)
        alert = (
            f" <span class='badge bad' title='{_e('; '.join(alerts))}'>alert</span>"
            if alerts
            else ""
        )
        rows.append(
            f"<tr class='feature-row' data-feature='{_e(f.name)}'>"
            f"<td><span class='dot {tone}'></span>"
            f"<a class='ref' href='#{_anchor(f.name)}'>{_e(f.name)}</a></td>"
            f"<td>{_e(f.kind)}</td><td>{_score_text(f)}</td>"
            f"<td><span class='badge {tone}'>{label}</span>{alert}</td>"
            f"<td class='num'>{f.reference_rows:,}</td><td class='num'>{f.current_rows:,}</td>"
            f"{skew_cell if skews else ''}</tr>"
        )
    skew_head = "<th class='num'>served values differing</th>" if skews else ""
    head = (
        "<tr><th>feature</th><th>kind</th><th>score</th><th>status</th>"
        "<th class='num'>reference rows</th><th class='num'>current rows</th>"
        f"{skew_head}</tr>"
    )
    return (
        "<section id='overview' class='panel'><h2>Features, worst first</h2>"
        f"<table class='grid'>{head}{''.join(rows)}</table></section>"
    )


def _facts(feature: FeatureDrift, trend: FeatureTrend | None, skew: FeatureSkew | None) -> str:
    facts = [
        f"reference {feature.reference_rows:,} rows",
        f"current {feature.current_rows:,} rows",
    ]
    for name, histogram in (("reference", feature.reference), ("current", feature.current)):
        if histogram is not None and histogram.nulls:
            facts.append(f"{name} nulls {histogram.nulls:,}")
    if trend and trend.first_drifted:
        facts.append(f"first drifted period: {_when(trend.first_drifted.start)}")
    if skew is not None:
        text = f"{_pct(skew.differing_rate)} of {skew.served:,} served values differ"
        if skew.distance is not None and skew.distance.value is not None:
            text += f" ({_e(skew.distance.method)} {_num(skew.distance.value)} to training)"
        facts.append(text)
    scores = []
    for score in feature.scores.values():
        if score.value is None:
            scores.append(f"{_e(score.method)} <span title='{_e(score.reason)}'>n/a</span>")
        else:
            scores.append(f"{_e(score.method)} {_num(score.value, _is_p_value(score.method))}")
    line = f"<p class='facts'>{' · '.join(facts)}</p>"
    return line + (f"<p class='facts muted'>all scores: {' · '.join(scores)}</p>" if scores else "")


def _feature_card(
    page: _Page,
    feature: FeatureDrift,
    trend: FeatureTrend | None,
    skew: FeatureSkew | None,
    trend_note: str = "no trend computed",
) -> str:
    tone, label = _status(feature)
    reason = f"<p class='reason'>{_e(feature.reason)}</p>" if feature.reason else ""
    reason += "".join(f"<p class='alert'>{_e(alert)}</p>" for alert in _alerts(feature))
    if feature.reference is not None or feature.current is not None:
        histogram = _histogram_plot(page, feature)
    else:
        histogram = "<div class='placeholder'>no histograms to compare</div>"
    if trend is not None and trend.points:
        over_time = _trend_plot(page, trend)
    else:
        over_time = f"<div class='placeholder'>{_e(trend_note)}</div>"
    return (
        f"<section class='panel feature {tone}' id='{_anchor(feature.name)}' "
        f"data-feature='{_e(feature.name)}'><div class='feature-head'>"
        f"<h3 class='ref'>{_e(feature.name)}</h3><span class='pill'>{_e(feature.kind)}</span>"
        f"<span class='badge {tone}'>{label}</span>"
        f"<span class='score'>{_score_text(feature)}</span></div>"
        f"{reason}{_facts(feature, trend, skew)}"
        f"<div class='plots'>{histogram}{over_time}</div></section>"
    )


def _finite_edges(edges: Sequence[float]) -> list[float]:
    """Bin edges to draw: an infinite outer edge becomes its neighbour ± a typical width."""
    out = [float(e) for e in edges]
    finite = [e for e in out if math.isfinite(e)]
    if not finite:
        return [float(i) for i in range(len(out))]
    width = (max(finite) - min(finite)) / max(len(finite) - 1, 1) or 1.0
    return [
        e if math.isfinite(e) else max(finite) + width if e > 0 else min(finite) - width
        for e in out
    ]


def _bars(
    histogram: Histogram, name: str, color: str, labels: Sequence[str] | None
) -> dict[str, Any]:
    """One window's histogram as bars of shares of its non-null rows; ``labels``: the
    categorical labels to draw, in order."""
    total = histogram.total or 1
    if labels is not None:
        counts_by_label = dict(zip(histogram.labels or (), histogram.counts, strict=False))
        counts = [counts_by_label.get(label, 0) for label in labels]
        x: list[Any] = [_e(label) for label in labels]
        text = x
        width = None
    else:
        counts = list(histogram.counts)
        raw = list(histogram.edges or range(len(counts) + 1))
        edges = _finite_edges(raw)
        x = [(a + b) / 2 for a, b in pairwise(edges)]
        width = [b - a for a, b in pairwise(edges)]
        text = [f"{_num(a)} to {_num(b)}" for a, b in pairwise(raw)]
    trace: dict[str, Any] = {
        "type": "bar",
        "name": name,
        "x": x,
        "y": [count / total for count in counts],
        "customdata": counts,
        "text": text,
        "textposition": "none",
        "marker": {"color": color, "line": {"width": 0}},
        "opacity": 0.6,
        "hovertemplate": f"{name}<br>%{{text}}: %{{customdata:,}} rows (%{{y:.1%}})<extra></extra>",
    }
    if width is not None:
        trace["width"] = width
    return trace


def _top_labels(feature: FeatureDrift) -> tuple[list[str], int]:
    """The categorical labels to draw (by their largest share in either window), and how
    many there are."""
    shares: dict[str, float] = {}
    for histogram in (feature.reference, feature.current):
        if histogram is None or histogram.labels is None:
            continue
        total = histogram.total or 1
        for label, count in zip(histogram.labels, histogram.counts, strict=False):
            shares[label] = max(shares.get(label, 0.0), count / total)
    ranked = sorted(shares, key=lambda label: (-shares[label], label))
    return ranked[:MAX_CATEGORIES], len(ranked)


def _histogram_plot(page: _Page, feature: FeatureDrift) -> str:
    windows = [
        (name, histogram, color)
        for name, histogram, color in (
            ("reference", feature.reference, _REFERENCE),
            ("current", feature.current, _CURRENT),
        )
        if histogram is not None
    ]
    categorical = any(h.labels is not None and h.edges is None for _, h, _ in windows)
    title = "reference vs current: share of rows per bin"
    labels: list[str] | None = None
    if categorical:
        labels, known = _top_labels(feature)
        title = "reference vs current: share of rows per value"
        if known > len(labels):
            title += f" (the top {len(labels)} of {known})"
    traces = [_bars(histogram, name, color, labels) for name, histogram, color in windows]
    layout = {
        "title": _title(title),
        "barmode": "overlay",
        "bargap": 0.08,
        "yaxis": {"tickformat": ".0%", "rangemode": "tozero"},
        "xaxis": {"type": "category"} if categorical else {},
    }
    return page.plot(traces, layout, 280)


def _trend_plot(page: _Page, trend: FeatureTrend) -> str:
    p_value = _is_p_value(trend.method)
    method = _e(trend.method)
    xs = [_plot_time(point.start) for point in trend.points]
    ys = [
        None if p.score is None else max(p.score, _P_FLOOR) if p_value else p.score
        for p in trend.points
    ]
    hover = [
        f"{_when(p.start)} → {_when(p.end)}<br>"
        + (f"{method} {_num(p.score, p_value)}" if p.score is not None else "not enough data")
        + f"<br>{p.rows:,} rows"
        for p in trend.points
    ]
    score = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": f"{method} score",
        "x": xs,
        "y": ys,
        "text": hover,
        "hovertemplate": "%{text}<extra></extra>",
        "connectgaps": False,
        "line": {"color": _CURRENT, "width": 2},
        "marker": {"color": [_BAD if p.drifted else _CURRENT for p in trend.points], "size": 7},
    }
    threshold = {
        "type": "scatter",
        "mode": "lines",
        "name": f"threshold {_num(trend.threshold, p_value)}",
        "meta": "threshold",
        "x": [xs[0], _plot_time(trend.points[-1].end)],  # a single period's too
        "y": [trend.threshold, trend.threshold],
        "line": {"color": _BAD, "width": 1.5, "dash": "dash"},
        "hoverinfo": "skip",
    }
    title = f"{method} per period" + (" (a p-value: below the line is drift)" if p_value else "")
    yaxis: dict[str, Any] = {"title": {"text": "p-value" if p_value else "score"}}
    yaxis |= {"type": "log", "exponentformat": "power"} if p_value else {"rangemode": "tozero"}
    layout = {"title": _title(title), "yaxis": yaxis, "xaxis": {"type": "date"}}
    return page.plot([score, threshold], layout, 280)


def _event_age(freshness: Freshness) -> float | None:
    if freshness.newest_event is None:
        return None
    return (_utc(freshness.checked_at) - _utc(freshness.newest_event)).total_seconds()


def _freshness_ratio(freshness: Freshness) -> float:
    age = freshness.served_age_seconds
    if age is None or freshness.objective_seconds <= 0:
        return math.inf if freshness.stale else 0.0
    return age / freshness.objective_seconds


def _age_bars(
    name: str, views: Sequence[Freshness], ages: Sequence[float | None], color: str, late: str
) -> dict[str, Any]:
    """Bars of ages in hours, ``late`` where past the view's objective."""
    past = [a is not None and a > f.objective_seconds for a, f in zip(ages, views, strict=True)]
    return {
        "type": "bar",
        "orientation": "h",
        "name": name,
        "y": [_e(f.view) for f in views],
        "x": [_hours(a) for a in ages],
        "text": [_age(a) for a in ages],
        "textposition": "none",
        "marker": {"color": [late if p else color for p in past]},
        "hovertemplate": f"%{{y}}<br>{name}: %{{text}}<extra></extra>",
    }


def _freshness_section(page: _Page, freshness: Sequence[Freshness]) -> str:
    title = "<h2>Freshness</h2>"
    if not freshness:
        return _panel("freshness", title, "<p class='muted'>no views</p>")
    views = sorted(freshness, key=lambda f: (not f.stale, -_freshness_ratio(f), f.view))
    objective = {
        "type": "scatter",
        "mode": "markers",
        "name": "objective",
        "y": [_e(f.view) for f in views],
        "x": [_hours(f.objective_seconds) for f in views],
        "text": [_age(f.objective_seconds) for f in views],
        "marker": {"symbol": "line-ns-open", "size": 26, "color": _INK, "line": {"width": 3}},
        "hovertemplate": "%{y}<br>objective: %{text}<extra></extra>",
    }
    data = [
        _age_bars("served age", views, [f.served_age_seconds for f in views], _CURRENT, _BAD),
        _age_bars(
            "newest offline event's age",
            views,
            [_event_age(f) for f in views],
            _REFERENCE,
            _LATE_OFFLINE,
        ),
        objective,
    ]
    layout = {
        "title": _title("age per view (log scale): red is past the objective"),
        "barmode": "group",
        "xaxis": {"type": "log", "tickvals": _AGE_TICKS, "ticktext": _AGE_LABELS},
        "yaxis": {"autorange": "reversed"},
        "margin": {**_MARGIN, "l": 140},
    }
    plot = page.plot(data, layout, max(220, 90 + 56 * len(views)))
    rows = "".join(
        f"<tr class='freshness-row' data-view='{_e(f.view)}'><td class='ref'>{_e(f.view)}</td>"
        f"<td><span class='badge {'bad' if f.stale else 'good'}'>"
        f"{'stale' if f.stale else 'fresh'}</span></td>"
        f"<td>{_when(f.newest_event)}</td><td>{_when(f.last_materialized)}</td>"
        f"<td class='num'>{_age(f.served_age_seconds)}</td>"
        f"<td class='num'>{_age(f.objective_seconds)}</td>"
        f"<td class='muted'>{_e(f.objective_source)}</td></tr>"
        for f in views
    )
    head = (
        "<tr><th>view</th><th>status</th><th>newest event offline</th>"
        "<th>last materialization</th><th class='num'>served age</th>"
        "<th class='num'>objective</th><th>objective from</th></tr>"
    )
    checked = _when(max(f.checked_at for f in views))
    return (
        f"<section id='freshness' class='panel'>{title}<p class='muted'>checked {checked} UTC</p>"
        f"{plot}<table class='grid'>{head}{rows}</table></section>"
    )


def _distance(skew: FeatureSkew) -> str:
    if skew.distance is None:
        return _MISSING
    if skew.distance.value is None:
        return _e(skew.distance.reason or "not computed")
    return f"{_e(skew.distance.method)} {_num(skew.distance.value)}"


def _skew_section(page: _Page, skew: SkewReport | None, note: str) -> str:
    title = "<h2>Training/serving skew</h2>"
    if skew is None:
        text = _e(note) if note else "no skew results"
        return f"<section id='skew' class='panel'>{title}<p class='muted note'>{text}</p></section>"
    features = sorted(skew.features, key=lambda f: (-(f.differing_rate or 0.0), f.view, f.feature))
    intro = (
        f"<p class='muted'>{skew.requests:,} logged requests, {_window(skew.window)}: the share "
        "of served values that differ from a point-in-time join of the same requests</p>"
    )
    if not features:
        return f"<section id='skew' class='panel'>{title}{intro}</section>"
    bars = {
        "type": "bar",
        "orientation": "h",
        "name": "differing",
        "y": [_e(f"{f.view}:{f.feature}") for f in features],
        "x": [f.differing_rate for f in features],
        "customdata": [[f.differing, f.served] for f in features],
        "marker": {"color": [_BAD if f.differing else _GOOD for f in features]},
        "hovertemplate": "%{y}<br>%{x:.2%} differ: %{customdata[0]:,} of %{customdata[1]:,}"
        "<extra></extra>",
    }
    layout = {
        "title": _title("share of served values that differ"),
        "xaxis": {"tickformat": ".0%", "rangemode": "tozero"},
        "yaxis": {"autorange": "reversed"},
        "margin": {**_MARGIN, "l": 200},
        "showlegend": False,
    }
    plot = page.plot([bars], layout, max(200, 80 + 28 * len(features)))
    rows = "".join(
        f"<tr class='skew-row'><td class='ref'>{_e(f.view)}:{_e(f.feature)}</td>"
        f"<td class='num'>{f.served:,}</td><td class='num'>{f.differing:,}</td>"
        f"<td class='num'>{_pct(f.differing_rate)}</td><td>{_distance(f)}</td></tr>"
        for f in features
    )
    head = (
        "<tr><th>feature</th><th class='num'>served</th><th class='num'>differing</th>"
        "<th class='num'>rate</th><th>distance to the training set</th></tr>"
    )
    return (
        f"<section id='skew' class='panel'>{title}{intro}{plot}"
        f"<table class='grid'>{head}{rows}</table></section>"
    )


def _top_rules(counts: Mapping[str, int], n: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]


def _quarantine_section(page: _Page, quarantine: Quarantine | None, note: str) -> str:
    title = "<h2>Quarantine</h2>"
    if not quarantine:
        if not note:
            return ""
        return _panel("quarantine", title, f"<p class='muted note'>{_e(note)}</p>")
    data, rows = [], []
    for i, (table, rates) in enumerate(sorted(quarantine.items())):
        hover = [
            f"{_when(p.start)} → {_when(p.end)}<br>{p.quarantined:,} of {p.rows_in:,} rows"
            + "".join(f"<br>{_e(rule)}: {count:,}" for rule, count in _top_rules(p.by_rule, 5))
            for p in rates
        ]
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _e(table),
                "x": [_plot_time(p.start) for p in rates],
                "y": [p.rate for p in rates],
                "text": hover,
                "hovertemplate": "%{text}<extra></extra>",
                "line": {"color": _PALETTE[i % len(_PALETTE)], "width": 2},
            }
        )
        rules: dict[str, int] = {}
        for p in rates:
            for rule, count in p.by_rule.items():
                rules[rule] = rules.get(rule, 0) + count
        top = ", ".join(f"{_e(rule)} ({count:,})" for rule, count in _top_rules(rules, 3))
        held, arrived = sum(p.quarantined for p in rates), sum(p.rows_in for p in rates)
        rows.append(
            f"<tr class='quarantine-row'><td class='ref'>{_e(table)}</td>"
            f"<td class='num'>{_pct(rates[-1].rate if rates else None)}</td>"
            f"<td class='num'>{held:,} / {arrived:,}</td><td>{top or _MISSING}</td></tr>"
        )
    layout = {
        "title": _title("share of arriving rows quarantined, per period"),
        "yaxis": {"tickformat": ".1%", "rangemode": "tozero"},
        "xaxis": {"type": "date"},
    }
    plot = page.plot(data, layout, 280)
    head = (
        "<tr><th>table</th><th class='num'>latest rate</th>"
        "<th class='num'>quarantined / arrived</th><th>top rules</th></tr>"
    )
    return (
        f"<section id='quarantine' class='panel'>{title}{plot}"
        f"<table class='grid'>{head}{''.join(rows)}</table></section>"
    )


# -- the document ----------------------------------------------------------------------

_CSS = """
:root { --ink:#1d2330; --muted:#667085; --line:#e4e7ec; --accent:#2f6fed; --bg:#f7f8fa;
  --bad:#d92d20; --bad-bg:#fef3f2; --good:#067647; --good-bg:#ecfdf3;
  --warn:#b54708; --warn-bg:#fffaeb; }
* { box-sizing:border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color:var(--ink); background:var(--bg); }
header { padding:18px 28px; background:#fff; border-bottom:1px solid var(--line);
  display:flex; justify-content:space-between; align-items:flex-end; gap:24px; flex-wrap:wrap; }
header h1 { font:600 22px/1.2 ui-monospace, Menlo, Consolas, monospace; margin:2px 0 0; }
.eyebrow { font-size:12px; text-transform:uppercase; letter-spacing:.06em; color:var(--muted); }
.windows { text-align:right; font-size:13px; }
main { max-width:1320px; margin:0 auto; padding:20px 28px 48px;
  display:flex; flex-direction:column; gap:16px; }
.stats { display:grid; grid-template-columns:repeat(auto-fit, minmax(190px, 1fr)); gap:12px; }
.stat { display:block; text-decoration:none; color:inherit; background:#fff;
  border:1px solid var(--line); border-left:4px solid var(--line); border-radius:8px;
  padding:12px 14px; }
.stat.bad { border-left-color:var(--bad); } .stat.good { border-left-color:var(--good); }
.stat.warn { border-left-color:var(--warn); }
.stat .label { font-size:12px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
.stat .value { font-size:26px; font-weight:600; margin:2px 0; font-variant-numeric:tabular-nums; }
.stat .detail { font-size:12px; color:var(--muted); overflow:hidden; text-overflow:ellipsis;
  white-space:nowrap; }
.panel { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 18px; }
.panel.feature.bad { border-left:4px solid var(--bad); }
.panel.feature.unscored { border-left:4px solid var(--warn); }
h2 { font-size:13px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted);
  margin:0 0 10px; }
.feature-head { display:flex; align-items:center; gap:10px; flex-wrap:wrap; }
.feature-head h3 { margin:0; font-size:16px; }
.feature-head .score { margin-left:auto; font-variant-numeric:tabular-nums; }
.ref { font-family:ui-monospace, Menlo, Consolas, monospace; }
a.ref { color:var(--accent); text-decoration:none; } a.ref:hover { text-decoration:underline; }
.pill { padding:1px 8px; border-radius:10px; background:#eef3ff; color:var(--accent);
  font-size:12px; }
.badge { padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; }
.badge.bad { background:var(--bad-bg); color:var(--bad); }
.badge.good { background:var(--good-bg); color:var(--good); }
.badge.unscored { background:var(--warn-bg); color:var(--warn); }
.dot { display:inline-block; width:8px; height:8px; border-radius:50%; margin-right:8px; }
.dot.bad { background:var(--bad); } .dot.good { background:var(--good); }
.dot.unscored { background:var(--warn); }
.facts { margin:8px 0 0; font-size:13px; }
.reason { margin:8px 0 0; padding:6px 10px; background:var(--warn-bg); color:var(--warn);
  border-radius:6px; }
.alert { margin:8px 0 0; padding:6px 10px; background:var(--bad-bg); color:var(--bad);
  border-radius:6px; font-weight:600; }
.muted { color:var(--muted); }
.plots { display:grid; grid-template-columns:1fr 1fr; gap:12px; margin-top:10px; }
.placeholder { display:flex; align-items:center; justify-content:center; min-height:120px;
  border:1px dashed var(--line); border-radius:6px; color:var(--muted); }
table.grid { border-collapse:collapse; width:100%; margin-top:8px; }
.grid td, .grid th { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); }
.grid th { color:var(--muted); font-weight:500; font-size:12px; }
.grid .num { text-align:right; font-variant-numeric:tabular-nums; }
#plotly-missing { display:none; margin:0; padding:10px 28px; background:var(--bad-bg);
  color:var(--bad); }
@media (max-width: 900px) { .plots { grid-template-columns:1fr; } .windows { text-align:left; } }
"""

_SCRIPT = """
(function () {
  const body = document.body;
  if (typeof Plotly === "undefined") {
    document.getElementById("plotly-missing").style.display = "block";
    body.dataset.ready = "error";
    return;
  }
  const specs = JSON.parse(document.getElementById("plots").textContent);
  const config = { displayModeBar: false, responsive: true };
  Promise.all(specs.map((s) => Plotly.newPlot(s.id, s.data, s.layout, config)))
    .then(() => { body.dataset.ready = "true"; })
    .catch((error) => { body.dataset.ready = "error"; console.error(error); });
})();
"""


def _document(service: str, header: str, main: str, page: _Page, plotly_js: str) -> str:
    from plotly.io.json import to_json_plotly  # escapes <, > and /: safe inside a script

    if plotly_js == PLOTLY_INLINE:
        from plotly.offline import get_plotlyjs

        script = f"<script>{get_plotlyjs()}</script>"
    else:
        script = f"<script src='{_e(plotly_js)}'></script>"
    return (
        "<!doctype html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{_e(service)} · feature monitor</title>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<link rel='icon' href='data:,'>\n<style>{_CSS}</style>\n{script}\n</head>\n<body>\n"
        "<p id='plotly-missing'>The plots need plotly.js, which did not load.</p>\n"
        f"{header}\n<main>\n{main}\n</main>\n"
        f"<script type='application/json' id='plots'>{to_json_plotly(page.specs)}</script>\n"
        f"<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )
