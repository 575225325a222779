"""The drift metrics against independent implementations on the same samples: scipy
(KS, Wasserstein, Jensen-Shannon, chi-square), a brute-force PSI, and Evidently's own
stat tests; and the properties every metric must have."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from featurestore.monitor import metrics
from featurestore.monitor.metrics import from_values, score

TOLERANCE = 1e-9


def _numeric_samples() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    return [
        ("small continuous", rng.normal(size=40), rng.normal(0.3, size=55)),
        ("ties", np.round(rng.normal(size=600), 1), np.round(rng.normal(0.1, 1.2, 800), 1)),
        ("integers", rng.integers(0, 5, 300).astype(float), rng.integers(0, 7, 200).astype(float)),
        ("large asymptotic", rng.normal(size=12_000), rng.normal(0.02, size=15_000)),
        ("shifted", rng.exponential(2.0, 3_000), rng.exponential(2.5, 2_000)),
    ]


def _brute_psi(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI with Evidently's binning, from the raw samples, one bin at a time."""
    if len(np.unique(reference)) > 20:
        edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
        ref = np.histogram(reference, edges)[0] / len(reference)
        cur = np.histogram(current, edges)[0] / len(current)
    else:
        keys = sorted(set(reference) | set(current))
        ref = np.array([np.sum(reference == k) for k in keys]) / len(reference)
        cur = np.array([np.sum(current == k) for k in keys]) / len(current)
    total = 0.0
    for side in (ref, cur):
        smallest = side[side > 0].min()
        side[side == 0] = smallest / 1e6 if smallest <= 0.0001 else 0.0001
    for r, c in zip(ref, cur, strict=True):
        total += (r - c) * np.log(r / c)
    return float(total)


@pytest.mark.parametrize(("case", "reference", "current"), _numeric_samples())
def test_numeric_metrics_equal_scipy_and_a_brute_force_psi(
    case: str, reference: np.ndarray, current: np.ndarray
) -> None:
    ref, cur = from_values("numeric", reference), from_values("numeric", current)
    ks = score("ks", ref, cur)
    expected = stats.ks_2samp(reference, current)
    assert ks.statistic == pytest.approx(expected.statistic, abs=TOLERANCE), case
    assert ks.value == pytest.approx(expected.pvalue, abs=TOLERANCE), case
    wasserstein = stats.wasserstein_distance(reference, current) / max(np.std(reference), 0.001)
    assert score("wasserstein", ref, cur).value == pytest.approx(wasserstein, abs=TOLERANCE)
    assert score("psi", ref, cur).value == pytest.approx(
        _brute_psi(reference, current), abs=TOLERANCE
    )
    edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
    if len(np.unique(reference)) > 20:
        js = distance.jensenshannon(
            np.histogram(reference, edges)[0] / len(reference),
            np.histogram(current, edges)[0] / len(current),
        )
        assert score("jensenshannon", ref, cur).value == pytest.approx(js, abs=TOLERANCE)


def test_categorical_metrics_equal_scipy() -> None:
    rng = np.random.default_rng(5)
    reference = rng.choice(["a", "b", "c", "d"], 900, p=[0.4, 0.3, 0.2, 0.1])
    current = rng.choice(["a", "b", "c", "d"], 700, p=[0.3, 0.3, 0.25, 0.15])
    ref, cur = (
        from_values("categorical", list(reference)),
        from_values("categorical", list(current)),
    )
    keys = ["a", "b", "c", "d"]
    ref_counts = np.array([np.sum(reference == k) for k in keys])
    cur_counts = np.array([np.sum(current == k) for k in keys])
    chi = stats.chisquare(cur_counts, ref_counts * len(current) / len(reference))
    result = score("chisquare", ref, cur)
    assert result.value == pytest.approx(chi.pvalue, abs=TOLERANCE)
    assert result.statistic == pytest.approx(chi.statistic, abs=TOLERANCE)
    js = distance.jensenshannon(ref_counts / len(reference), cur_counts / len(current))
    assert score("jensenshannon", ref, cur).value == pytest.approx(js, abs=TOLERANCE)
    psi = np.sum(
        (ref_counts / len(reference) - cur_counts / len(current))
        * np.log((ref_counts / len(reference)) / (cur_counts / len(current)))
    )
    assert score("psi", ref, cur).value == pytest.approx(psi, abs=TOLERANCE)


def _evidently(name: str, reference: pd.Series, current: pd.Series, kind: str) -> float:
    from evidently.legacy.calculations.stattests import (
        chisquare_stattest,
        jensenshannon,
        ks_stattest,
        psi,
        wasserstein_distance_norm,
    )
    from evidently.legacy.core import ColumnType

    column = ColumnType.Numerical if kind == "numeric" else ColumnType.Categorical
    functions = {
        "psi": psi._psi,
        "jensenshannon": jensenshannon._jensenshannon,
        "wasserstein": wasserstein_distance_norm._wasserstein_distance_norm,
        "ks": ks_stattest._ks_stat_test,
        "chisquare": chisquare_stattest._chi_stat_test,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, _ = functions[name](reference, current, column, 0.1)
    return float(value)


@pytest.mark.parametrize(("case", "reference", "current"), _numeric_samples())
@pytest.mark.parametrize("method", ["psi", "jensenshannon", "wasserstein", "ks"])
def test_numeric_metrics_equal_evidently(
    case: str, reference: np.ndarray, current: np.ndarray, method: str
) -> None:
    ours = score(method, from_values("numeric", reference), from_values("numeric", current))
    theirs = _evidently(method, pd.Series(reference), pd.Series(current), "numeric")
    assert ours.value == pytest.approx(theirs, abs=TOLERANCE, rel=TOLERANCE), (case, method)


@pytest.mark.parametrize("method", ["psi", "jensenshannon", "chisquare"])
def test_categorical_metrics_equal_evidently(method: str) -> None:
    rng = np.random.default_rng(11)
    reference = rng.choice(list("abcdef"), 2_000, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1])
    current = rng.choice(list("abcdef"), 1_500, p=[0.25, 0.25, 0.15, 0.15, 0.1, 0.1])
    ours = score(
        method,
        from_values("categorical", list(reference)),
        from_values("categorical", list(current)),
    )
    theirs = _evidently(method, pd.Series(reference), pd.Series(current), "categorical")
    assert ours.value == pytest.approx(theirs, abs=TOLERANCE, rel=TOLERANCE)


_values = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda v: round(v, 3)),
    min_size=12,
    max_size=200,
)


@settings(max_examples=60, deadline=None)
@given(_values)
def test_identical_windows_give_zero_drift(values: list[float]) -> None:
    dist = from_values("numeric", values)
    assert score("wasserstein", dist, dist).value == pytest.approx(0.0, abs=1e-12)
    assert score("psi", dist, dist).value == pytest.approx(0.0, abs=1e-12)
    assert score("jensenshannon", dist, dist).value == pytest.approx(0.0, abs=1e-6)
    ks = score("ks", dist, dist)
    assert ks.statistic == 0.0
    assert ks.value == pytest.approx(1.0)
    labels = from_values("categorical", [str(int(v) % 7) for v in values])
    assert score("chisquare", labels, labels).value == pytest.approx(1.0)
    assert score("jensenshannon", labels, labels).value == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(_values, _values)
def test_symmetric_metrics_are_symmetric(first: list[float], second: list[float]) -> None:
    a, b = from_values("numeric", first), from_values("numeric", second)
    ks_ab, ks_ba = score("ks", a, b), score("ks", b, a)
    assert ks_ab.statistic == pytest.approx(ks_ba.statistic, abs=1e-12)
    assert ks_ab.value == pytest.approx(ks_ba.value, abs=1e-9)
    raw_ab = stats.wasserstein_distance(a.values, b.values, a.counts, b.counts)
    # normed by each side's own std: symmetric once the norms are taken out
    assert score("wasserstein", a, b).value * max(a.std(), 0.001) == pytest.approx(
        raw_ab, rel=1e-9, abs=1e-9
    )
    assert score("wasserstein", b, a).value * max(b.std(), 0.001) == pytest.approx(
        raw_ab, rel=1e-9, abs=1e-9
    )
    if (a.distinct > 20) == (b.distinct > 20):  # Evidently bins by the reference's count
        assert score("jensenshannon", a, b).value == pytest.approx(
            score("jensenshannon", b, a).value, abs=1e-9
        )
        assert score("psi", a, b).value == pytest.approx(score("psi", b, a).value, rel=1e-9)


def test_too_few_rows_give_a_reason_not_a_score() -> None:
    reference = from_values("numeric", list(range(100)))
    current = from_values("numeric", [1.0, None, float("nan")])
    result = score("psi", reference, current)
    assert result.value is None
    assert result.reason == "not enough data: 1 non-null current rows, psi needs 10"
    assert score("ks", reference, from_values("numeric", [])).reason.startswith(
        "not enough data: 0 non-null current rows"
    )


def test_a_numeric_metric_on_a_categorical_feature_is_refused_by_name() -> None:
    labels = from_values("categorical", ["a", "b"] * 20)
    result = score("ks", labels, labels)
    assert result.value is None
    assert result.reason == "ks is not a categorical metric (use psi, jensenshannon, chisquare)"


def test_auto_picks_evidentlys_method_by_reference_size() -> None:
    rng = np.random.default_rng(0)
    small, large = rng.normal(size=1_000), rng.normal(size=1_001)
    current = rng.normal(size=500)
    assert metrics.compare_values("numeric", small, current).method == "ks"
    assert metrics.compare_values("numeric", large, current).method == "wasserstein"
    assert metrics.compare_values("categorical", ["a"] * 1_000, ["a"]).method == "chisquare"
    assert metrics.compare_values("categorical", ["a"] * 1_001, ["a"] * 10).method == (
        "jensenshannon"
    )
