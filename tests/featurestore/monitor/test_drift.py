"""Drift reports and trends over a real project's Parquet tables, against scipy on the
same rows, and the seed's cases: a gradual shift (the decay line crosses its threshold
on the day scipy says) and a float column that turns int upstream."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
from feast import FeatureStore
from scipy import stats

from featurestore.errors import MonitorError, NoDataError, UnknownFeatureServiceError
from featurestore.monitor.drift import drift_report, trend_report
from featurestore.monitor.model import Window
from featurestore.project import Project
from featurestore.store import open_store
from tests.featurestore.monitor import drifting
from tests.featurestore.monitor.drifting import feature_day

SERVICE = "driver_monitor_model"
REFERENCE = Window(feature_day(0), feature_day(28), "first four weeks")


@pytest.fixture(scope="module")
def project(drifting_project: Project) -> Project:
    return drifting_project


@pytest.fixture(scope="module")
def store(project: Project) -> Iterator[FeatureStore]:
    yield open_store(project)


def _values(project: Project, column: str, window: Window) -> np.ndarray:
    table = project.layout.table("driver_daily")
    rows = duckdb.sql(
        f"SELECT {column} FROM read_parquet('{table}/**/*.parquet') WHERE event_timestamp >= "
        f"'{window.start.isoformat()}'::TIMESTAMPTZ AND event_timestamp < "
        f"'{window.end.isoformat()}'::TIMESTAMPTZ AND {column} IS NOT NULL"
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.float64)


def test_exact_scores_equal_scipy_on_the_tables_rows(project: Project, store: FeatureStore) -> None:
    current = Window(feature_day(70), feature_day(84))
    report = drift_report(project, store, SERVICE, REFERENCE, current, exact=True)
    by_name = {f.feature: f for f in report.features}
    for column in ("fare_avg_1d", "distance_km_1d", "rating_avg_1d"):
        reference, now = _values(project, column, REFERENCE), _values(project, column, current)
        result = by_name[column]
        assert result.reference_rows == len(reference)
        assert result.current_rows == len(now)
        ks = stats.ks_2samp(reference, now)
        assert result.scores["ks"].statistic == pytest.approx(ks.statistic, abs=1e-12)
        assert result.scores["ks"].value == pytest.approx(ks.pvalue, abs=1e-9)
        wasserstein = stats.wasserstein_distance(reference, now) / np.std(reference)
        assert result.scores["wasserstein"].value == pytest.approx(wasserstein, abs=1e-9)
        assert result.method == "wasserstein"  # auto, with more than 1,000 reference rows
        assert result.score == result.scores["wasserstein"].value


def test_the_grid_stays_within_its_step_of_the_exact_scores(
    project: Project, store: FeatureStore
) -> None:
    current = Window(feature_day(50), feature_day(60))
    exact = drift_report(project, store, SERVICE, REFERENCE, current, exact=True)
    grid = drift_report(project, store, SERVICE, REFERENCE, current)
    exact_by = {f.feature: f for f in exact.features}
    for result in grid.features:
        for method, value in result.scores.items():
            expected = exact_by[result.feature].scores[method]
            if method in ("ks", "chisquare"):  # a p-value magnifies; its statistic does not
                assert value.statistic == pytest.approx(expected.statistic, abs=2e-3), method
            else:
                assert value.value == pytest.approx(expected.value, abs=2e-3), (result, method)
    # integers and ratings are on one grid step per value: exact
    rating = next(f for f in grid.features if f.feature == "rating_avg_1d")
    assert rating.scores["ks"] == exact_by["rating_avg_1d"].scores["ks"]


def test_drifted_features_come_first_and_stable_ones_do_not_drift(
    project: Project, store: FeatureStore
) -> None:
    report = drift_report(
        project, store, SERVICE, REFERENCE, Window(feature_day(77), feature_day(84))
    )
    names = [f.feature for f in report.features]
    assert {f.feature for f in report.drifted} == {"fare_avg_1d", "distance_km_1d", "fare_band"}
    assert names.index("rating_avg_1d") > names.index("fare_band")
    band = next(f for f in report.features if f.feature == "fare_band")
    assert band.kind == "categorical" and band.method == "jensenshannon"
    assert band.reference is not None and set(band.reference.labels or ()) == {"high", "low"}
    trips = next(f for f in report.features if f.feature == "trips_1d")
    assert trips.score == 0.0 and trips.drifted is False


def test_a_float_column_turning_int_upstream_is_caught(
    project: Project, store: FeatureStore
) -> None:
    before = drift_report(
        project, store, SERVICE, REFERENCE, Window(feature_day(60), feature_day(70))
    )
    after = drift_report(
        project, store, SERVICE, REFERENCE, Window(feature_day(70), feature_day(72))
    )
    distance_before = next(f for f in before.features if f.feature == "distance_km_1d")
    distance_after = next(f for f in after.features if f.feature == "distance_km_1d")
    assert distance_before.alerts == ()
    assert distance_after.drifted is True
    assert "whole number" in distance_after.alerts[0]
    rating = next(f for f in after.features if f.feature == "rating_avg_1d")
    assert rating.alerts == ()  # whole in the reference too: no change


def test_the_decay_line_crosses_its_threshold_on_the_day_scipy_says(
    project: Project, store: FeatureStore
) -> None:
    trend = trend_report(project, store, SERVICE, REFERENCE, "day", features=["fare_avg_1d"])
    (fare,) = trend.features
    assert fare.method == "wasserstein" and fare.threshold == 0.1
    assert len(fare.points) == drifting.DAYS - 28
    reference = _values(project, "fare_avg_1d", REFERENCE)
    expected_first = None
    for point in fare.points:
        day = _values(project, "fare_avg_1d", Window(point.start, point.end))
        oracle = stats.wasserstein_distance(reference, day) / np.std(reference)
        assert point.score == pytest.approx(oracle, abs=2e-3)
        if expected_first is None and oracle >= 0.1:
            expected_first = point.start
    assert fare.first_drifted is not None
    assert fare.first_drifted.start == expected_first
    shift_starts = feature_day(drifting.SHIFT_FROM - 1)
    assert shift_starts < expected_first <= shift_starts + timedelta(days=5)
    # a rising line: the last week is above the first drifted day
    assert min(p.score or 0 for p in fare.points[-7:]) > fare.first_drifted.score  # type: ignore[operator]


def test_weekly_trend_exact_matches_scipy(project: Project, store: FeatureStore) -> None:
    trend = trend_report(
        project, store, SERVICE, REFERENCE, "week", features=["rating_avg_1d"], exact=True
    )
    (rating,) = trend.features
    monday = feature_day(27)  # weeks start on Mondays (UTC); the reference ends on a Tuesday
    assert monday.weekday() == 0
    assert [p.start for p in rating.points][:2] == [monday, monday + timedelta(weeks=1)]
    reference = _values(project, "rating_avg_1d", REFERENCE)
    week = _values(project, "rating_avg_1d", Window(rating.points[0].start, rating.points[0].end))
    expected = stats.wasserstein_distance(reference, week) / np.std(reference)
    assert rating.points[0].score == pytest.approx(expected, abs=1e-9)
    assert rating.first_drifted is None


def test_a_reference_window_with_no_rows_is_a_clear_error(
    project: Project, store: FeatureStore
) -> None:
    empty = Window(feature_day(-100), feature_day(-90), "2025-09..2025-10")
    with pytest.raises(NoDataError) as caught:
        drift_report(project, store, SERVICE, empty, Window(feature_day(70), feature_day(84)))
    assert str(caught.value) == (
        "the reference window 2025-09..2025-10 holds no rows: "
        "driver_daily holds 2026-01-06 00:00 to 2026-03-30 00:00"
    )


def test_a_current_window_with_too_few_rows_gives_not_enough_data(
    project: Project, store: FeatureStore
) -> None:
    future = Window(feature_day(200), feature_day(207))
    report = drift_report(project, store, SERVICE, REFERENCE, future)
    for result in report.features:
        assert result.score is None and result.drifted is None
        assert result.reason.startswith("not enough data: 0 non-null current rows"), result


def test_unknown_service_and_feature_are_named(project: Project, store: FeatureStore) -> None:
    current = Window(feature_day(70), feature_day(84))
    with pytest.raises(UnknownFeatureServiceError, match="known feature services: "):
        drift_report(project, store, "nope", REFERENCE, current)
    with pytest.raises(MonitorError, match="unknown feature\\(s\\) 'tips'; known: driver_daily:"):
        drift_report(project, store, SERVICE, REFERENCE, current, features=["tips"])


def test_a_numeric_method_on_a_string_feature_is_a_reason(
    project: Project, store: FeatureStore, tmp_path: Path
) -> None:
    from dataclasses import replace

    from featurestore.monitor.config import DriftRule, MonitorConfig

    configured = replace(
        project, monitor=MonitorConfig(features={"fare_band": DriftRule("ks", 0.05)})
    )
    current = Window(feature_day(70), feature_day(84))
    report = drift_report(configured, store, SERVICE, REFERENCE, current, features=["fare_band"])
    (band,) = report.features
    assert band.score is None
    assert band.reason == "ks is not a categorical metric (use psi, jensenshannon, chisquare)"


def test_the_monitor_changes_no_table(project: Project, store: FeatureStore) -> None:
    table = project.layout.table("driver_daily")
    before = sorted((p, p.stat().st_mtime_ns) for p in table.resolve().rglob("*"))
    drift_report(project, store, SERVICE, REFERENCE, Window(feature_day(70), feature_day(84)))
    trend_report(project, store, SERVICE, REFERENCE, "week")
    assert sorted((p, p.stat().st_mtime_ns) for p in table.resolve().rglob("*")) == before
