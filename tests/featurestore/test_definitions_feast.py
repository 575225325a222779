"""Vanilla Feast reads the hive-partitioned feature tables; `feast apply` checks columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig, ValueType
from feast.types import Float64, Int64, String

from featurestore.definitions import job_feature_view, job_source
from featurestore.project import Project
from featurestore.sql import parquet_scan
from ingestion import discover_jobs, feature_table_path
from tests.conftest import ROOT, copy_project, feast_cli

pytestmark = pytest.mark.slow

AIRPORT = Entity(name="airport", join_keys=["origin"], value_type=ValueType.STRING)


@pytest.fixture(scope="module")
def vanilla(demo_project: Project, tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    """A plain Feast repo (file registry, SQLite online, DuckDB offline) over our tables."""
    folder = tmp_path_factory.mktemp("vanilla")
    config = RepoConfig(
        project="vanilla",
        provider="local",
        registry=str(folder / "registry.db"),
        online_store={"type": "sqlite", "path": str(folder / "online.db")},
        offline_store={"type": "duckdb"},
        entity_key_serialization_version=3,
        repo_path=folder,
    )
    store = FeatureStore(config=config)
    derived = job_feature_view(
        "weather_hourly",
        repo_path=demo_project.repo_path,
        entities=[AIRPORT],
        ttl=timedelta(hours=3),
    )
    # A hand-written view that leaves Feast to infer the source's timestamp column
    # and the entity column's type from the partitioned Parquet.
    inferred = FeatureView(
        name="weather_inferred",
        entities=[AIRPORT],
        ttl=timedelta(hours=3),
        schema=[Field(name="temp", dtype=Float64)],
        source=FileSource(
            name="weather_untyped_source",
            path=job_source("weather_hourly", demo_project.repo_path).path,
        ),
    )
    store.apply([AIRPORT, derived, inferred])
    return store


def _weather(settings: Project) -> pd.DataFrame:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    scan = parquet_scan(feature_table_path(settings, "weather_hourly"))
    return con.execute(f"SELECT * FROM {scan}").df()


def test_feast_apply_infers_from_a_partitioned_table(vanilla: FeatureStore) -> None:
    view = vanilla.get_feature_view("weather_inferred")
    assert view.batch_source.timestamp_field == "event_timestamp"
    assert [(f.name, f.dtype) for f in view.entity_columns] == [("origin", String)]
    derived = vanilla.get_feature_view("weather_hourly")
    declared = discover_jobs(ROOT / "ingestion" / "jobs")["weather_hourly"].features
    assert [f.name for f in derived.features] == [c.name for c in declared]
    assert {f.name: f.dtype for f in derived.features}["wind_dir"] == Int64


def test_parquet_scan_reads_every_partition(demo_project: Project) -> None:
    weather = _weather(demo_project)
    assert len(weather) == 26_115
    assert weather.partition_date.nunique() == 364  # 2013-01-01 .. 2013-12-30 UTC


def test_vanilla_historical_retrieval_reads_all_partitions(
    demo_project: Project, vanilla: FeatureStore
) -> None:
    times = ["2013-01-01T06:30:00Z", "2013-07-04T12:10:00Z", "2013-12-30T23:59:00Z"]
    entity_df = pd.DataFrame(
        {
            "origin": ["EWR", "JFK", "LGA"],
            "event_timestamp": pd.to_datetime(times, utc=True).astype("datetime64[us, UTC]"),
        }
    )
    features = ["weather_hourly:temp", "weather_hourly:wind_dir"]
    got = vanilla.get_historical_features(entity_df, features).to_df()
    got = got.sort_values("origin").reset_index(drop=True)
    weather = _weather(demo_project)
    for row in got.itertuples():
        known = weather[
            (weather.origin == row.origin)
            & (weather.event_timestamp <= row.event_timestamp)
            & (weather.event_timestamp > row.event_timestamp - pd.Timedelta(hours=3))
        ].sort_values("event_timestamp")
        assert row.temp == pytest.approx(known.temp.iloc[-1])
        assert row.wind_dir == known.wind_dir.iloc[-1]
    assert got.temp.iloc[0] == pytest.approx(39.02)  # EWR, 2013-01-01 06:00 UTC


def test_vanilla_materialize_reads_all_partitions(
    demo_project: Project, vanilla: FeatureStore
) -> None:
    end = datetime(2013, 6, 1, tzinfo=UTC)
    vanilla.materialize(datetime(2013, 5, 1, tzinfo=UTC), end, ["weather_hourly"])
    online = vanilla.get_online_features(
        features=["weather_hourly:temp"], entity_rows=[{"origin": "JFK"}]
    ).to_dict()
    weather = _weather(demo_project)
    # Feast's materialization window includes its end.
    jfk = weather[(weather.origin == "JFK") & (weather.event_timestamp <= pd.Timestamp(end))]
    assert online["temp"] == [pytest.approx(jfk.sort_values("event_timestamp").temp.iloc[-1])]


def test_feast_apply_fails_on_a_column_the_job_does_not_produce(tmp_path: Path) -> None:
    repo = copy_project(tmp_path)
    views = repo / "feature_views.py"
    text = views.read_text()
    views.write_text(
        text.replace(
            "ttl=timedelta(hours=3),", 'ttl=timedelta(hours=3),\n    features=["temp", "tempp"],'
        )
    )
    result = feast_cli(repo, "redis://127.0.0.1:1/0", "apply")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "weather_hourly.sql does not produce column(s) tempp" in output
