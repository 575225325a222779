"""Drift metrics between two distributions of one feature: PSI, Jensen-Shannon, normed
Wasserstein, Kolmogorov-Smirnov and chi-square.

A ``Distribution`` is a window's values as *counts*: the distinct values (numeric:
sorted floats; categorical: labels) and how often each occurs. The monitor's scan gets
them from one DuckDB ``GROUP BY`` (``featurestore.monitor.drift``), so no metric ever
holds a window's rows; for the same rows every metric equals the reference
implementation on the raw samples:

    ks             ``scipy.stats.ks_2samp(ref, cur)`` (``method="auto"``): the statistic
                   from the two step CDFs, the p-value by scipy's exact or asymptotic path
    wasserstein    ``scipy.stats.wasserstein_distance(ref, cur) / max(std(ref), 0.001)``
                   (Evidently's ``wasserstein``: normed by the reference's population std)
    psi            Evidently's ``psi``: ``sum((r - c) * ln(r / c))`` over the bins below, an
                   empty bin's share replaced by 0.0001 (or its side's smallest share / 1e6)
    jensenshannon  Evidently's ``jensenshannon``: ``scipy.spatial.distance.jensenshannon``
                   (natural log) of the bins' shares, nothing replaced
    chisquare      Evidently's ``chisquare``: ``scipy.stats.chisquare`` of the current
                   counts against the reference's scaled to the current total; a p-value

Bins (psi, jensenshannon) are Evidently's: a numeric feature whose reference has more
than 20 distinct values gets Sturges' equal-width bins over the two windows' combined
range (``numpy.histogram_bin_edges(..., bins="sturges")``); otherwise, and for
categorical features, one bin per distinct value of either window.

A distribution built from a quantized scan (``exact=False``: some of its distinct
"values" stand for several close values, at their mean) gives the same metrics to within
the quantum: KS within the largest quantum's mass, Wasserstein within the quantum's
width over the reference's std.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.spatial import distance
from scipy.stats import _stats_py  # ks_2samp's exact p-value (pinned scipy, tested)

from featurestore.monitor.config import (
    CATEGORICAL_METHODS,
    NUMERIC_METHODS,
    P_VALUE_METHODS,
    DriftRule,
)
from featurestore.monitor.model import Kind, Score

# The fewest non-null rows each window needs for a metric to mean something.
MIN_ROWS = {"ks": 1, "wasserstein": 2, "psi": 10, "jensenshannon": 10, "chisquare": 5}
_FEW_DISTINCT = 20  # Evidently: up to this many reference values, one bin per value
_STD_FLOOR = 0.001  # Evidently's floor of the Wasserstein norm
_KS_EXACT_UP_TO = 10_000  # ks_2samp(method="auto"): exact up to this many rows a side


@dataclass(frozen=True)
class Distribution:
    """One window's non-null values of one feature, as distinct values and counts.

    ``values`` is sorted (numeric: float64; categorical: str objects) and aligned with
    ``counts``. ``whole`` counts numeric values that are whole numbers; ``total`` and
    ``squares`` are the sum and sum of squares of the values (used for the standard
    deviation when the distribution is quantized)."""

    kind: Kind
    values: np.ndarray
    counts: np.ndarray
    nulls: int = 0
    exact: bool = True
    whole: int = 0
    total: float = 0.0
    squares: float = 0.0

    @property
    def rows(self) -> int:
        return int(self.counts.sum())

    @property
    def distinct(self) -> int:
        return len(self.values)

    def std(self) -> float:
        """The population standard deviation (``numpy.std``, ``ddof=0``)."""
        n = self.rows
        if n == 0:
            return math.nan
        if self.exact:
            weights = self.counts.astype(np.float64)
            mean = float(np.dot(self.values, weights) / n)
            return math.sqrt(float(np.dot((self.values - mean) ** 2, weights) / n))
        mean = self.total / n
        return math.sqrt(max(self.squares / n - mean * mean, 0.0))


def from_values(kind: Kind, values: Sequence[object] | np.ndarray) -> Distribution:
    """A distribution of raw values; ``None`` and NaN (and infinities) are nulls."""
    if kind == "numeric":
        if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
            array = values.astype(np.float64)
        else:
            array = np.array([np.nan if v is None else float(v) for v in values])  # type: ignore[arg-type]
        finite = array[np.isfinite(array)]
        unique, counts = np.unique(finite, return_counts=True)
        return Distribution(
            kind,
            unique,
            counts.astype(np.int64),
            nulls=len(array) - len(finite),
            whole=int(np.count_nonzero(finite == np.round(finite))),
            total=float(finite.sum()),
            squares=float(np.dot(finite, finite)),
        )
    labels = [str(v) for v in values if v is not None and not _is_nan(v)]
    unique_labels, counts = np.unique(np.asarray(labels, dtype=object), return_counts=True)
    return Distribution(
        kind, unique_labels.astype(object), counts.astype(np.int64), nulls=len(values) - len(labels)
    )


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def methods(kind: Kind) -> tuple[str, ...]:
    return NUMERIC_METHODS if kind == "numeric" else CATEGORICAL_METHODS


def score(method: str, reference: Distribution, current: Distribution) -> Score:
    """``method``'s score of ``current`` against ``reference`` (same kind), or a
    ``Score`` without a value whose ``reason`` says why it cannot be computed."""
    kind = reference.kind
    if method not in methods(kind):
        known = ", ".join(methods(kind))
        return Score(method, None, reason=f"{method} is not a {kind} metric (use {known})")
    need = MIN_ROWS[method]
    for side, dist in (("reference", reference), ("current", current)):
        if dist.rows < need:
            return Score(
                method,
                None,
                reason=f"not enough data: {dist.rows:,} non-null {side} rows, {method} needs "
                f"{need:,}",
            )
    if method == "ks":
        statistic, p_value = _ks(reference, current)
        return Score(method, p_value, p_value=p_value, statistic=statistic)
    if method == "wasserstein":
        return Score(method, _wasserstein(reference, current))
    if method == "chisquare":
        statistic, p_value = _chisquare(reference, current)
        return Score(method, p_value, p_value=p_value, statistic=statistic)
    ref_share, cur_share = binned_shares(reference, current, fill_zeroes=method == "psi")
    if method == "psi":
        return Score(method, float(np.sum((ref_share - cur_share) * np.log(ref_share / cur_share))))
    return Score(method, float(distance.jensenshannon(ref_share, cur_share)))


def compare_values(
    kind: Kind,
    reference: Sequence[object] | np.ndarray,
    current: Sequence[object] | np.ndarray,
    method: str | None = None,
) -> Score:
    """Score raw samples (``method`` ``None``: the ``auto`` rule's choice)."""
    ref, cur = from_values(kind, reference), from_values(kind, current)
    chosen = method or DriftRule().resolve(kind, ref.rows)[0]
    return score(chosen, ref, cur)


def is_drift(method: str, value: float, threshold: float) -> bool:
    """A p-value drifts below its threshold, a distance at or above it."""
    return value < threshold if method in P_VALUE_METHODS else value >= threshold


def sturges_edges(reference: Distribution, current: Distribution) -> np.ndarray:
    """``numpy.histogram_bin_edges(concat(ref, cur), bins="sturges")`` from the counts."""
    first = float(min(reference.values[0], current.values[0]))
    last = float(max(reference.values[-1], current.values[-1]))
    size = reference.rows + current.rows
    ptp = last - first
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = ptp / (np.log2(size) + 1.0)
    bins = int(np.ceil((last - first) / width)) if width else 1
    return np.linspace(first, last, bins + 1, endpoint=True)


def binned_shares(
    reference: Distribution, current: Distribution, *, fill_zeroes: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Each bin's share of the reference's and of the current window's rows (Evidently's
    ``get_binned_data``)."""
    if reference.kind == "numeric" and reference.distinct > _FEW_DISTINCT:
        edges = sturges_edges(reference, current)
        ref_counts = np.histogram(reference.values, edges, weights=reference.counts)[0]
        cur_counts = np.histogram(current.values, edges, weights=current.counts)[0]
    else:
        ref_counts, cur_counts = _aligned(reference, current)
    ref_share = np.asarray(ref_counts, dtype=np.float64) / reference.rows
    cur_share = np.asarray(cur_counts, dtype=np.float64) / current.rows
    if fill_zeroes:
        ref_share, cur_share = _fill_zeroes(ref_share), _fill_zeroes(cur_share)
    return ref_share, cur_share


def _fill_zeroes(share: np.ndarray) -> np.ndarray:
    smallest = float(share[share != 0].min())
    return np.where(share == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001, share)


def _aligned(reference: Distribution, current: Distribution) -> tuple[np.ndarray, np.ndarray]:
    """Both windows' counts over the union of their distinct values (sorted)."""
    keys = np.union1d(reference.values, current.values)
    ref = np.zeros(len(keys), dtype=np.int64)
    cur = np.zeros(len(keys), dtype=np.int64)
    ref[np.searchsorted(keys, reference.values)] = reference.counts
    cur[np.searchsorted(keys, current.values)] = current.counts
    return ref, cur


def _ks(reference: Distribution, current: Distribution) -> tuple[float, float]:
    n1, n2 = reference.rows, current.rows
    ref, cur = _aligned(reference, current)
    cdf1 = np.cumsum(ref) / n1
    cdf2 = np.cumsum(cur) / n2
    diffs = cdf1 - cdf2
    min_s = float(np.clip(-diffs.min(), 0, 1))
    max_s = float(diffs.max())
    d = min_s if min_s > max_s else max_s
    # ks_2samp(method="auto", alternative="two-sided") from here on
    g = math.gcd(n1, n2)
    prob = -math.inf
    exact = max(n1, n2) <= _KS_EXACT_UP_TO
    if exact:
        success, d, prob = _stats_py._attempt_exact_2kssamp(n1, n2, g, d, "two-sided")
        exact = bool(success)
    if not exact:
        m, n = sorted([float(n1), float(n2)], reverse=True)
        prob = stats.distributions.kstwo.sf(d, np.round(m * n / (m + n)))
    return float(d), float(np.clip(prob, 0, 1))


def _wasserstein(reference: Distribution, current: Distribution) -> float:
    distance_ = stats.wasserstein_distance(
        reference.values, current.values, reference.counts, current.counts
    )
    return float(distance_ / max(reference.std(), _STD_FLOOR))


def _chisquare(reference: Distribution, current: Distribution) -> tuple[float, float]:
    ref, cur = _aligned(reference, current)
    if len(ref) < 2:  # one category on both sides: nothing can differ (scipy gives NaN)
        return 0.0, 1.0
    expected = ref * (current.rows / reference.rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = stats.chisquare(cur, expected)
    return float(result.statistic), float(result.pvalue)
