"""Online against offline: sampled entities read through the API's lookup, compared as
stored with the materializer's latest rows, on real tables and a real Redis."""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from featurestore import sql
from featurestore.errors import InvalidRequestError, UnknownFeatureViewError
from featurestore.monitor.consistency import consistency_report
from featurestore.monitor.model import FeatureConsistency
from featurestore.online import OnlineLookup, RegistryCache
from featurestore.project import Project
from featurestore.redis_server import LocalRedis
from featurestore.store import open_store
from tests.conftest import MATERIALIZE_END, MATERIALIZE_START
from tests.flights_sample import make_sample_project

pytestmark = pytest.mark.redis

FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))
START = datetime(2013, 1, 1, tzinfo=UTC)
# 15:00 in New York: the latest weather row's precip is 0.1, which Float32 cannot hold.
END = datetime(2013, 1, 14, 20, tzinfo=UTC)

# A view that narrows the weather table's DOUBLE and BIGINT columns to Float32 and Int32:
# Redis holds float32(0.1), the table 0.1. Compared as stored, they are the same value.
NARROW_VIEW = """

from feast import FeatureView, Field
from feast.types import Float32, Int32, String

weather_f32 = FeatureView(
    name="weather_f32",
    entities=[airport],
    ttl=timedelta(hours=3),
    schema=[
        Field(name="origin", dtype=String),
        Field(name="precip", dtype=Float32),
        Field(name="wind_dir", dtype=Int32),
    ],
    source=weather_hourly.batch_source,
)
"""


@pytest.fixture
def project(tmp_path: Path, clean_redis_url: str) -> Project:
    """The sample project (and weather_f32), jobs run over 14 days, every view but
    plane_daily materialized up to END into its own Redis database."""
    from featurestore.apply import apply
    from ingestion import run_jobs

    made = make_sample_project(tmp_path / "flights")
    views = made.repo_path / "feature_views.py"
    views.write_text(views.read_text() + NARROW_VIEW)
    made = dataclasses.replace(made, redis_url=clean_redis_url)
    run_jobs(made, start=START, end=START + timedelta(days=14))
    apply(made)
    materialized = ["weather_hourly", "carrier_daily", "weather_f32"]
    open_store(made).materialize(START, END, feature_views=materialized)
    return made


def by_feature(report: list[FeatureConsistency]) -> dict[str, FeatureConsistency]:
    return {f"{item.view}:{item.feature}": item for item in report}


def redis_contents(url: str) -> dict[bytes, dict[bytes, bytes]]:
    client: Any = redis.Redis.from_url(url)  # redis-py's types mix in its asyncio client's
    try:
        return {key: client.hgetall(key) for key in client.keys("*")}
    finally:
        client.close()


def table_files(project: Project) -> dict[str, bytes]:
    return {
        str(path): path.read_bytes()
        for path in sorted(project.layout.features.rglob("*.parquet"))
        if path.is_file()
    }


def change_jfk_weather(project: Project, since: datetime) -> None:
    """The raw weather with JFK's temperature 5 degrees higher from ``since`` on, and
    the weather job re-run over that day: the table changes, Redis does not."""
    from ingestion import run_jobs

    raw = project.root / "raw" / "weather.parquet"
    changed = raw.with_name("changed.parquet")
    con = sql.connect()
    try:
        con.execute(
            f"COPY (SELECT * REPLACE (CASE WHEN origin = 'JFK' AND time_hour >= $since "
            f"THEN temp + 5 ELSE temp END AS temp) FROM read_parquet({sql.path_literal(raw)})) "
            f"TO {sql.path_literal(changed)} (FORMAT parquet)",
            {"since": since},
        )
    finally:
        con.close()
    changed.replace(raw)
    run_jobs(project, ["weather_hourly"], start=since, end=since + timedelta(days=1))


def test_materialized_views_are_consistent(project: Project) -> None:
    report = by_feature(consistency_report(project, open_store(project)))
    weather = [name for name in report if name.startswith("weather_hourly:")]
    assert len(weather) == 9
    for name, item in report.items():
        assert (item.mismatches, item.missing_online) == (0, 0), name
        if name.startswith(("plane_daily:", "departure_status:")):
            # never materialized (and nothing was pushed to departure_status)
            assert item.sampled == 0 and item.mismatch_rate is None
        elif name.startswith("carrier_daily:"):
            assert item.sampled == 4 and item.mismatch_rate == 0.0
        else:
            assert item.sampled == 3
    assert report["weather_f32:precip"].sampled == 3


def test_float32_is_compared_as_stored(project: Project) -> None:
    """Redis holds float32(0.1) for the narrowed view: a comparison with the table's 0.1
    as it is would count every entity; as stored, none."""
    lookup = OnlineLookup(
        RegistryCache(open_store(project)), redis.Redis.from_url(project.redis_url)
    )
    try:
        answer = lookup.get_online_features(
            {"origin": ["EWR", "JFK", "LGA"]}, features=["weather_f32:precip"]
        )
    finally:
        lookup.close()
    served = answer["results"][1]["values"]
    assert served == [0.10000000149011612] * 3  # float32(0.1), not 0.1
    report = by_feature(consistency_report(project, open_store(project), views=["weather_f32"]))
    assert report["weather_f32:precip"].mismatches == 0
    assert report["weather_f32:wind_dir"].mismatches == 0
    assert report["weather_f32:precip"].sampled == 3


def test_a_changed_offline_row_is_a_mismatch(project: Project) -> None:
    change_jfk_weather(project, datetime(2013, 1, 14, tzinfo=UTC))
    online, tables = redis_contents(project.redis_url), table_files(project)
    report = by_feature(consistency_report(project, open_store(project)))
    assert redis_contents(project.redis_url) == online  # the check only reads
    assert table_files(project) == tables
    temp = report["weather_hourly:temp"]
    assert (temp.sampled, temp.mismatches, temp.missing_online) == (3, 1, 0)
    assert temp.mismatch_rate == pytest.approx(1 / 3)
    others = {name: item.mismatches for name, item in report.items() if item.mismatches}
    assert others == {"weather_hourly:temp": 1}  # weather_f32 has no temperature


def test_the_sample_is_drawn_by_seed_from_the_entities_in_key_order(project: Project) -> None:
    change_jfk_weather(project, datetime(2013, 1, 14, tzinfo=UTC))
    store = open_store(project)
    seen = set()
    for seed in range(6):
        runs = [
            by_feature(consistency_report(project, store, ["weather_hourly"], 2, seed))
            for _ in range(2)
        ]
        assert runs[0] == runs[1]
        temp = runs[0]["weather_hourly:temp"]
        jfk_drawn = 1 in random.Random(seed).sample(range(3), 2)  # EWR, JFK, LGA
        assert (temp.sampled, temp.mismatches) == (2, int(jfk_drawn))
        seen.add(jfk_drawn)
    assert seen == {True, False}  # the seeds drew different entities


def test_an_empty_online_store_is_missing_everywhere(
    project: Project, redis_server: LocalRedis
) -> None:
    empty = f"redis://127.0.0.1:{redis_server.port}/2"
    client = redis.Redis(port=redis_server.port, db=2)
    client.flushdb()
    client.close()
    elsewhere = dataclasses.replace(project, redis_url=empty)
    report = consistency_report(elsewhere, open_store(project), views=["carrier_daily"])
    assert {(i.sampled, i.mismatches, i.missing_online) for i in report} == {(4, 0, 4)}


def test_bad_requests(project: Project) -> None:
    store = open_store(project)
    with pytest.raises(UnknownFeatureViewError, match=r"unknown feature view\(s\): nope"):
        consistency_report(project, store, views=["nope"])
    with pytest.raises(InvalidRequestError, match="sample"):
        consistency_report(project, store, sample=0)


def test_cli_exit_codes(project: Project) -> None:
    env = {**os.environ, "FEATURESTORE_REDIS_URL": project.redis_url, "COLUMNS": "160"}
    base = [FEATURESTORE, "--project", str(project.root), "monitor", "consistency"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], capture_output=True, text=True, env=env)

    clean = run("--view", "weather_hourly", "--view", "carrier_daily")
    assert clean.returncode == 0, clean.stderr
    assert "weather_hourly:temp" in clean.stdout and "carrier_daily:flights_1d" in clean.stdout
    unknown = run("--view", "nope")
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == [
        "error: unknown feature view(s): nope; known feature views: carrier_daily, "
        "departure_status, plane_daily, weather_f32, weather_hourly"
    ]
    too_few = run("--sample", "0")
    assert too_few.returncode == 1 and too_few.stderr.startswith("error: sample must be")
    change_jfk_weather(project, datetime(2013, 1, 14, tzinfo=UTC))
    changed = run("--view", "weather_hourly", "--json")
    assert changed.returncode == 2, changed.stderr
    assert '"mismatches": 1' in changed.stdout


@pytest.mark.slow
def test_demo_on_real_data(demo_project: Project) -> None:
    """Every view of the demo, materialized over 2013: online equals offline."""
    report = consistency_report(demo_project, open_store(demo_project), sample=300)
    assert {(i.mismatches, i.missing_online) for i in report} == {(0, 0)}
    entities = {
        "weather_hourly": ["origin"], "carrier_daily": ["carrier"], "plane_daily": ["tailnum"],
        "departure_status": ["carrier", "origin"],
    }  # fmt: skip
    con = sql.connect()
    try:
        for view, keys in entities.items():
            scan = sql.parquet_scan(demo_project.layout.table(view))
            key = ", ".join(sql.ident(k) for k in keys)
            row = con.execute(
                f"SELECT count(DISTINCT ({key})) FROM {scan} "
                "WHERE event_timestamp BETWEEN $start AND $end",
                {"start": MATERIALIZE_START, "end": MATERIALIZE_END},
            ).fetchone()
            assert row is not None
            sampled = {i.sampled for i in report if i.view == view}
            assert sampled == {min(300, row[0])}, view
    finally:
        con.close()
    assert {i.sampled for i in report if i.view == "plane_daily"} == {300}
