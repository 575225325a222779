"""Freshness per feature view: newest offline event, last materialization, served age and
the objective from each of its four sources, on real tables, registries and Redis."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from featurestore import sql
from featurestore.monitor.freshness import at, freshness_report, newest_event
from featurestore.monitor.model import Freshness
from featurestore.project import Project
from featurestore.store import open_store
from tests.conftest import MATERIALIZE_END
from tests.flights_sample import make_sample_project

pytestmark = pytest.mark.redis

FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))
START = datetime(2013, 1, 1, tzinfo=UTC)
DAYS = 14
WEATHER_END = datetime(2013, 1, 15, tzinfo=UTC)  # after the newest weather event
CARRIER_END = datetime(2013, 1, 10, tzinfo=UTC)  # before the newest carrier event
WEEKS_1000 = 1000 * 7 * 86_400.0  # weather_hourly's objective: fresh today for 2013 data

# A view over a raw file that no job writes, with no TTL: its objective is the default
# schedule's, its newest event that of the raw file (a relative path: the repo's).
RAW_VIEW = """

from feast import FeatureView, Field, FileSource
from feast.types import Float64, String

weather_raw = FeatureView(
    name="weather_raw",
    entities=[airport],
    ttl=timedelta(0),
    schema=[Field(name="origin", dtype=String), Field(name="temp", dtype=Float64)],
    source=FileSource(
        name="weather_raw_source", path="../raw/weather.parquet", timestamp_field="time_hour"
    ),
)
"""


def freshness_project(root: Path, redis_url: str) -> Project:
    """The sample project with an objective from each source: weather_hourly from the
    project file (1000w), plane_daily from its job header (26h), carrier_daily from its
    TTL (2d), weather_raw from the schedule (2d). Jobs run over 14 days, applied;
    weather_hourly materialized up to 2013-01-15, carrier_daily up to 2013-01-10,
    plane_daily and weather_raw never."""
    from featurestore.apply import apply
    from ingestion import run_jobs

    project = make_sample_project(root)
    assert project.project_file is not None
    spec = yaml.safe_load(project.project_file.read_text())
    spec["monitor"] = {"freshness": {"weather_hourly": "1000w"}}
    project.project_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    job = project.jobs_dir / "plane_daily.sql"
    job.write_text(job.read_text().replace("-- grain: day\n", "-- grain: day\n-- freshness: 26h\n"))
    views = project.repo_path / "feature_views.py"
    views.write_text(views.read_text() + RAW_VIEW)
    project = dataclasses.replace(Project.load(project.root), redis_url=redis_url)
    run_jobs(project, start=START, end=START + timedelta(days=DAYS))
    apply(project)
    store = open_store(project)
    store.materialize(START, WEATHER_END, feature_views=["weather_hourly"])
    store.materialize(START, CARRIER_END, feature_views=["carrier_daily"])
    return project


@pytest.fixture
def project(tmp_path: Path, clean_redis_url: str) -> Project:
    return freshness_project(tmp_path / "flights", clean_redis_url)


def duckdb_max(path: Path | str, column: str) -> datetime:
    """The oracle: a full scan's newest event, in UTC."""
    con = sql.connect()
    try:
        row = con.execute(
            f"SELECT max({sql.ident(column)}) FROM {sql.parquet_scan(path)}"
        ).fetchone()
    finally:
        con.close()
    assert row is not None and row[0] is not None
    value: datetime = row[0]
    return value.astimezone(UTC)


def by_view(report: list[Freshness]) -> dict[str, Freshness]:
    return {item.view: item for item in report}


def test_objective_from_each_source(project: Project) -> None:
    report = by_view(freshness_report(project, open_store(project)))
    assert sorted(report) == [
        "carrier_daily", "departure_status", "plane_daily", "weather_hourly", "weather_raw",
    ]  # fmt: skip
    objectives = {v: (f.objective_seconds, f.objective_source) for v, f in report.items()}
    # The pushed view: its push header's `-- freshness: 2h`, read like a job header's.
    assert objectives.pop("departure_status") == (2 * 3600.0, "job header")
    assert objectives == {
        "weather_hourly": (WEEKS_1000, "monitor.freshness"),  # wins over its 3h TTL
        "plane_daily": (26 * 3600.0, "job header"),  # wins over its 90d TTL
        "carrier_daily": (2 * 86_400.0, "ttl"),
        "weather_raw": (2 * 86_400.0, "schedule"),  # no job, no TTL: twice a day
    }


def test_newest_event_last_materialization_and_served_age(project: Project) -> None:
    now = datetime(2013, 2, 1, 12, tzinfo=UTC)
    report = by_view(freshness_report(project, open_store(project), now=now))
    tables = project.layout
    weather = report["weather_hourly"]
    newest = duckdb_max(tables.table("weather_hourly"), "event_timestamp")
    assert weather.newest_event == newest < WEATHER_END
    assert weather.last_materialized == WEATHER_END
    assert weather.served_age_seconds == (now - newest).total_seconds()
    assert weather.checked_at == now and not weather.stale and weather.note == ""

    carrier = report["carrier_daily"]  # materialized up to before its newest event
    newest = duckdb_max(tables.table("carrier_daily"), "event_timestamp")
    assert carrier.newest_event == newest > CARRIER_END
    assert carrier.last_materialized == CARRIER_END
    assert carrier.served_age_seconds == (now - CARRIER_END).total_seconds()
    assert carrier.stale  # 22 days served against 2 days

    plane = report["plane_daily"]
    assert plane.newest_event == duckdb_max(tables.table("plane_daily"), "event_timestamp")
    assert plane.last_materialized is None and plane.served_age_seconds is None
    assert plane.stale and plane.note == "never materialized"

    raw = report["weather_raw"]
    assert raw.newest_event == duckdb_max(project.root / "raw" / "weather.parquet", "time_hour")
    assert raw.last_materialized is None and raw.stale


def test_stale_against_fresh_by_now(project: Project) -> None:
    store = open_store(project)
    first = by_view(freshness_report(project, store))
    newest = first["weather_hourly"].newest_event
    assert newest is not None
    assert not first["weather_hourly"].stale  # 2013 data, 1000 weeks: fresh today
    just_in = newest + timedelta(seconds=WEEKS_1000)
    just_out = just_in + timedelta(seconds=1)
    assert not by_view(freshness_report(project, store, now=just_in))["weather_hourly"].stale
    assert by_view(freshness_report(project, store, now=just_out))["weather_hourly"].stale
    carrier_out = CARRIER_END + timedelta(days=2, seconds=1)
    carrier_in = CARRIER_END + timedelta(days=2)
    assert by_view(freshness_report(project, store, now=carrier_out))["carrier_daily"].stale
    assert not by_view(freshness_report(project, store, now=carrier_in))["carrier_daily"].stale
    # ``at`` moves a report in time without reading anything: the same answers.
    moved = at(first["weather_hourly"], just_out)
    assert moved == by_view(freshness_report(project, store, now=just_out))["weather_hourly"]


def test_a_new_run_moves_the_newest_event(project: Project) -> None:
    from ingestion import run_jobs

    store = open_store(project)
    before = by_view(freshness_report(project, store))["weather_hourly"].newest_event
    end = START + timedelta(days=DAYS + 2)
    run_jobs(project, ["weather_hourly"], start=START + timedelta(days=DAYS), end=end)
    after = by_view(freshness_report(project, store))["weather_hourly"].newest_event
    assert before is not None and after is not None and after > before
    assert after == duckdb_max(project.layout.table("weather_hourly"), "event_timestamp")


def test_footers_without_statistics_fall_back_to_a_scan(tmp_path: Path) -> None:
    folder = tmp_path / "source"
    (folder / "part=a").mkdir(parents=True)
    (folder / "part=b").mkdir()
    (folder / "part=c").mkdir()
    moments = [datetime(2020, 1, d, tzinfo=UTC) for d in (1, 2, 3)]
    with_stats = pa.table({"ts": pa.array(moments[:2], pa.timestamp("us", tz="UTC"))})
    pq.write_table(with_stats, folder / "part=a" / "f.parquet")
    newest_in = pa.table({"ts": pa.array([moments[2], None], pa.timestamp("us", tz="UTC"))})
    pq.write_table(newest_in, folder / "part=b" / "f.parquet", write_statistics=False)
    nulls = pa.table({"ts": pa.array([None, None], pa.timestamp("us", tz="UTC"))})
    pq.write_table(nulls, folder / "part=c" / "f.parquet")
    assert newest_event(str(folder), "ts") == moments[2]
    # Nanoseconds without a zone are UTC (microseconds kept), one file answers alone.
    naive = pa.table({"ts": pa.array([1_600_000_000_123_456_789], pa.timestamp("ns"))})
    pq.write_table(naive, tmp_path / "naive.parquet")
    assert newest_event(str(tmp_path / "naive.parquet"), "ts") == datetime(
        2020, 9, 13, 12, 26, 40, 123456, tzinfo=UTC
    )
    assert newest_event(str(tmp_path / "nothing.parquet"), "ts") is None


@pytest.mark.slow
def test_demo_on_real_data(demo_project: Project) -> None:
    """The demo's job views have no objective but their TTL; materialized up to
    2014-01-02 (departure_status's pushed December rows compacted before)."""
    now = MATERIALIZE_END + timedelta(hours=1)
    report = by_view(freshness_report(demo_project, open_store(demo_project), now=now))
    ttls = {"weather_hourly": 3 * 3600.0, "carrier_daily": 2 * 86_400.0}
    ttls["plane_daily"] = 90 * 86_400.0
    ttls["departure_status"] = 2 * 3600.0
    objectives = {v: (f.objective_seconds, f.objective_source) for v, f in report.items()}
    # the push header declares freshness: 2h (departure_status.push), read like a job's
    assert objectives.pop("departure_status") == (2 * 3600.0, "job header")
    assert objectives == {
        view: (ttl, "ttl") for view, ttl in ttls.items() if view != "departure_status"
    }
    for view, item in report.items():
        newest = duckdb_max(demo_project.layout.table(view), "event_timestamp")
        assert item.newest_event == newest
        assert item.last_materialized == MATERIALIZE_END
        served = (now - min(newest, MATERIALIZE_END)).total_seconds()
        assert item.served_age_seconds == served
        assert item.stale == (served > ttls[view])
    assert report["weather_hourly"].stale and not report["plane_daily"].stale
    assert all(item.stale for item in freshness_report(demo_project, open_store(demo_project)))


def test_cli_table_json_and_exit_code(project: Project) -> None:
    env = {**os.environ, "FEATURESTORE_REDIS_URL": project.redis_url, "COLUMNS": "160"}
    base = [FEATURESTORE, "--project", str(project.root), "monitor", "freshness"]
    shown = subprocess.run(base, capture_output=True, text=True, env=env, check=False)
    assert shown.returncode == 2, shown.stderr  # plane_daily was never materialized
    assert "weather_hourly" in shown.stdout and "stale" in shown.stdout
    dumped = subprocess.run([*base, "--json"], capture_output=True, text=True, env=env)
    assert dumped.returncode == 2, dumped.stderr
    rows = {row["view"]: row for row in json.loads(dumped.stdout)}
    assert rows["plane_daily"]["objective_source"] == "job header"
    assert rows["plane_daily"]["served_age_seconds"] is None and rows["plane_daily"]["stale"]
    assert rows["weather_hourly"]["last_materialized"] == WEATHER_END.isoformat()
    assert rows["weather_hourly"]["stale"] is False
