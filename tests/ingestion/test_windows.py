"""Windows: each run replaces exactly its partitions; re-runs give byte-identical files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from featurestore.errors import WindowError
from featurestore.project import Project
from ingestion import backfill, feature_table_path, run_jobs, runs, runs_frame
from ingestion.storage import current_version
from tests.flights_sample import make_sample_project
from tests.ingestion.conftest import job_fails, snapshot, write_job


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _inodes(table: Path) -> dict[str, int]:
    return {str(p.relative_to(table)): p.stat().st_ino for p in table.rglob("*.parquet")}


def test_rerunning_a_window_gives_byte_identical_files(flights: Project) -> None:
    table = feature_table_path(flights, "weather_hourly")
    run_jobs(flights, ["weather_hourly"], start=_utc(2013, 1, 1), end=_utc(2013, 2, 1))
    first = snapshot(table)
    version = current_version(flights.data_dir, "weather_hourly")
    run_jobs(flights, ["weather_hourly"], start=_utc(2013, 1, 1), end=_utc(2013, 2, 1))
    assert current_version(flights.data_dir, "weather_hourly") != version
    assert snapshot(table) == first
    assert sorted(first)[0] == "partition_date=20130101/part-0.parquet"
    assert len(first) == 31


def test_a_window_replaces_only_its_partitions(flights: Project) -> None:
    table = feature_table_path(flights, "weather_hourly")
    run_jobs(flights, ["weather_hourly"], start=_utc(2013, 1, 1), end=_utc(2013, 1, 11))
    before = _inodes(table)
    run_jobs(flights, ["weather_hourly"], start=_utc(2013, 1, 4), end=_utc(2013, 1, 6))
    after = _inodes(table)
    assert set(after) == set(before)
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {
        "partition_date=20130104/part-0.parquet",
        "partition_date=20130105/part-0.parquet",
    }


def test_backfill_in_steps_equals_one_run_over_the_range(flights: Project, tmp_path: Path) -> None:
    start, end = _utc(2013, 1, 1), _utc(2013, 3, 1)
    run_jobs(flights, ["carrier_daily", "weather_hourly"], start=start, end=end)
    whole = {name: snapshot(feature_table_path(flights, name)) for name in ("carrier_daily",)}
    whole["weather_hourly"] = snapshot(feature_table_path(flights, "weather_hourly"))

    other = make_sample_project(tmp_path / "other", raw_from=flights.root / "raw")
    results = backfill(other, ["carrier_daily", "weather_hourly"], start, end, timedelta(days=7))
    assert len(results) == 2 * 9
    for name, files in whole.items():
        assert snapshot(feature_table_path(other, name)) == files, name


def test_incremental_runs_continue_from_the_last_success(flights: Project) -> None:
    now = _utc(2013, 1, 3, 17, 30)
    (first,) = run_jobs(flights, ["weather_hourly"], now=now)
    assert (first.start, first.end) == (_utc(2013, 1, 1), _utc(2013, 1, 3))  # header start
    # Hourly observations of 3 airports until 2013-01-03 UTC (the sample starts at
    # local midnight, 2013-01-01 05:00 UTC): 3 x 43 hours.
    assert first.rows == 129
    (again,) = run_jobs(flights, ["weather_hourly"], now=now)
    assert again.status == "up to date"
    (later,) = run_jobs(flights, ["weather_hourly"], now=now + timedelta(days=2))
    assert (later.start, later.end) == (_utc(2013, 1, 3), _utc(2013, 1, 5))
    con = flights.connect()
    (count,) = con.execute("SELECT count(*) FROM weather_hourly").fetchone() or (0,)
    assert count == first.rows + later.rows
    assert [r.status for r in runs(flights.data_dir, "weather_hourly")] == ["success", "success"]


def test_run_history_is_queryable(flights: Project) -> None:
    run_jobs(flights, ["weather_hourly"], start=_utc(2013, 1, 1), end=_utc(2013, 1, 2))
    with job_fails(WindowError, match="not on a day boundary"):
        run_jobs(flights, ["weather_hourly"], start=_utc(2013, 1, 1, 5), end=_utc(2013, 1, 2))
    frame = runs_frame(flights.data_dir)
    assert list(frame.columns) == [
        "run_id", "job", "window_start", "window_end", "status", "rows_in", "rows_written",
        "rows_quarantined", "seconds", "error", "started_at",
    ]  # fmt: skip
    (row,) = frame.to_dict("records")
    assert (row["job"], row["status"], row["rows_written"]) == ("weather_hourly", "success", 3 * 19)
    assert row["window_end"] == _utc(2013, 1, 2)


def test_hour_grain_writes_one_folder_per_hour(project: Project, jobs_dir: Path) -> None:
    write_job(
        jobs_dir,
        "jfk_hourly",
        "entities: origin\ntimestamp: ts\ngrain: hour\n"
        "column: origin VARCHAR\ncolumn: ts TIMESTAMPTZ\ncolumn: temp DOUBLE",
        "SELECT origin, time_hour AS ts, temp FROM weather WHERE origin = 'JFK'",
    )
    run_jobs(project, start=_utc(2013, 1, 1, 6), end=_utc(2013, 1, 1, 9))
    files = sorted(snapshot(feature_table_path(project, "jfk_hourly")))
    assert files == [
        f"partition_date=20130101/partition_hour={h}/part-0.parquet" for h in (6, 7, 8)
    ]
    con = project.connect()
    assert con.execute("SELECT count(*), min(temp) FROM jfk_hourly").fetchone() == (3, 35.0)


def test_downstream_jobs_run_after_their_upstream(project: Project, jobs_dir: Path) -> None:
    write_job(
        jobs_dir,
        "temps",
        "entities: origin\ntimestamp: ts\ncolumn: origin VARCHAR\ncolumn: ts TIMESTAMPTZ\n"
        "column: temp DOUBLE",
        "SELECT origin, time_hour AS ts, temp FROM weather "
        "QUALIFY row_number() OVER (PARTITION BY origin, time_hour) = 1",
    )
    write_job(
        jobs_dir,
        "daily_max",
        "entities: origin\ntimestamp: ts\ncolumn: origin VARCHAR\ncolumn: ts TIMESTAMPTZ\n"
        "column: max_temp DOUBLE",
        "SELECT origin, date_trunc('day', ts) AS ts, max(temp) AS max_temp\n"
        "FROM temps GROUP BY ALL",
    )
    results = run_jobs(project, ["daily_max"], start=_utc(2013, 1, 1), end=_utc(2013, 1, 3))
    assert [r.job for r in results] == ["temps", "daily_max"]
    assert results[1].rows == 6
