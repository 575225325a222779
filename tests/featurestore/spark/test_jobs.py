"""Feature jobs on Spark write what they write on DuckDB: the same rows, types and order
in every partition file, the same quarantine, the same failures.

Each test runs the same jobs on two copies of one project, one per engine, on the test
run's shared Spark session (``tests/spark.py``).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore.errors import (
    EngineUnavailableError,
    ExpectationError,
    SchemaDriftError,
    TranspileError,
)
from featurestore.project import Project
from featurestore.scaffold import init_project
from ingestion import feature_table_path, run_jobs, runs
from ingestion.storage import quarantine_dir
from tests.flights_sample import make_sample_project, write_sample_raw
from tests.ingestion.conftest import job_fails, snapshot, write_job, write_raw
from tests.ingestion.test_project_sources import shop
from tests.postgres import PostgresServer
from tests.spark import SPARK

pytestmark = pytest.mark.usefixtures("spark")

JAN1 = datetime(2013, 1, 1, tzinfo=UTC)
JAN11 = datetime(2013, 1, 11, tzinfo=UTC)
JAN15 = datetime(2013, 1, 15, tzinfo=UTC)


def on_spark(project: Project) -> Project:
    return dataclasses.replace(project, engine=dataclasses.replace(
        project.engine, name="spark", spark=SPARK
    ))  # fmt: skip


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample") / "raw"
    write_sample_raw(folder)
    return folder


def twins(root: Path, raw: Path, *, demo_jobs: bool) -> tuple[Project, Project]:
    duck = make_sample_project(root / "duckdb", demo_jobs=demo_jobs, raw_from=raw)
    spark = make_sample_project(root / "spark", demo_jobs=demo_jobs, raw_from=raw)
    return duck, on_spark(spark)


def partitions(table: Path) -> dict[str, pa.Table]:
    """Every partition file of a table's current version, read back, by relative path."""
    folder = table.resolve()
    return {
        str(path.relative_to(folder)): pq.read_table(path).replace_schema_metadata(None)
        for path in sorted(folder.rglob("*.parquet"))
    }


def assert_same_table(duck: Project, spark: Project, name: str) -> int:
    """Both engines' tables hold equal files (rows, order, types); the number of files."""
    ours, theirs = (partitions(feature_table_path(p, name)) for p in (duck, spark))
    assert list(ours) == list(theirs)
    for path, table in ours.items():
        other = theirs[path]
        assert table.schema == other.schema, (path, table.schema, other.schema)
        assert table.equals(other), path
    return len(ours)


def quarantined(project: Project, name: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for path in sorted(quarantine_dir(project.data_dir, name).glob("*.parquet")):
        rows += [
            {k: v for k, v in row.items() if k != "_run_id"}
            for row in pq.read_table(path).to_pylist()
        ]
    return rows


def test_the_demo_jobs_write_identical_partitions(tmp_path: Path, raw: Path) -> None:
    duck, spark = twins(tmp_path, raw, demo_jobs=True)
    ran = {}
    for project in (duck, spark):
        results = run_jobs(project, start=JAN1, end=JAN15)
        ran[project.engine.name] = [(r.job, r.status, r.rows_in, r.rows) for r in results]
    assert ran["spark"] == ran["duckdb"]
    assert {job for job, *_ in ran["duckdb"]} == {"carrier_daily", "plane_daily", "weather_hourly"}
    for job, status, _, rows in ran["duckdb"]:
        assert status == "success" and rows > 0
        assert assert_same_table(duck, spark, job) >= 13  # a file per day with rows
    # The run history says which engine ran nothing different: same counts.
    assert [r.rows_written for r in runs(spark.data_dir, "carrier_daily")] == [
        r.rows_written for r in runs(duck.data_dir, "carrier_daily")
    ]


def test_the_minimal_examples_csv_job_is_identical(tmp_path: Path) -> None:
    roots = [init_project(tmp_path / engine, "minimal", "shop") for engine in ("duckdb", "spark")]
    duck = Project.load(roots[0])
    spark = on_spark(Project.load(roots[1]))
    window = {"start": datetime(2026, 1, 1, tzinfo=UTC), "end": datetime(2026, 2, 1, tzinfo=UTC)}
    for project in (duck, spark):
        (result,) = [r for r in run_jobs(project, **window) if r.job == "driver_daily"]
        assert result.status == "success"
    assert assert_same_table(duck, spark, "driver_daily") > 20


HOURS_HEADER = """
entities: flight_id
timestamp: event_timestamp
max_bad_rows: 10%
column: flight_id BIGINT
column: event_timestamp TIMESTAMPTZ
column: hour_of_day BIGINT not null min 0 max 23
column: seats BIGINT
column: kind VARCHAR in ('a', 'b')
"""
HOURS_SQL = """
SELECT flight_id, event_timestamp, hour AS hour_of_day,
       CASE WHEN flight_id = 5 THEN 149.5 ELSE 150.0 END AS seats,
       CASE WHEN flight_id = 7 THEN 'z' ELSE 'a' END AS kind
FROM departures
"""


def _departures(project: Project, bad_hours: int) -> Project:
    return write_raw(
        project,
        "departures",
        "SELECT i AS flight_id, TIMESTAMPTZ '2013-01-01 00:00:00+00' + to_hours(i) "
        f"AS event_timestamp, CASE WHEN i IN (0, 1, 2) AND {bad_hours} > i THEN 77 "
        "WHEN i = 3 THEN NULL ELSE i % 24 END AS hour FROM range(240) t(i)",
    )


def test_bad_rows_are_quarantined_alike(tmp_path: Path, raw: Path) -> None:
    duck, spark = twins(tmp_path, raw, demo_jobs=False)
    for project in (duck, spark):
        write_job(project.jobs_dir, "flight_hours", HOURS_HEADER, HOURS_SQL)
    duck = _departures(duck, bad_hours=2)
    spark = on_spark(_departures(spark, bad_hours=2))
    results = [run_jobs(p, start=JAN1, end=JAN11)[0] for p in (duck, spark)]
    assert [(r.rows_in, r.rows, r.rows_quarantined) for r in results] == [(240, 235, 5)] * 2
    assert assert_same_table(duck, spark, "flight_hours") == 10
    rules = [row["_rule"] for row in quarantined(duck, "flight_hours")]
    assert sorted(rules) == sorted(
        ["hour_of_day <= 23", "hour_of_day <= 23", "hour_of_day not null", "seats is BIGINT",
         "kind in ('a', 'b')"]
    )  # fmt: skip
    assert quarantined(spark, "flight_hours") == quarantined(duck, "flight_hours")


def test_table_level_failures_leave_the_table_alike(tmp_path: Path, raw: Path) -> None:
    duck, spark = twins(tmp_path, raw, demo_jobs=False)
    errors = []
    for project in (duck, spark):
        write_job(project.jobs_dir, "flight_hours", HOURS_HEADER, HOURS_SQL)
        project = _departures(project, bad_hours=0)
        run_jobs(on_spark(project) if project.root.name == "spark" else project,
                 start=JAN1, end=JAN11)  # fmt: skip
        before = snapshot(feature_table_path(project, "flight_hours"))
        with job_fails(ExpectationError) as error:
            run_jobs(
                on_spark(project) if project.root.name == "spark" else project,
                start=JAN1, end=JAN11, max_bad_rows=0.0,
            )  # fmt: skip
        assert snapshot(feature_table_path(project, "flight_hours")) == before
        errors.append(str(error.value).replace(str(project.root), "ROOT"))
    assert _no_run_id(errors[1]) == _no_run_id(errors[0])


def _no_run_id(message: str) -> str:
    import re

    return re.sub(r"\d{8}T\d{12}Z", "RUN", message)


def test_duplicate_keys_fail_alike(tmp_path: Path, raw: Path) -> None:
    duck, spark = twins(tmp_path, raw, demo_jobs=False)
    messages = []
    for project in (duck, spark):
        write_job(
            project.jobs_dir,
            "dupes",
            "entities: origin\ntimestamp: ts",
            "SELECT origin, time_hour AS ts FROM weather "
            "UNION ALL SELECT origin, time_hour FROM weather WHERE month = 1 AND day = 2",
        )
        with job_fails(ExpectationError, match=r"unique \(origin, ts\).*origin='EWR'") as error:
            run_jobs(project, start=JAN1, end=JAN15)
        messages.append(str(error.value))
        assert not feature_table_path(project, "dupes").exists()
    assert messages[1] == messages[0]


def test_schema_drift_fails_before_running(tmp_path: Path, raw: Path) -> None:
    _, spark = twins(tmp_path, raw, demo_jobs=False)
    write_job(
        spark.jobs_dir,
        "drift",
        "entities: origin\ntimestamp: ts\ncolumn: origin VARCHAR\ncolumn: ts TIMESTAMPTZ\n"
        "column: temp BIGINT",
        "SELECT origin, time_hour AS ts, CAST(time_hour AS DATE) AS temp FROM weather",
    )
    with job_fails(SchemaDriftError, match="column 'temp' is DATE, declared BIGINT"):
        run_jobs(spark, start=JAN1, end=JAN11)


def test_sql_spark_cannot_run_fails_naming_the_function_and_line(tmp_path: Path, raw: Path) -> None:
    _, spark = twins(tmp_path, raw, demo_jobs=False)
    path = write_job(
        spark.jobs_dir,
        "odd",
        "entities: origin\ntimestamp: ts",
        "SELECT origin,\n  time_hour AS ts,\n  bar(temp, 0, 100) AS bars\nFROM weather",
    )
    line = path.read_text().splitlines().index("  bar(temp, 0, 100) AS bars") + 1
    with job_fails(TranspileError) as error:
        run_jobs(spark, start=JAN1, end=JAN11)
    assert error.value.line == line
    assert f"{path}:{line}: " in str(error.value)
    assert "bar() has no Spark SQL equivalent" in str(error.value)
    assert not feature_table_path(spark, "odd").exists()
    assert runs(spark.data_dir, "odd")[0].status == "failed"


def test_timezone_of_an_untyped_value_must_be_cast(tmp_path: Path, raw: Path) -> None:
    _, spark = twins(tmp_path, raw, demo_jobs=False)
    write_job(
        spark.jobs_dir,
        "local",
        "entities: origin\ntimestamp: ts",
        "SELECT origin, timezone('America/New_York', time_hour) AS ts FROM weather",
    )
    with job_fails(TranspileError, match=r":4: timezone\(zone, x\) on Spark needs x's type"):
        run_jobs(spark, start=JAN1, end=JAN11)


def test_a_bad_master_fails_each_job_with_one_line(tmp_path: Path, raw: Path) -> None:
    from featurestore.engine import SparkSettings

    _, spark = twins(tmp_path, raw, demo_jobs=True)
    unreachable = dataclasses.replace(
        spark, engine=dataclasses.replace(spark.engine, spark=SparkSettings("spark://127.0.0.1:9"))
    )
    with pytest.raises(Exception) as raised:
        run_jobs(unreachable, ["weather_hourly"], start=JAN1, end=JAN11)
    (failed,) = raised.value.failed  # type: ignore[attr-defined]
    assert isinstance(failed.error, EngineUnavailableError)
    assert str(failed.error) == (
        "Spark master spark://127.0.0.1:9 does not accept connections "
        "(127.0.0.1:9: Connection refused)"
    )
    assert not feature_table_path(spark, "weather_hourly").exists()


def test_a_duckdb_project_never_imports_spark(tmp_path: Path, raw: Path) -> None:
    duck = make_sample_project(tmp_path / "duck", raw_from=raw)
    script = (
        "import sys; from datetime import datetime, UTC\n"
        "from featurestore.project import Project; from ingestion import run_jobs\n"
        f"run_jobs(Project.load(__import__('pathlib').Path({str(duck.root)!r})),"
        " ['weather_hourly'], start=datetime(2013, 1, 1, tzinfo=UTC),"
        " end=datetime(2013, 1, 3, tzinfo=UTC))\n"
        "assert not [m for m in sys.modules if m.startswith(('pyspark', 'py4j'))]\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.postgres
def test_every_kind_of_source_reads_alike(
    tmp_path: Path, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second test project (CSV, hive Parquet, SQLite, DuckDB file, PostgreSQL)."""
    window = {"start": datetime(2026, 1, 1, tzinfo=UTC), "end": datetime(2026, 1, 4, tzinfo=UTC)}
    duck = shop.__wrapped__(tmp_path / "duckdb", postgres_server, monkeypatch)  # type: ignore[attr-defined]
    spark = on_spark(shop.__wrapped__(tmp_path / "spark", postgres_server, monkeypatch))  # type: ignore[attr-defined]
    for project in (duck, spark):
        (result,) = run_jobs(project, **window)
        assert (result.status, result.rows) == ("success", 4)
    assert assert_same_table(duck, spark, "customer_daily") == 2
