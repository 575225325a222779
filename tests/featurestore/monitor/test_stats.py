"""The monitor's statistics per feature per partition (``featurestore.monitor.stats``),
through real ingestion runs on small projects made here: a window's merged statistics
equal a full scan of its rows (numpy as the oracle, hypothesis for the rows), re-runs
replace their window's statistics, missing records are computed again, and the seed's
cases show: hour 77 as a quarantine rate on exactly its days, a float column turned
int as the whole-number share jumping to 1."""

from __future__ import annotations

import itertools
import json
import logging
import math
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from featurestore import sql
from featurestore.cli import app, main
from featurestore.errors import InvalidRequestError, UnknownFeatureTableError
from featurestore.monitor import stats as monitor_stats
from featurestore.monitor.model import FeatureStats
from featurestore.monitor.stats import (
    SKETCH_SIZE,
    quarantine_rates,
    window_stats,
)
from featurestore.project import Project
from ingestion import run_jobs

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
HEADER = """\
-- name: feat
-- entities: id
-- timestamp: ts
-- grain: {grain}
-- max_bad_rows: 90%
-- column: id BIGINT
-- column: ts TIMESTAMPTZ
-- column: x DOUBLE min -1000 max 1000 | declared edges: streamed from the first run
-- column: k VARCHAR
-- column: n BIGINT | no declared range: its first run's values decide its edges
"""
SELECT = "SELECT id, ts, x, k, n FROM events WHERE ts >= $start AND ts < $end\n"
Rows = dict[str, list[Any]]


def make_project(root: Path, rows: Rows, header: str = HEADER,
                 select: str = SELECT, grain: str = "day") -> Project:  # fmt: skip
    """A project with one raw source ``events`` (the given columns) and one job ``feat``."""
    (root / "feature_repo").mkdir(parents=True)
    (root / "feature_repo" / "feature_store.yaml").write_text("project: stats_test\n")
    (root / "jobs").mkdir()
    (root / "raw").mkdir()
    (root / "featurestore.yaml").write_text(
        "name: stats_test\nsources:\n  events: {format: parquet, path: raw/events.parquet}\n"
    )
    write_events(root, rows)
    (root / "jobs" / "feat.sql").write_text(header.format(grain=grain) + select)
    return Project.load(root)


def write_events(root: Path, rows: Rows) -> None:
    types = {"id": pa.int64(), "ts": pa.timestamp("us", tz="UTC"), "x": pa.float64(),
             "k": pa.string(), "n": pa.int64(), "hour": pa.int64()}  # fmt: skip
    table = pa.table({name: pa.array(values, types[name]) for name, values in rows.items()})
    path = root / "raw" / "events.parquet"
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)


def run(project: Project, first: int, last: int, **options: Any) -> None:
    """Run the job over days ``[first, last)`` (counted from DAY0)."""
    start, end = DAY0 + timedelta(days=first), DAY0 + timedelta(days=last)
    results = run_jobs(project, ["feat"], start=start, end=end, **options)
    assert [r.status for r in results] == ["success"], results


def by_column(stats: list[FeatureStats]) -> dict[str, FeatureStats]:
    return {s.column: s for s in stats}


def records(project: Project) -> list[Path]:
    folder = project.layout.monitor_stats("feat")
    return sorted(p for p in folder.glob("*.json") if p.name != "edges.json")


def edges(project: Project) -> dict[str, tuple[float, float]]:
    columns = json.loads((project.layout.monitor_stats("feat") / "edges.json").read_text())
    return {name: (e["lo"], e["hi"]) for name, e in columns["columns"].items()}


# -- the oracle: a full scan of the window's rows, in numpy -------------------------------


def bins(values: np.ndarray, low: float, high: float) -> list[int]:
    """The 22 bins the statistics use: below, 20 equal ones (the last holds ``high``), above."""
    scale = 20 / (high - low)
    index = np.where(
        values < low, 0,
        np.where(values > high, 21, 1 + np.minimum(np.floor((values - low) * scale), 19)),
    ).astype(int)  # fmt: skip
    return np.bincount(index, minlength=22).tolist()


def kmv_distinct(path: Path, column: str, where: str = "true") -> int:
    """The distinct estimate of a full-scan KMV sketch of a Parquet file's column,
    computed by DuckDB directly."""
    con = sql.connect()
    try:
        sketch = con.execute(
            f"SELECT min(h, {SKETCH_SIZE}) FROM (SELECT DISTINCT hash({column}) AS h FROM "
            f"read_parquet({sql.path_literal(path)}) WHERE {column} IS NOT NULL AND {where})"
        ).fetchall()[0][0]
    finally:
        con.close()
    if len(sketch) < SKETCH_SIZE:
        return len(sketch)
    return round((SKETCH_SIZE - 1) * 2.0**64 / (sketch[-1] + 1))


def check_numeric(got: FeatureStats, values: list[float | None], low: float, high: float) -> None:
    present = np.array([v for v in values if v is not None], dtype=np.float64)
    assert got.count == len(present) and got.nulls == len(values) - len(present)
    if not len(present):
        return
    scale = max(1.0, float(np.abs(present).max()))
    assert got.min == present.min() and got.max == present.max()
    assert got.mean is not None and math.isclose(got.mean, present.mean(), rel_tol=1e-9,
                                                 abs_tol=1e-9 * scale)  # fmt: skip
    if len(present) > 1:
        assert got.std is not None
        assert math.isclose(got.std, present.std(ddof=1), rel_tol=1e-9, abs_tol=1e-9 * scale)
    assert got.histogram is not None and list(got.histogram.counts) == bins(present, low, high)
    assert got.histogram.edges is not None and got.histogram.edges[1:-1][::20] == (low, high)
    assert got.whole_numbers == int((present == np.round(present)).sum())
    assert got.distinct == len(set(present.tolist())) and got.distinct_exact
    assert all(got.min <= q <= got.max for q in got.quantiles.values())  # type: ignore[operator]


def check_categorical(got: FeatureStats, values: list[str | None]) -> None:
    counts = Counter(v for v in values if v is not None)
    assert got.count == sum(counts.values()) and got.nulls == len(values) - got.count
    assert got.distinct == len(counts) and got.distinct_exact
    assert got.top == sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10]
    assert got.other == got.count - sum(n for _, n in got.top)


# -- merged partitions = a full scan --------------------------------------------------------

values = st.one_of(st.none(), st.floats(-999, 999, allow_nan=False), st.integers(-999, 999))
row = st.tuples(
    st.integers(0, 5),  # day
    st.integers(0, 23),  # hour
    values,
    st.one_of(st.none(), st.sampled_from(["a", "b", "c", "dd", "é"])),
    st.integers(-50, 50),
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(row, min_size=1, max_size=60),
    cuts=st.sets(st.integers(1, 5), max_size=3),
    window=st.tuples(st.integers(0, 6), st.integers(0, 6)),
    grain=st.sampled_from(["day", "hour"]),
    tiny_batches=st.booleans(),
)
def test_merged_statistics_equal_a_full_scan(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[tuple[int, int, Any, str | None, int]],
    cuts: set[int],
    window: tuple[int, int],
    grain: str,
    tiny_batches: bool,
) -> None:
    """Ingested in several runs (so several records, partitions split between streamed
    batches when ``tiny_batches``), any window's statistics are those of its rows."""
    import ingestion.runner

    if tiny_batches:
        monkeypatch.setattr(ingestion.runner, "_BATCH", 7)
        monkeypatch.setattr(monitor_stats, "_STREAM_ROWS", 5)
    root = tmp_path_factory.mktemp("merge") / "project"
    times = [DAY0 + timedelta(days=d, hours=h) for d, h, *_ in rows]
    data: Rows = {"id": list(range(len(rows))), "ts": times, "x": [r[2] for r in rows],
            "k": [r[3] for r in rows], "n": [r[4] for r in rows]}  # fmt: skip
    project = make_project(root, data, grain=grain)
    bounds = [0, *sorted(cuts), 6]
    for first, last in itertools.pairwise(bounds):
        if any(first <= r[0] < last for r in rows):
            run(project, first, last)
    low, high = sorted(window)
    start, end = DAY0 + timedelta(days=low), DAY0 + timedelta(days=high)
    inside = [i for i, t in enumerate(times) if start <= t < end]
    got = by_column(window_stats(project, "feat", start, end))
    if not inside:
        assert got == {}
        return
    assert list(got) == ["x", "k", "n"]  # the header's order, keys and timestamp left out
    x = [None if data["x"][i] is None else float(data["x"][i]) for i in inside]
    check_numeric(got["x"], x, -1000.0, 1000.0)
    check_numeric(got["n"], [float(data["n"][i]) for i in inside], *edges(project)["n"])
    check_categorical(got["k"], [data["k"][i] for i in inside])
    days = {(t.date(), t.hour if grain == "hour" else 0) for t in (times[i] for i in inside)}
    assert got["x"].partitions == len(days)


def test_distinct_beyond_k_is_the_full_scan_sketch(tmp_path: Path) -> None:
    """3 days of 1,500 distinct values each: the merged sketch estimates exactly what a
    KMV sketch of the whole window does; below k values the count is exact."""
    days = 3
    rng = np.random.default_rng(7)
    xs = np.round(rng.uniform(-900, 900, days * 1500), 6)
    data: Rows = {"id": list(range(len(xs))), "ts": [DAY0 + timedelta(days=i % days, seconds=i)
            for i in range(len(xs))], "x": xs.tolist(), "k": ["a"] * len(xs),
            "n": [i % 40 for i in range(len(xs))]}  # fmt: skip
    project = make_project(tmp_path / "project", data)
    for day in range(days):
        run(project, day, day + 1)
    got = by_column(window_stats(project, "feat"))
    raw = tmp_path / "project/raw/events.parquet"
    assert got["x"].distinct == kmv_distinct(raw, "x")
    assert not got["x"].distinct_exact
    assert abs(got["x"].distinct - len(set(xs.tolist()))) < 0.1 * len(xs)
    assert got["n"].distinct == 40 and got["n"].distinct_exact
    one_day = by_column(window_stats(project, "feat", DAY0, DAY0 + timedelta(days=1)))
    day0 = f"ts < TIMESTAMPTZ '{(DAY0 + timedelta(days=1)).isoformat()}'"
    estimate = kmv_distinct(raw, "x", day0)
    assert estimate > 1500  # the sketch overshoots: more values than the day has rows
    assert one_day["x"].distinct == 1500  # an estimate is never above the count


def test_many_distinct_strings_keep_the_top_100_and_count_the_rest(tmp_path: Path) -> None:
    names = [f"v{i % 1500:04d}" if i % 3 else "common" for i in range(3000)]
    data: Rows = {"id": list(range(3000)), "ts": [DAY0 + timedelta(seconds=i) for i in range(3000)],
            "x": [1.5] * 3000, "k": names, "n": [1] * 3000}  # fmt: skip
    project = make_project(tmp_path / "project", data)
    run(project, 0, 1)
    k = by_column(window_stats(project, "feat", top=5))["k"]
    assert k.top[0] == ("common", 1000) and len(k.top) == 5
    assert k.count == 3000 and k.other == 3000 - sum(n for _, n in k.top)
    assert k.histogram is not None and len(k.histogram.counts) == 100  # what was kept


def test_times_and_booleans_get_counts_extremes_and_distinct(tmp_path: Path) -> None:
    header = "-- name: feat\n-- entities: id\n-- timestamp: ts\n-- column: id BIGINT\n"
    header += "-- column: ts TIMESTAMPTZ\n-- column: seen TIMESTAMPTZ\n-- column: flag BOOLEAN\n"
    select = ("SELECT id, ts, ts - INTERVAL 1 HOUR AS seen, id % 3 = 0 AS flag FROM events "
              "WHERE ts >= $start AND ts < $end\n")  # fmt: skip
    times = [DAY0 + timedelta(days=d, hours=h) for d in range(3) for h in range(5)]
    project = make_project(tmp_path / "project", {"id": list(range(15)), "ts": times},
                           header, select)  # fmt: skip
    run(project, 0, 3)
    got = by_column(window_stats(project, "feat", DAY0 + timedelta(days=1)))
    assert (got["seen"].kind, got["seen"].count, got["seen"].distinct) == ("other", 10, 10)
    assert (got["seen"].min, got["seen"].max) == (
        "2026-03-01 23:00:00+00",
        "2026-03-03 03:00:00+00",
    )
    assert got["flag"].top == [("false", 7), ("true", 3)] and got["flag"].distinct == 2


# -- re-runs, missing records, switched off -------------------------------------------------


def five_days(multiplier: float = 1.0) -> Rows:
    times = [DAY0 + timedelta(days=d, hours=h) for d in range(5) for h in range(0, 24, 3)]
    return {
        "id": list(range(len(times))), "ts": times,
        "x": [multiplier * (i % 17) + 0.25 for i in range(len(times))],
        "k": ["ab"[i % 2] for i in range(len(times))], "n": [i % 7 for i in range(len(times))],
    }  # fmt: skip


def test_a_rerun_replaces_its_window_and_prunes_what_it_replaced(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", five_days())
    run(project, 0, 5)
    before = by_column(window_stats(project, "feat"))
    write_events(project.root, five_days(multiplier=10.0))
    run(project, 2, 3)
    assert len(records(project)) == 2  # the first run's still describes days 0, 1, 3, 4
    day2 = by_column(
        window_stats(project, "feat", DAY0 + timedelta(days=2), DAY0 + timedelta(days=3))
    )
    expected = [10.0 * (i % 17) + 0.25 for i in range(16, 24)]
    assert day2["x"].max == max(expected) and day2["x"].mean == pytest.approx(np.mean(expected))
    others = by_column(window_stats(project, "feat", DAY0, DAY0 + timedelta(days=2)))
    assert others["x"].max == max(v for v in five_days()["x"][:16])
    assert by_column(window_stats(project, "feat"))["x"].mean != before["x"].mean
    run(project, 0, 5)
    (only,) = records(project)  # the newest run replaced every partition: the rest pruned
    assert only.stem == json.loads(only.read_text())["run_id"]


def test_a_missing_record_is_computed_from_the_files_and_cached(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", five_days())
    run(project, 0, 5)
    streamed = window_stats(project, "feat")
    points = quarantine_rates(project, "feat")
    (record,) = records(project)
    record.unlink()
    record.with_suffix(".parquet").unlink()
    assert window_stats(project, "feat") == streamed
    (cached,) = records(project)
    assert cached.name.startswith("recomputed-")
    assert window_stats(project, "feat") == streamed  # now from the cache
    assert len(records(project)) == 1
    again = quarantine_rates(project, "feat")
    assert [(p.start, p.rows_in, p.quarantined) for p in again] == [
        (p.start, p.rows_in, p.quarantined) for p in points
    ]
    assert all(p.recorded for p in points) and not any(p.recorded for p in again)


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_statistics_can_be_switched_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    project = make_project(tmp_path / "project", five_days())
    if how == "argument":
        run(project, 0, 5, stats=False)
    else:
        monkeypatch.setenv("FEATURESTORE_MONITOR_STATS", "0")
        run(project, 0, 5)
    assert records(project) == []
    got = by_column(window_stats(project, "feat"))  # the reader computes them
    check_numeric(got["x"], five_days()["x"], -1000.0, 1000.0)


def test_a_failure_to_record_never_fails_the_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = make_project(tmp_path / "project", five_days())
    folder = project.layout.monitor_stats("feat")
    folder.parent.mkdir(parents=True)
    folder.write_text("not a folder")  # nothing can be written there
    with caplog.at_level(logging.WARNING):
        run(project, 0, 5)
    assert "statistics of run" in caplog.text
    table = project.layout.table("feat")
    assert len(list(table.rglob("*.parquet"))) == 5
    got = by_column(window_stats(project, "feat"))  # computed, not cached
    check_numeric(got["x"], five_days()["x"], -1000.0, 1000.0)


def test_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", five_days())
    with pytest.raises(UnknownFeatureTableError, match=r"unknown feature table 'feet'.*none yet"):
        window_stats(project, "feet")
    run(project, 0, 5)
    with pytest.raises(UnknownFeatureTableError, match=r"feature tables with data: feat$"):
        quarantine_rates(project, "feet")
    with pytest.raises(InvalidRequestError, match="start 'monday' is not an ISO date"):
        window_stats(project, "feat", "monday")
    assert window_stats(project, "feat", "2030-01-01") == []
    assert quarantine_rates(project, "feat", "2030-01-01") == []


# -- the seed's cases -----------------------------------------------------------------------

HOUR_HEADER = """\
-- name: feat
-- entities: id
-- timestamp: ts
-- grain: {grain}
-- max_bad_rows: 60%
-- column: id BIGINT
-- column: ts TIMESTAMPTZ
-- column: hour BIGINT min 0 max 23 | Hour of day of the event
"""
HOUR_SELECT = "SELECT id, ts, hour FROM events WHERE ts >= $start AND ts < $end\n"


def test_hour_77_is_quarantined_and_its_rate_shows_on_exactly_its_days(tmp_path: Path) -> None:
    """Upstream sends 77 for some rows on days 3 and 5, and for every row of day 6."""
    times, hours = [], []
    for day in range(8):
        for h in range(24):
            times.append(DAY0 + timedelta(days=day, hours=h))
            broken = (day in (3, 5) and h % 4 == 0) or day == 6
            hours.append(77 if broken else h)
    data: Rows = {"id": list(range(len(times))), "ts": times, "hour": hours}
    project = make_project(tmp_path / "project", data, HOUR_HEADER,
                           HOUR_SELECT)  # fmt: skip
    run(project, 0, 8)
    points = quarantine_rates(project, "feat")
    assert [p.start for p in points] == [DAY0 + timedelta(days=d) for d in range(8)]
    rates = {(p.start - DAY0).days: p.rate for p in points}
    assert rates == {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.25, 4: 0.0, 5: 0.25, 6: 1.0, 7: 0.0}
    assert points[3].by_rule == {"hour <= 23": 6} and points[3].rows_in == 24
    assert points[6].quarantined == points[6].rows_in == 24  # no file, still a point
    hour = by_column(window_stats(project, "feat"))["hour"]
    assert hour.max == 23 and hour.count == 24 * 7 - 12  # what was written
    assert hour.histogram is not None and hour.histogram.counts[-1] == 0  # nothing above 23
    week = quarantine_rates(project, "feat", DAY0 + timedelta(days=4), DAY0 + timedelta(days=7))
    assert [(p.start - DAY0).days for p in week] == [4, 5, 6]
    # The upstream is fixed and day 6 re-run: its point comes from the new run.
    write_events(project.root, {**data, "hour": [h if h != 77 else 7 for h in hours]})
    run(project, 6, 7)
    fixed = {(p.start - DAY0).days: p.rate for p in quarantine_rates(project, "feat")}
    assert fixed[6] == 0.0 and fixed[5] == 0.25


def test_hourly_partitions_have_hourly_points(tmp_path: Path) -> None:
    times = [DAY0 + timedelta(hours=h, minutes=m) for h in range(6) for m in (0, 20, 40)]
    hours = [77 if (i // 3 == 2 and i % 3 == 0) else 5 for i in range(len(times))]
    data: Rows = {"id": list(range(len(times))), "ts": times, "hour": hours}
    project = make_project(tmp_path / "project", data, HOUR_HEADER,
                           HOUR_SELECT, grain="hour")  # fmt: skip
    run(project, 0, 1)
    points = quarantine_rates(project, "feat")
    assert [p.end - p.start for p in points] == [timedelta(hours=1)] * 6
    assert [p.quarantined for p in points] == [0, 0, 1, 0, 0, 0]
    assert by_column(window_stats(project, "feat"))["hour"].partitions == 6


FLOAT_HEADER = """\
-- name: feat
-- entities: id
-- timestamp: ts
-- column: id BIGINT
-- column: ts TIMESTAMPTZ
-- column: x DOUBLE | A float upstream, until it is not
"""
FLOAT_SELECT = "SELECT id, ts, x FROM events WHERE ts >= $start AND ts < $end\n"


def test_a_float_column_turned_int_upstream_shows_as_whole_numbers(tmp_path: Path) -> None:
    times, xs = [], []
    for day in range(10):
        for i in range(30):
            times.append(DAY0 + timedelta(days=day, minutes=i))
            value = 3.0 + 0.37 * i + day / 7
            xs.append(float(round(value)) if day >= 6 else value)
    data: Rows = {"id": list(range(len(xs))), "ts": times, "x": xs}
    project = make_project(tmp_path / "project", data, FLOAT_HEADER,
                           FLOAT_SELECT)  # fmt: skip
    for day in range(10):  # a daily incremental schedule: one run, one record a day
        run(project, day, day + 1)
    shares = []
    for day in range(10):
        start = DAY0 + timedelta(days=day)
        (x,) = window_stats(project, "feat", start, start + timedelta(days=1))
        shares.append(x.whole_share)
    assert all(s is not None and s < 0.1 for s in shares[:6]), shares
    assert shares[6:] == [1.0] * 4
    (whole,) = window_stats(project, "feat")
    assert whole.whole_numbers == sum(1 for x in xs if x == round(x))


# -- the command line -----------------------------------------------------------------------


def test_the_command_prints_a_row_per_feature_and_the_quarantine_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "project", five_days())
    run(project, 0, 5)
    monkeypatch.setenv("FEATURESTORE_PROJECT", str(project.root))
    runner = CliRunner()
    shown = runner.invoke(app, ["monitor", "stats", "feat"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert any(line.startswith("│ x ") and "DOUBLE" in line for line in lines), shown.output
    assert any(line.startswith("│ k ") and "a 50%" in line for line in lines), shown.output
    assert "quarantined: 0 of 40 rows (0.00%)" in shown.output
    as_json = runner.invoke(app, ["monitor", "stats", "feat", "--json", "--start", "2026-03-02"])
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.output)
    assert [f["column"] for f in document["features"]] == ["x", "k", "n"]
    assert document["features"][0]["count"] == 32 and len(document["quarantine"]) == 4
    empty = runner.invoke(app, ["monitor", "stats", "feat", "--start", "2030-01-01"])
    assert empty.exit_code == 1 and "no partitions" in empty.output
    monkeypatch.setattr(sys, "argv", ["featurestore", "monitor", "stats", "nope"])
    with pytest.raises(SystemExit) as exit:
        main()
    assert exit.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == "error: unknown feature table 'nope'; feature tables with data: feat"
