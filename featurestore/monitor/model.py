"""The results of the monitor's checks: plain data, the same for the CLI's tables, the
JSON reports, the webhook's body and the HTML report.

Every result has ``to_json()`` (JSON-ready dicts: times as ISO strings, no NaN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from typing import Any, Literal

Kind = Literal["numeric", "categorical"]
_DERIVED = ("name", "mismatch_rate", "differing_rate")  # properties the JSON carries too


@dataclass(frozen=True)
class Window:
    """``[start, end)`` of event time; ``label`` says where it came from
    (``training set train.parquet``, ``2013-01-01..2013-02-01``, ``previous period``)."""

    start: datetime
    end: datetime
    label: str = ""


@dataclass(frozen=True)
class Histogram:
    """Counts per bin: numeric bins have ``edges`` (one more than counts; the last bin
    holds its right edge), categorical ones ``labels``. ``nulls`` are not in any bin."""

    counts: tuple[int, ...]
    edges: tuple[float, ...] | None = None
    labels: tuple[str, ...] | None = None
    nulls: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class Score:
    """One metric's result; ``value`` is ``None`` when it could not be computed and
    ``reason`` says why (``not enough data: 3 current rows, ks needs 1``)."""

    method: str
    value: float | None
    p_value: float | None = None
    reason: str = ""
    statistic: float | None = None  # ks: D; chisquare: the chi-square statistic


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's drift between a reference and a current window. ``score`` is the
    chosen ``method``'s value (a p-value for ks and chisquare); ``drifted`` is ``None``
    when it could not be computed."""

    view: str
    feature: str
    kind: Kind
    method: str
    threshold: float
    score: float | None
    drifted: bool | None
    reference_rows: int
    current_rows: int
    scores: dict[str, Score] = field(default_factory=dict)  # every metric of the kind
    reference: Histogram | None = None
    current: Histogram | None = None
    reason: str = ""
    alerts: tuple[str, ...] = ()  # checks beyond the score (a float column turned int)

    @property
    def name(self) -> str:
        return f"{self.view}:{self.feature}"


@dataclass(frozen=True)
class DriftReport:
    reference: Window
    current: Window
    features: list[FeatureDrift]
    feature_service: str | None = None

    @property
    def drifted(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.drifted]

    def to_json(self) -> dict[str, Any]:
        return to_json(self)


@dataclass(frozen=True)
class TrendPoint:
    """One period's drift score against the reference (``None``: not enough data)."""

    start: datetime
    end: datetime
    rows: int
    score: float | None
    drifted: bool | None


@dataclass(frozen=True)
class FeatureTrend:
    view: str
    feature: str
    method: str
    threshold: float
    points: list[TrendPoint]

    @property
    def first_drifted(self) -> TrendPoint | None:
        return next((p for p in self.points if p.drifted), None)


@dataclass(frozen=True)
class TrendReport:
    reference: Window
    period: Literal["day", "week"]
    features: list[FeatureTrend]
    feature_service: str | None = None

    def to_json(self) -> dict[str, Any]:
        return to_json(self)


@dataclass(frozen=True)
class FeatureStats:
    """A feature's statistics over a window, merged from its partitions' statistics.
    ``quantiles`` maps 0.5 -> median and so on; ``top`` holds (value, count) pairs.

    ``kind`` is numeric, categorical (strings, booleans) or other (times, ...). A numeric
    histogram has 22 bins: below the table's first edge, 20 equal-width bins (the last
    holds the top edge) and above it; its edges start with -inf and end with +inf.
    ``whole_numbers`` counts numeric values equal to their rounding (a float column
    turned int shows as ``whole_share`` 1.0); ``other`` counts the values outside ``top``.
    """

    table: str
    column: str
    type: str
    count: int
    nulls: int
    distinct: int | None = None
    min: float | str | None = None
    max: float | str | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[float, float] = field(default_factory=dict)
    top: list[tuple[str, int]] = field(default_factory=list)
    histogram: Histogram | None = None
    kind: str = ""
    whole_numbers: int | None = None
    whole_share: float | None = None
    other: int = 0
    distinct_exact: bool = False  # ``distinct`` is a count, not an estimate
    partitions: int = 0  # merged


@dataclass(frozen=True)
class QuarantinePoint:
    """One partition's rows against those the run that wrote it quarantined.

    ``rows_in`` counts the partition's good rows plus its quarantined ones; ``rate`` is
    ``quarantined / rows_in``. ``recorded`` is False when no run left its counts (a table
    written before statistics existed, or a crash right after the commit): the good rows
    are then the partition's, and the quarantined ones those in the quarantine file of
    the table's current version, if any.
    """

    start: datetime
    end: datetime
    rows_in: int
    quarantined: int
    rate: float | None
    by_rule: dict[str, int] = field(default_factory=dict)
    run_id: str | None = None
    recorded: bool = True


@dataclass(frozen=True)
class Freshness:
    """A view's freshness at ``checked_at``: the newest event offline, the end of the
    last materialization, the age of what is served, against its objective."""

    view: str
    checked_at: datetime
    objective_seconds: float
    newest_event: datetime | None
    last_materialized: datetime | None
    served_age_seconds: float | None
    stale: bool
    objective_source: str = ""  # "monitor.freshness", "job header", "ttl", "schedule"
    note: str = ""  # why something is unknown: "never materialized", "no rows offline"...


@dataclass(frozen=True)
class FeatureConsistency:
    """Sampled entities' online values against the offline latest at the same time."""

    view: str
    feature: str
    sampled: int
    mismatches: int
    missing_online: int

    @property
    def mismatch_rate(self) -> float | None:
        return self.mismatches / self.sampled if self.sampled else None


@dataclass(frozen=True)
class FeatureSkew:
    """Served values against what a point-in-time join of the same requests gives."""

    view: str
    feature: str
    served: int
    differing: int
    distance: Score | None = None
    statuses: dict[str, int] = field(default_factory=dict)  # served rows by status

    @property
    def differing_rate(self) -> float | None:
        return self.differing / self.served if self.served else None


@dataclass(frozen=True)
class SkewReport:
    feature_service: str
    window: Window
    requests: int
    features: list[FeatureSkew]

    def to_json(self) -> dict[str, Any]:
        return to_json(self)


def to_json(result: object) -> Any:
    """A result as JSON-ready data: dataclasses as dicts, datetimes as ISO strings,
    NaN and infinities as ``None``, float keys as strings."""
    if is_dataclass(result) and not isinstance(result, type):
        data = {f.name: getattr(result, f.name) for f in fields(result)}
        for name in _DERIVED:
            if hasattr(result, name) and name not in data:
                data[name] = getattr(result, name)
        return to_json(data)
    if isinstance(result, dict):
        return {str(k): to_json(v) for k, v in result.items()}
    if isinstance(result, list | tuple):
        return [to_json(v) for v in result]
    if isinstance(result, datetime):
        return result.isoformat()
    if isinstance(result, float) and not math.isfinite(result):
        return None
    return result
