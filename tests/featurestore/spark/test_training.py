"""Training sets on Spark (``featurestore.spark.training``) equal the DuckDB join's.

- Hand-made tables and entity rows that hit every rule of ``featurestore.offline.join``
  (TTL misses, created-timestamp ties, duplicates, rows before any feature row, null
  keys, nanoseconds, three views with different keys), each entity frame form and
  strategy: Spark equals DuckDB (``assert_frame_equal``: values, dtypes, order) and the
  brute-force oracle; then larger random tables, the same three ways.
- Bad requests raise the same errors as on DuckDB, and no Spark job runs.
- Feast's own Spark offline store on the same tables: equal once its rows are put back
  in entity order and its naive timestamps read as UTC; two of its bugs are named.
- Selecting the engine: ``feature_store.yaml``, the environment, ``use_engine``.
- The demo project: a feature service's training set, notebook API and CLI.

Every test runs on the test run's one Spark session (``tests/spark.py``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64, String
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from featurestore.engine import EngineConfig
from featurestore.errors import (
    EntityColumnTypeError,
    EntityTimestampError,
    FeatureStoreError,
    InvalidRequestError,
    MissingJoinKeyError,
    UnknownFeatureError,
)
from featurestore.feast_plugins.offline_store import TYPE_NAME, use_engine
from featurestore.offline import DuckDBRetrievalJob, ViewSpec, retrieve
from featurestore.offline.join import Strategy
from featurestore.project import Project
from featurestore.spark.training import SparkRetrievalJob
from featurestore.spark.training import retrieve as spark_retrieve
from featurestore.store import open_store
from featurestore.training import build_training_set, label_query
from tests.featurestore.offline.oracle import OracleView, point_in_time
from tests.spark import SPARK

pytestmark = pytest.mark.usefixtures("spark")

BASE = datetime(2024, 3, 10, 5, 0, tzinfo=UTC)  # a DST change in New York
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _at(minutes: float | None) -> datetime | None:
    return None if minutes is None else BASE + timedelta(minutes=minutes)


def _naive(minutes: float) -> datetime:
    return (BASE + timedelta(minutes=minutes)).replace(tzinfo=None)


# -- hand-made tables ----------------------------------------------------------------

SCHEMA_A = pa.schema([("k1", pa.int64()), ("event_ts", pa.timestamp("us", tz="UTC")),
                      ("created", pa.timestamp("us", tz="UTC")), ("fa", pa.float64()),
                      ("ga", pa.string())])  # fmt: skip
SCHEMA_B = pa.schema([("k1", pa.int64()), ("k2", pa.string()), ("ts", pa.timestamp("us")),
                      ("fb", pa.int64())])  # fmt: skip
SCHEMA_C = pa.schema([("raw_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")),
                      ("raw_h", pa.float64())])  # fmt: skip

# View a: key k1, a created timestamp, TTL 5 minutes.
A_ROWS = [
    (1, 0, 0, 1.0, "p"),
    (1, 4, 5, 2.0, "q"),  # ties at minute 4: created 5 beats 4 and a null
    (1, 4, None, 3.0, "r"),
    (1, 4, 4, 4.0, "s"),
    (1, 10, None, 5.0, "t"),  # the only row at 10: a null created timestamp still counts
    (2, 3, 3, 6.0, None),
    (None, 1, 1, 7.0, "n"),  # a null key never matches
    (3, None, None, 8.0, "z"),  # nor a null timestamp
]
# View b: keys (k1, k2), naive timestamps (UTC), no TTL.
B_ROWS = [(1, "x", 2, 10), (1, "x", 8, 11), (1, "y", 5, 12), (2, "x", 0, None)]
# View c: key id (the table's raw_id) matched to the entity column k3, h from raw_h, TTL 12 min.
C_ROWS = [("u", 0, 0.1), ("u", 15, 0.2), ("v", 6, 0.3)]
TTLS = {"a": timedelta(minutes=5), "b": None, "c": timedelta(minutes=12)}

# Entity rows: k1, k2, k3, minutes, nanoseconds added.
ENTITY_ROWS = [
    (1, "x", "u", 4, 0),  # a: the created-timestamp tie; b: minute 2; c: minute 0
    (1, "x", "u", 4, 0),  # the same row again
    (1, "y", "v", 9, 0),  # a: exactly the TTL old, so it counts
    (1, "x", "u", 10, 0),  # a: the row with a null created timestamp
    (1, "x", "u", 9.5, 0),  # a: 5.5 minutes old, a TTL miss: nulls, the row stays
    (2, "x", "w", 2, 0),  # a: before k1=2's first row; b: a null feature value
    (None, "x", "u", 5, 0),  # a null key
    (3, "y", "u", 30, 0),  # c: 15 minutes old, past its TTL
    (1, "x", "u", -5, 0),  # before every feature row
    (2, "x", "v", 3, 999),  # floored to minute 3: a's row at 3 counts
    (2, "x", "v", 3, -1),  # floored to a microsecond before: it does not
]


@dataclasses.dataclass(frozen=True)
class Tables:
    """Three feature tables on disk, the oracle's view of them, and the entity frame."""

    folder: Path
    paths: dict[str, str]
    rows: dict[str, list[dict[str, Any]]]
    ttls: dict[str, timedelta | None]
    entities: pa.Table  # k1, k2, k3, event_timestamp (ns, UTC), label

    def views(self, full_names: bool = False) -> list[ViewSpec]:
        def name(view: str, feature: str) -> str:
            return f"{view}__{feature}" if full_names else feature

        return [
            ViewSpec("a", self.paths["a"], {"k1": "k1"}, {"fa": name("a", "fa"),
                     "ga": name("a", "ga")}, "event_ts", "created", self.ttls["a"]),
            ViewSpec("b", self.paths["b"], {"k1": "k1", "k2": "k2"}, {"fb": name("b", "fb")},
                     "ts", None, self.ttls["b"]),
            ViewSpec("c", self.paths["c"], {"id": "k3"}, {"h": name("c", "h")}, "ts", None,
                     self.ttls["c"], field_mapping={"raw_h": "h", "raw_id": "id"}),
        ]  # fmt: skip

    def oracle(self, full_names: bool = False) -> list[dict[str, Any]]:
        def name(view: str, feature: str) -> str:
            return f"{view}__{feature}" if full_names else feature

        views = [
            OracleView(self.rows["a"], {"k1": "k1"}, {"fa": name("a", "fa"),
                       "ga": name("a", "ga")}, "event_ts", "created", self.ttls["a"]),
            OracleView(self.rows["b"], {"k1": "k1", "k2": "k2"}, {"fb": name("b", "fb")},
                       "ts", None, self.ttls["b"]),
            OracleView(self.rows["c"], {"raw_id": "k3"}, {"raw_h": name("c", "h")}, "ts",
                       None, self.ttls["c"]),
        ]  # fmt: skip
        return point_in_time(self.entities.to_pylist(), "event_timestamp", views)

    def entity_input(self, form: str) -> Any:
        """The entity frame as a caller would give it, in one of five forms."""
        floored = pc.floor_temporal(self.entities["event_timestamp"], unit="microsecond")
        micros = self.entities.set_column(
            3, "event_timestamp", floored.cast(pa.timestamp("us", tz="UTC"))
        )
        if form == "pandas_naive":  # nanoseconds, no time zone: UTC
            frame = self.entities.to_pandas()
            frame["event_timestamp"] = frame.event_timestamp.dt.tz_localize(None)
            return frame
        if form == "pandas_aware":  # nanoseconds, New York time
            frame = self.entities.to_pandas()
            frame["event_timestamp"] = frame.event_timestamp.dt.tz_convert("America/New_York")
            return frame
        if form == "arrow":
            return micros
        path = self.folder / "entities.parquet"
        pq.write_table(micros, path)
        if form == "parquet":
            return path
        assert form == "sql"
        return f"SELECT * FROM read_parquet('{path}') ORDER BY label"


def _entity_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    stamps = [
        (BASE + timedelta(minutes=m) - EPOCH) // timedelta(microseconds=1) * 1000 + ns
        for *_, m, ns in rows
    ]
    return pa.table(
        {
            "k1": pa.array([r[0] for r in rows], pa.int64()),
            "k2": pa.array([r[1] for r in rows], pa.string()),
            "k3": pa.array([r[2] for r in rows], pa.string()),
            "event_timestamp": pa.array(stamps, pa.timestamp("ns", tz="UTC")),
            "label": pa.array(range(len(rows)), pa.int64()),
        }
    )


def write_tables(
    folder: Path,
    a: list[dict[str, Any]],
    b: list[dict[str, Any]],
    c: list[dict[str, Any]],
    entities: pa.Table,
    ttls: dict[str, timedelta | None],
) -> Tables:
    """View a as our storage lays a table out (a link to a version folder of hive
    partitions), b and c as single files."""
    folder.mkdir(parents=True, exist_ok=True)
    version = folder / ".versions" / "a" / "20240310T050000000000Z"
    table_a = pa.Table.from_pylist(a, SCHEMA_A)
    if table_a.num_rows:
        parts = pa.array([f"p{i % 2}" for i in range(table_a.num_rows)], pa.string())
        pq.write_to_dataset(table_a.append_column("part", parts), version, partition_cols=["part"])
    else:  # an empty dataset writes no file
        version.mkdir(parents=True)
        pq.write_table(table_a, version / "part-0.parquet")
    (folder / "a.parquet").symlink_to(version, target_is_directory=True)
    b_naive = [{**r, "ts": r["ts"].replace(tzinfo=None)} for r in b]
    pq.write_table(pa.Table.from_pylist(b_naive, SCHEMA_B), folder / "b.parquet")
    pq.write_table(pa.Table.from_pylist(c, SCHEMA_C), folder / "c.parquet")
    paths = {name: str(folder / f"{name}.parquet") for name in "abc"}
    return Tables(folder, paths, {"a": a, "b": b, "c": c}, ttls, entities)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Tables:
    a = [dict(zip(SCHEMA_A.names, (k, _at(t), _at(c), f, g), strict=True))
         for k, t, c, f, g in A_ROWS]  # fmt: skip
    b = [dict(zip(SCHEMA_B.names, (k1, k2, _at(t), f), strict=True)) for k1, k2, t, f in B_ROWS]
    c = [dict(zip(SCHEMA_C.names, (k, _at(t), h), strict=True)) for k, t, h in C_ROWS]
    folder = tmp_path_factory.mktemp("spark_training")
    return write_tables(folder, a, b, c, _entity_table(ENTITY_ROWS), TTLS)


def _both(
    spark: SparkSession, tables: Tables, form: str, strategy: Strategy, full_names: bool
) -> tuple[SparkRetrievalJob, DuckDBRetrievalJob]:
    views = tables.views(full_names)
    ours = spark_retrieve(spark, views, tables.entity_input(form), strategy=strategy)
    duck = retrieve(views, tables.entity_input(form), strategy=strategy)
    return ours, duck


@pytest.mark.parametrize(
    ("form", "strategy", "full_names"),
    [
        ("pandas_naive", "auto", False),
        ("pandas_aware", "asof", True),
        ("arrow", "range", False),
        ("parquet", "asof", False),
        ("sql", "range", True),
    ],
)
def test_equals_duckdb_and_the_oracle(
    spark: SparkSession, tables: Tables, form: str, strategy: Strategy, full_names: bool
) -> None:
    ours, duck = _both(spark, tables, form, strategy, full_names)
    got = ours.to_arrow()
    expected = duck.to_arrow()
    assert got.schema == expected.schema
    pd.testing.assert_frame_equal(got.to_pandas(), expected.to_pandas())
    assert got.to_pylist() == tables.oracle(full_names)
    assert list(got["label"].to_pylist()) == list(range(len(ENTITY_ROWS)))
    assert ours.strategies == duck.strategies
    assert set(ours.strategies) == {"a", "b", "c"}
    assert ours.metadata.min_event_timestamp == duck.metadata.min_event_timestamp
    assert ours.metadata.max_event_timestamp == duck.metadata.max_event_timestamp
    assert ours.metadata.keys == duck.metadata.keys


def test_the_rules_by_example(spark: SparkSession, tables: Tables) -> None:
    """What the hand-made rows are there for, read off the Spark result."""
    frame = spark_retrieve(spark, tables.views(), tables.entity_input("arrow")).to_df()
    fa = frame.fa.tolist()
    assert fa[0] == fa[1] == 2.0  # created 5 wins the tie; the duplicate row too
    assert fa[2] == 2.0  # exactly the TTL old
    assert fa[3] == 5.0  # a null created timestamp, no tie
    assert np.isnan(fa[4]) and frame.label[4] == 4  # TTL miss: nulls, row kept
    assert np.isnan(fa[5]) and pd.isna(frame.fb[5])  # b matched a null value
    assert frame.h.tolist()[6] == 0.1 and np.isnan(fa[6])  # null key: a misses, c matches
    assert fa[9] == 6.0 and np.isnan(fa[10])  # nanoseconds floored
    assert str(frame.event_timestamp.dtype) == "datetime64[us, UTC]"


def test_to_spark_df_to_parquet_and_progress(
    spark: SparkSession, tables: Tables, tmp_path: Path
) -> None:
    job = spark_retrieve(spark, tables.views(True), tables.entity_input("arrow"))
    seen: list[float] = []
    job.progress = seen.append
    expected = job.to_arrow()
    assert seen[-1] == 100.0 and seen == sorted(seen)
    in_spark = job.to_spark_df()
    assert in_spark.columns == job.columns == expected.column_names
    assert in_spark.toArrow().to_pylist() == expected.to_pylist()
    assert job.to_parquet(tmp_path / "out" / "train.parquet") == len(ENTITY_ROWS)
    assert pq.read_table(tmp_path / "out" / "train.parquet").equals(expected)


def test_empty_entity_frame(spark: SparkSession, tables: Tables) -> None:
    empty = tables.entity_input("arrow").slice(0, 0)
    ours = spark_retrieve(spark, tables.views(), empty).to_arrow()
    assert ours.num_rows == 0
    assert ours.schema == retrieve(tables.views(), empty).to_arrow().schema


def test_no_feature_views_gives_the_entity_frame_like_duckdb(
    spark: SparkSession, tables: Tables
) -> None:
    # Feast asks for no views when every feature comes from an on-demand view fed by a
    # request source alone.
    entities = tables.entity_input("arrow")
    ours = spark_retrieve(spark, [], entities).to_arrow()
    assert ours.equals(retrieve([], entities).to_arrow())
    assert ours.num_rows == entities.num_rows


# -- random tables ---------------------------------------------------------------------


def _unique(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(tuple(row[c] for c in key), row)
    return list(seen.values())


def _random_tables(folder: Path, seed: int) -> Tables:
    """Few keys, minute timestamps: equal timestamps, rows exactly at the TTL, ties and
    misses are common. Rows tying on (keys, timestamp, created) are dropped: which of
    them wins is arbitrary on every engine."""
    rng = np.random.default_rng(seed)

    def maybe(value: Any, share: float = 0.1) -> Any:
        return None if rng.random() < share else value

    minute = lambda: int(rng.integers(0, 60))  # noqa: E731
    a = _unique([{"k1": maybe(int(rng.integers(1, 6))), "event_ts": maybe(_at(minute())),
                  "created": maybe(_at(minute()), 0.3), "fa": maybe(float(rng.normal())),
                  "ga": maybe(str(rng.choice(["p", "q", "r"])))}
                 for _ in range(300)], ("k1", "event_ts", "created"))  # fmt: skip
    b = _unique([{"k1": int(rng.integers(1, 6)), "k2": str(rng.choice(["x", "y"])),
                  "ts": _at(minute()), "fb": maybe(int(rng.integers(-99, 99)))}
                 for _ in range(200)], ("k1", "k2", "ts"))  # fmt: skip
    c = _unique([{"raw_id": str(rng.choice(["u", "v", "w"])), "ts": _at(minute()),
                  "raw_h": float(rng.random())} for _ in range(100)], ("raw_id", "ts"))  # fmt: skip
    rows = [(maybe(int(rng.integers(1, 7))), str(rng.choice(["x", "y"])),
             str(rng.choice(["u", "v", "z"])), minute(), int(rng.choice([0, 0, 1, 999, -1])))
            for _ in range(200)]  # fmt: skip
    ttl_choices = [None, timedelta(0), timedelta(minutes=5), timedelta(minutes=17)]
    ttls = {name: ttl_choices[int(rng.integers(0, 4))] for name in "abc"}
    ttls["a"] = ttls["a"] or timedelta(minutes=7)  # the range join needs a TTL somewhere
    return write_tables(folder, a, b, c, _entity_table(rows), ttls)


@pytest.mark.parametrize(("seed", "strategy"), [(1, "asof"), (1, "range"), (2, "auto")])
def test_random_tables_equal_duckdb_and_the_oracle(
    spark: SparkSession, tmp_path: Path, seed: int, strategy: Strategy
) -> None:
    tables = _random_tables(tmp_path, seed)
    ours, duck = _both(spark, tables, "pandas_naive", strategy, False)
    got, expected = ours.to_arrow(), duck.to_arrow()
    assert got.schema == expected.schema
    pd.testing.assert_frame_equal(got.to_pandas(), expected.to_pandas())
    assert got.to_pylist() == tables.oracle()


# -- bad requests ----------------------------------------------------------------------


@contextmanager
def no_spark_jobs(spark: SparkSession) -> Iterator[None]:
    """Fails if a Spark job ran inside the block (this thread's jobs, by job group)."""
    context = spark.sparkContext
    group = f"bad-request-{os.getpid()}"
    context.setLocalProperty("spark.jobGroup.id", group)
    try:
        yield
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
    assert list(context.statusTracker().getJobIdsForGroup(group)) == []


def _bad_requests(tables: Tables) -> dict[str, tuple[type[FeatureStoreError], list[Any], Any]]:
    views = tables.views()
    frame = tables.entity_input("arrow")
    unknown = dataclasses.replace(views[0], features={"nope": "nope"})
    missing = dataclasses.replace(views[2], path=str(tables.folder / "nowhere.parquet"))
    return {
        "missing join key": (MissingJoinKeyError, views, frame.drop_columns(["k3"])),
        "unknown feature": (UnknownFeatureError, [unknown, *views[1:]], frame),
        "join key of another type": (
            EntityColumnTypeError, views, frame.set_column(0, "k1", frame["k1"].cast(pa.string()))
        ),
        "a column twice": (InvalidRequestError, views, frame.append_column("fa", frame["label"])),
        "no timestamp column": (
            EntityTimestampError, views, frame.drop_columns(["event_timestamp"])
        ),
        "a table that is not there": (InvalidRequestError, [*views[:2], missing], frame),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    ["missing join key", "unknown feature", "join key of another type", "a column twice",
     "no timestamp column", "a table that is not there"],
)  # fmt: skip
def test_bad_requests_fail_like_duckdb_before_any_spark_job(
    spark: SparkSession, tables: Tables, case: str
) -> None:
    error, views, frame = _bad_requests(tables)[case]
    with pytest.raises(error) as on_duckdb:
        retrieve(views, frame)
    with no_spark_jobs(spark), pytest.raises(error) as on_spark:
        spark_retrieve(spark, views, frame)
    assert type(on_spark.value) is type(on_duckdb.value)
    assert str(on_spark.value) == str(on_duckdb.value)


# -- Feast: our store on either engine, and Feast's Spark offline store -------------------

E1 = Entity(name="e1", join_keys=["k1"], value_type=ValueType.INT64)
E2 = Entity(name="e2", join_keys=["k2"], value_type=ValueType.STRING)
E3 = Entity(name="e3", join_keys=["k3"], value_type=ValueType.STRING)
REFS = ["a:fa", "a:ga", "b:fb", "c:h"]


def _views(tables: Tables, source: Any) -> list[FeatureView]:
    """Feast views over ``tables`` (c's key column named k3, as Feast's join needs)."""
    c_path = tables.folder / "c_k3.parquet"
    if not c_path.exists():
        renamed = pq.read_table(tables.paths["c"]).rename_columns(["k3", "ts", "raw_h"])
        pq.write_table(renamed, c_path)
    return [
        FeatureView(name="a", entities=[E1], ttl=tables.ttls["a"] or timedelta(0),
                    schema=[Field(name="k1", dtype=Int64), Field(name="fa", dtype=Float64),
                            Field(name="ga", dtype=String)],
                    source=source("a", tables.paths["a"], timestamp_field="event_ts",
                                  created_timestamp_column="created")),
        FeatureView(name="b", entities=[E1, E2], ttl=tables.ttls["b"] or timedelta(0),
                    schema=[Field(name="k1", dtype=Int64), Field(name="k2", dtype=String),
                            Field(name="fb", dtype=Int64)],
                    source=source("b", tables.paths["b"], timestamp_field="ts")),
        FeatureView(name="c", entities=[E3], ttl=tables.ttls["c"] or timedelta(0),
                    schema=[Field(name="k3", dtype=String), Field(name="h", dtype=Float64)],
                    source=source("c", str(c_path), timestamp_field="ts",
                                  field_mapping={"raw_h": "h"})),
    ]  # fmt: skip


def _file_source(name: str, path: str, **kwargs: Any) -> FileSource:
    return FileSource(name=name, path=path, **kwargs)


def _spark_source(name: str, path: str, **kwargs: Any) -> Any:
    from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

    return SparkSource(name=name, path=path, file_format="parquet", **kwargs)


def _store(repo: Path, offline: dict[str, Any]) -> FeatureStore:
    config = RepoConfig(
        project="pit",
        provider="local",
        registry=str(repo / "registry.db"),
        online_store={"type": "sqlite", "path": str(repo / "online.db")},
        offline_store=offline,
        entity_key_serialization_version=3,
    )
    config.repo_path = repo
    return FeatureStore(repo_path=str(repo), config=config)


def ours_repo(tables: Tables, repo: Path) -> Path:
    """A repo of file sources over ``tables``, with an on-demand view over a and b."""
    views = _views(tables, _file_source)

    @on_demand_feature_view(
        sources=views[:2], schema=[Field(name="fa_plus_fb", dtype=Float64)], mode="pandas"
    )
    def sums(inputs: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"fa_plus_fb": inputs["fa"] + inputs["fb"]})

    repo.mkdir()
    _store(repo, {"type": TYPE_NAME}).apply([E1, E2, E3, *views, sums])
    return repo


def feast_spark_store(tables: Tables, repo: Path) -> FeatureStore:
    repo.mkdir()
    store = _store(repo, {"type": "spark"})
    store.apply([E1, E2, E3, *_views(tables, _spark_source)])
    return store


def _feast_frame(tables: Tables) -> pd.DataFrame:
    frame = tables.entities.to_pandas()  # nanoseconds, UTC
    return frame.dropna(subset=["k1"]).astype({"k1": "int64"}).reset_index(drop=True)


@contextmanager
def session_settings_kept(spark: SparkSession) -> Iterator[None]:
    """Feast's Spark store sets ``quotedRegexColumnNames`` on the shared session."""
    key = "spark.sql.parser.quotedRegexColumnNames"
    before = spark.conf.get(key)
    try:
        yield
    finally:
        spark.conf.set(key, before)


def test_either_engine_through_feast_with_on_demand_views(
    spark: SparkSession, tables: Tables, tmp_path: Path
) -> None:
    repo = ours_repo(tables, tmp_path / "ours")
    entity_df = _feast_frame(tables)
    refs = [*REFS, "sums:fa_plus_fb"]
    frames = {}
    for engine in ("duckdb", "spark"):
        store = _store(repo, {"type": TYPE_NAME, "engine": engine, "spark_master": SPARK.master})
        job = store.get_historical_features(entity_df=entity_df, features=refs)
        assert isinstance(job, SparkRetrievalJob if engine == "spark" else DuckDBRetrievalJob)
        frames[engine] = job.to_df()
    pd.testing.assert_frame_equal(frames["spark"], frames["duckdb"])
    assert frames["spark"].fa_plus_fb.notna().sum() > 0


def test_engine_comes_from_the_yaml_else_the_project(
    tables: Tables, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No rows are read: the job's type says which engine built it."""
    repo = ours_repo(tables, tmp_path / "ours")
    entity_df = _feast_frame(tables)
    on_spark = EngineConfig().override("spark", SPARK.master)

    def job(offline: dict[str, Any]) -> object:
        return _store(repo, {"type": TYPE_NAME, **offline}).get_historical_features(
            entity_df=entity_df, features=REFS
        )

    assert isinstance(job({}), DuckDBRetrievalJob)
    assert isinstance(job({"engine": "spark"}), SparkRetrievalJob)
    with use_engine(on_spark):
        assert isinstance(job({}), SparkRetrievalJob)  # a training helper's project
        assert isinstance(job({"engine": "duckdb"}), DuckDBRetrievalJob)  # the YAML decides
    monkeypatch.setenv("FEATURESTORE_ENGINE", "spark")
    monkeypatch.setenv("FEATURESTORE_SPARK_MASTER", SPARK.master)
    assert isinstance(job({}), SparkRetrievalJob)  # the repo's project (a bare repo: env)


def test_equal_to_feast_spark_store_in_entity_order_with_utc_timestamps(
    spark: SparkSession, tables: Tables, tmp_path: Path
) -> None:
    """On tables without the two bugs below, Feast's Spark store finds the same rows.

    Differences: its rows come back in no particular order (its final query has no
    ORDER BY), its timestamp column is naive (the UTC wall clock) in nanoseconds, and it
    reads SparkSource views only (a FileSource view is refused).
    """
    a = [r for r in tables.rows["a"] if r["created"] is not None]  # bug 1 below
    clean = write_tables(tmp_path / "clean", a, tables.rows["b"], tables.rows["c"],
                         tables.entities, tables.ttls)  # fmt: skip
    entity_df = _feast_frame(clean)
    ours = _store(ours_repo(clean, tmp_path / "ours"), {"type": TYPE_NAME, "engine": "spark"})
    mine = ours.get_historical_features(entity_df=entity_df.copy(), features=REFS).to_df()
    with session_settings_kept(spark):
        job = feast_spark_store(clean, tmp_path / "feast").get_historical_features(
            entity_df=entity_df.copy(), features=REFS
        )
        theirs = job.to_df()
    assert "ORDER BY" not in job.query.split("---EOS---")[-1].split("*/")[-1]
    assert str(theirs.event_timestamp.dtype) == "datetime64[ns]"
    assert str(mine.event_timestamp.dtype) == "datetime64[us, UTC]"
    assert list(mine.label) == list(entity_df.label)
    theirs = theirs.sort_values("label").reset_index(drop=True)[list(mine.columns)]
    theirs["event_timestamp"] = theirs.event_timestamp.dt.tz_localize("UTC").astype(
        "datetime64[us, UTC]"
    )
    pd.testing.assert_frame_equal(mine, theirs)


def test_feast_spark_store_bug_a_null_created_timestamp_hides_the_newest_row(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Bug 1: with a created_timestamp_column, Feast's Spark store keeps per event
    timestamp only rows equal to ``MAX(created)``, joined back with ``USING`` (where a
    null never equals a null): the newest row, whose created timestamp is null, is
    dropped and an older row answers instead. Feast's own DuckDB store and ours take it."""
    a = [{"k1": 2, "event_ts": _at(1), "created": _at(1), "fa": 4.0, "ga": "old"},
         {"k1": 2, "event_ts": _at(3), "created": None, "fa": 5.0, "ga": "new"}]  # fmt: skip
    entities = _entity_table([(2, "x", "u", 4, 0)])
    tables = write_tables(tmp_path / "t", a, [], [], entities, TTLS)
    entity_df = _feast_frame(tables)
    ours = _store(ours_repo(tables, tmp_path / "ours"), {"type": TYPE_NAME, "engine": "spark"})
    mine = ours.get_historical_features(entity_df=entity_df, features=["a:fa"]).to_df()
    feast_duckdb = _store(tmp_path / "ours", {"type": "duckdb"})
    duck = feast_duckdb.get_historical_features(entity_df=entity_df, features=["a:fa"]).to_df()
    with session_settings_kept(spark):
        feast = feast_spark_store(tables, tmp_path / "feast")
        theirs = feast.get_historical_features(entity_df=entity_df, features=["a:fa"]).to_df()
    assert mine.fa.tolist() == duck.fa.tolist() == [5.0]
    assert theirs.fa.tolist() == [4.0]


def test_feast_spark_store_bug_composite_keys_collide(spark: SparkSession, tmp_path: Path) -> None:
    """Bug 2: Feast's Spark store names an entity row by ``CONCAT`` of its keys and
    timestamp as strings, without a separator: (1, "12") and (11, "2") at the same time
    are one row to it, so each comes back twice, once with the other's features."""
    b = [{"k1": 1, "k2": "12", "ts": _at(0), "fb": 100},
         {"k1": 11, "k2": "2", "ts": _at(0), "fb": 200}]  # fmt: skip
    entities = _entity_table([(1, "12", "u", 1, 0), (11, "2", "u", 1, 0)])
    tables = write_tables(tmp_path / "t", [], b, [], entities, TTLS)
    entity_df = _feast_frame(tables)
    ours = _store(ours_repo(tables, tmp_path / "ours"), {"type": TYPE_NAME, "engine": "spark"})
    mine = ours.get_historical_features(entity_df=entity_df, features=["b:fb"]).to_df()
    with session_settings_kept(spark):
        feast = feast_spark_store(tables, tmp_path / "feast")
        theirs = feast.get_historical_features(entity_df=entity_df, features=["b:fb"]).to_df()
    assert mine.fb.tolist() == [100, 200]
    assert len(theirs) == 4
    assert sorted(theirs[theirs.label == 0].fb.tolist()) == [100, 200]


def test_feast_spark_store_changes_the_session_it_finds(
    spark: SparkSession, tables: Tables, tmp_path: Path
) -> None:
    """Also Feast's: it sets ``spark.sql.parser.quotedRegexColumnNames`` (backquoted
    names in SQL become regular expressions) on the session it finds, for every later
    user of that session. Ours changes no setting."""
    key = "spark.sql.parser.quotedRegexColumnNames"
    entity_df = _feast_frame(tables)
    ours = _store(ours_repo(tables, tmp_path / "ours"), {"type": TYPE_NAME, "engine": "spark"})
    ours.get_historical_features(entity_df=entity_df, features=REFS).to_df()
    assert spark.conf.get(key) == "false"
    with session_settings_kept(spark):
        feast = feast_spark_store(tables, tmp_path / "feast")
        feast.get_historical_features(entity_df=entity_df, features=REFS).to_df()
        assert spark.conf.get(key) == "true"


# -- the demo project ------------------------------------------------------------------


def _on_spark(project: Project) -> Project:
    return project.with_engine("spark", SPARK.master)


SERVICE = "departure_delay_model"


def _sample(project: Project) -> str:
    """About 3,000 of the service's label rows spread over the year (flight numbers
    ending in 07), in a fixed order."""
    return (
        f"SELECT * FROM ({label_query(project, SERVICE)}) AS labels "
        "WHERE flight % 100 = 7 ORDER BY event_timestamp, carrier, flight"
    )


@pytest.mark.slow
def test_demo_training_set_on_spark_equals_duckdb(demo_project: Project) -> None:
    store = open_store(demo_project)
    sql = _sample(demo_project)
    duck = build_training_set(demo_project, store, SERVICE, label_sql=sql)
    ours = build_training_set(_on_spark(demo_project), store, SERVICE, label_sql=sql)
    assert 2_000 < len(ours) < 6_000
    pd.testing.assert_frame_equal(ours, duck)
    for feature in ("wind_speed", "flights_1d", "seats"):  # each view matched rows
        assert ours[feature].notna().mean() > 0.5, feature


@pytest.mark.slow
def test_demo_cli_builds_on_spark(
    demo_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from featurestore.cli import app

    label = tmp_path / "labels.sql"
    label.write_text(_sample(demo_project))
    monkeypatch.setenv("FEATURESTORE_REPO_PATH", str(demo_project.repo_path))
    monkeypatch.setenv("FEATURESTORE_REDIS_URL", demo_project.redis_url)
    output = tmp_path / "delay.parquet"
    args = ["training", "build", SERVICE, "--label-sql", str(label), "--output", str(output),
            "--engine", "spark", "--spark-master", SPARK.master]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    duck = build_training_set(
        demo_project, open_store(demo_project), SERVICE, str(label.read_text())
    )
    assert f"{len(duck):,} rows written to" in result.output
    pd.testing.assert_frame_equal(pq.read_table(output).to_pandas(), duck)
    assert (tmp_path / "delay.manifest.json").is_file()
