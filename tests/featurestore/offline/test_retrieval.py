"""retrieve() on a tiny table: entity frame forms, the job's outputs, semantics by example."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast.errors import SavedDatasetLocationAlreadyExists
from feast.infra.offline_stores.file_source import SavedDatasetFileStorage

from featurestore.offline import ViewSpec, retrieve
from featurestore.offline.join import EntityStats, Strategy, choose_strategy
from featurestore.project import Project
from tests.featurestore.offline.conftest import T0, at


def _entities() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": [1, 2, 1, 1, 3, 1, 1],
            "event_timestamp": pd.to_datetime(
                [at(12), at(0), at(9.99), at(25), at(5), at(26), at(12)], utc=True
            ),
            "label": [0, 1, 2, 3, 4, 5, 6],
        }
    )


EXPECTED_TRIPS = [11, 20, 10, 11, None, None, 11]  # at(25): exactly 15 min old, kept


@pytest.mark.parametrize("strategy", ["asof", "range", "auto"])
def test_semantics_by_example(rides: ViewSpec, strategy: Strategy) -> None:
    job = retrieve([rides], _entities(), strategy=strategy)
    assert job.strategies["rides"] == strategy or strategy == "auto"
    frame = job.to_df()
    assert list(frame.label) == list(range(7))  # input order, duplicates kept
    assert [None if pd.isna(v) else int(v) for v in frame.trips] == EXPECTED_TRIPS
    assert list(frame.columns) == ["driver_id", "event_timestamp", "label", "trips", "rating"]
    assert str(frame.event_timestamp.dtype) == "datetime64[us, UTC]"


def test_auto_strategy_follows_entity_rows_per_key_and_ttl(rides: ViewSpec) -> None:
    day = timedelta(days=1)
    start = T0

    def choice(rows: int, keys: int, days: float, view: ViewSpec = rides) -> str:
        stats = EntityStats(start, start + days * day, rows, {("driver_id",): keys})
        return choose_strategy(view, stats)

    ttl_days = rides.ttl / day if rides.ttl else 0
    # one entity row per key per TTL: few pairs per row, a hash join beats sorting
    assert choice(1_000, 1_000, days=ttl_days * 9) == "range"
    # a hundred rows per key per TTL: each would pair with a TTL of feature rows
    assert choice(100_000, 1_000, days=ttl_days) == "asof"
    assert choice(0, 0, days=0) == "asof"
    assert choice(10, 10, days=1, view=ViewSpec(**{**rides.__dict__, "ttl": None})) == "asof"


def test_zero_ttl_means_no_limit(rides: ViewSpec) -> None:
    for ttl in (None, timedelta(0)):
        view = ViewSpec(**{**rides.__dict__, "ttl": ttl})
        frame = retrieve([view], _entities()).to_df()
        assert frame.trips.iloc[5] == 11


def test_full_feature_names(rides: ViewSpec) -> None:
    view = ViewSpec(**{**rides.__dict__, "features": {"trips": "rides__trips"}})
    assert retrieve([view], _entities()).to_arrow().column_names[-1] == "rides__trips"


def test_arrow_parquet_and_sql_frames_agree(rides: ViewSpec, tmp_path: Path) -> None:
    expected = retrieve([rides], _entities()).to_arrow()
    table = pa.Table.from_pandas(_entities(), preserve_index=False)
    pq.write_table(table, tmp_path / "entities.parquet")
    hive = tmp_path / "hive"
    pq.write_to_dataset(table, hive, partition_cols=["label"])
    assert retrieve([rides], table).to_arrow().equals(expected)
    assert retrieve([rides], tmp_path / "entities.parquet").to_arrow().equals(expected)
    sql = f"SELECT * FROM read_parquet('{tmp_path / 'entities.parquet'}') ORDER BY label"
    assert retrieve([rides], sql).to_arrow().equals(expected)
    by_label = retrieve([rides], hive).to_df().sort_values("label").reset_index(drop=True)
    assert list(by_label.trips.fillna(-1)) == [v if v else -1 for v in EXPECTED_TRIPS]


def test_sql_over_project_tables(rides: ViewSpec, tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "feature_store.yaml").write_text("project: p\nregistry: r.db\n")
    (tmp_path / "featurestore.yaml").write_text(
        "name: p\nfeast_repo: repo\nsources:\n"
        "  labels: {format: parquet, path: raw/labels.parquet}\n"
    )
    (tmp_path / "raw").mkdir()
    _entities().to_parquet(tmp_path / "raw" / "labels.parquet")
    project = Project.load(tmp_path)
    job = retrieve([rides], "SELECT * FROM labels ORDER BY label", project=project)
    assert job.to_df().trips.tolist()[:2] == [11, 20]


def test_other_timestamp_names_naive_and_ns(rides: ViewSpec) -> None:
    frame = _entities().rename(columns={"event_timestamp": "ts"})
    frame["ts"] = frame.ts.dt.tz_localize(None).astype("datetime64[ns]")  # naive is UTC
    out = retrieve([rides], frame).to_df()  # the only timestamp column is the one
    assert [None if pd.isna(v) else int(v) for v in out.trips] == EXPECTED_TRIPS
    assert out.ts.iloc[0] == pd.Timestamp(at(12))


def test_empty_frame(rides: ViewSpec) -> None:
    frame = _entities().iloc[:0]
    assert retrieve([rides], frame).to_df().shape == (0, 5)


def test_to_parquet_streams_the_same_rows(rides: ViewSpec, tmp_path: Path) -> None:
    seen: list[float] = []
    job = retrieve([rides], _entities(), progress=seen.append)
    assert job.to_parquet(tmp_path / "out" / "train.parquet") == 7
    assert pq.read_table(tmp_path / "out" / "train.parquet").equals(job.to_arrow())
    assert seen and seen[-1] == 100.0
    assert sum(batch.num_rows for batch in job.to_batches(batch_size=2)) == 7


def test_persist_to_saved_dataset_storage(rides: ViewSpec, tmp_path: Path) -> None:
    job = retrieve([rides], _entities(), repo_path=tmp_path)
    job.persist(SavedDatasetFileStorage(path="saved.parquet"))  # relative to the repo
    assert pq.read_table(tmp_path / "saved.parquet").num_rows == 7
    with pytest.raises(SavedDatasetLocationAlreadyExists):
        job.persist(SavedDatasetFileStorage(path="saved.parquet"))
    job.persist(SavedDatasetFileStorage(path="saved.parquet"), allow_overwrite=True)
    job.persist(SavedDatasetFileStorage(path=str(tmp_path / "folder")))
    assert pq.read_table(tmp_path / "folder" / "part-0.parquet").num_rows == 7


def test_metadata_and_sql(rides: ViewSpec) -> None:
    job = retrieve([rides], _entities())
    assert job.metadata.min_event_timestamp == T0
    assert job.metadata.max_event_timestamp == at(26)
    assert job.metadata.features == ["rides:trips", "rides:rating"]
    assert job.metadata.keys == ["driver_id", "label"]
    assert "ASOF LEFT JOIN" in retrieve([rides], _entities(), strategy="asof").to_sql()


@pytest.mark.parametrize("ttl_us", [1, 2, 3, 7, 1_000_000])
def test_range_join_buckets_agree_with_asof_before_and_after_1970(
    tmp_path: Path, ttl_us: int
) -> None:
    """The range join probes time buckets a TTL/2 wide: rows exactly at the TTL, on
    bucket edges and at negative epoch times (floored, not truncated) still match."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    offsets = [-2_000_003, -1_000_001, -7, -3, -2, -1, 0, 1, 2, 3, 5, 7, 999_999, 1_000_000]
    table = pa.table(
        {
            "k": pa.array([i % 2 for i in range(len(offsets))], pa.int64()),
            "ts": pa.array(
                [epoch + timedelta(microseconds=o) for o in offsets], pa.timestamp("us", tz="UTC")
            ),
            "v": pa.array(range(len(offsets)), pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    view = ViewSpec(
        name="t",
        path=str(tmp_path / "t.parquet"),
        join_keys={"k": "k"},
        features={"v": "v"},
        timestamp_field="ts",
        ttl=timedelta(microseconds=ttl_us),
    )
    probes = [o + d for o in offsets for d in (-1, 0, 1, ttl_us - 1, ttl_us, ttl_us + 1)]
    entities = pd.DataFrame(
        {
            "k": [i % 2 for i in range(len(probes))] + [1 - i % 2 for i in range(len(probes))],
            "event_timestamp": [epoch + timedelta(microseconds=p) for p in probes * 2],
        }
    )
    asof = retrieve([view], entities, strategy="asof").to_arrow()
    ranged = retrieve([view], entities, strategy="range")
    assert ranged.strategies == {"t": "range"}
    assert ranged.to_arrow().equals(asof)
    assert asof.column("v").null_count < asof.num_rows  # some rows do match
