"""Differential test: our offline store against vanilla Feast's DuckDB store.

One generated Feast repo (three views: a created-timestamp column and a 5-minute TTL;
a composite key and no TTL; a field mapping and a 12-minute TTL), applied once; each
hypothesis example rewrites the Parquet files and asks both stores the same question.
Results must be equal once Feast's rows are put back in entity order.

The repo's sources use paths relative to the repo, which exposes a Feast bug: its
DuckDB store resolves them against the current directory. Vanilla Feast is therefore
run from inside the repo; ours runs from anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig, ValueType
from feast.types import Float64, Int64, String
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurestore.feast_plugins.offline_store import TYPE_NAME

pytestmark = pytest.mark.slow

BASE = datetime(2024, 3, 10, 5, 0, tzinfo=UTC)
MINUTES = st.integers(min_value=0, max_value=20)
REFS = ["va:fa", "va:ga", "vb:fb", "vc:h"]


def _store(repo: Path, offline_type: str, **offline: Any) -> FeatureStore:
    config = RepoConfig(
        project="pit",
        provider="local",
        registry=str(repo / "registry.db"),
        online_store={"type": "sqlite", "path": str(repo / "online.db")},
        offline_store={"type": offline_type, **offline},
        entity_key_serialization_version=3,
    )
    config.repo_path = repo
    return FeatureStore(repo_path=str(repo), config=config)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("pit_repo")
    (repo / "tables").mkdir()
    e1 = Entity(name="e1", join_keys=["k1"], value_type=ValueType.INT64)
    e2 = Entity(name="e2", join_keys=["k2"], value_type=ValueType.STRING)
    e3 = Entity(name="e3", join_keys=["k3"], value_type=ValueType.STRING)

    def source(name: str, **kwargs: Any) -> FileSource:
        return FileSource(name=name, path=f"tables/{name}.parquet", **kwargs)

    va = FeatureView(
        name="va", entities=[e1], ttl=timedelta(minutes=5),
        schema=[Field(name="k1", dtype=Int64), Field(name="fa", dtype=Float64),
                Field(name="ga", dtype=String)],
        source=source("va", timestamp_field="ts", created_timestamp_column="created"),
    )  # fmt: skip
    vb = FeatureView(
        name="vb", entities=[e1, e2], ttl=timedelta(0),
        schema=[Field(name="k1", dtype=Int64), Field(name="k2", dtype=String),
                Field(name="fb", dtype=Int64)],
        source=source("vb", timestamp_field="ts"),
    )  # fmt: skip
    vc = FeatureView(
        name="vc", entities=[e3], ttl=timedelta(minutes=12),
        schema=[Field(name="k3", dtype=String), Field(name="h", dtype=Float64)],
        source=source("vc", timestamp_field="ts", field_mapping={"raw_h": "h"}),
    )  # fmt: skip
    _store(repo, "duckdb").apply([e1, e2, e3, va, vb, vc])
    return repo


@pytest.fixture
def in_dir() -> Iterator[None]:
    here = os.getcwd()
    yield
    os.chdir(here)


def _minute(m: int) -> datetime:
    return BASE + timedelta(minutes=m)


def _unique(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(tuple(row[c] for c in key), row)
    return list(seen.values())


tables = st.fixed_dictionaries(
    {
        "va": st.lists(
            st.fixed_dictionaries({
                "k1": st.integers(1, 3), "ts": MINUTES.map(_minute),
                "created": st.one_of(st.none(), MINUTES.map(_minute)),
                "fa": st.one_of(st.none(), st.floats(-5, 5, allow_nan=False)),
                "ga": st.one_of(st.none(), st.sampled_from(["p", "q"])),
            }), max_size=20,
        ).map(lambda rows: _unique(rows, ("k1", "ts", "created"))),
        "vb": st.lists(
            st.fixed_dictionaries({
                "k1": st.integers(1, 3), "k2": st.sampled_from(["x", "y"]),
                "ts": MINUTES.map(_minute), "fb": st.one_of(st.none(), st.integers(-9, 9)),
            }), max_size=20,
        ).map(lambda rows: _unique(rows, ("k1", "k2", "ts"))),
        "vc": st.lists(
            st.fixed_dictionaries({
                "k3": st.sampled_from(["u", "v"]), "ts": MINUTES.map(_minute),
                "raw_h": st.floats(0, 1, allow_nan=False),
            }), max_size=20,
        ).map(lambda rows: _unique(rows, ("k3", "ts"))),
    }
)  # fmt: skip

entity_frames = st.lists(
    st.fixed_dictionaries(
        {
            "k1": st.integers(1, 4),
            "k2": st.sampled_from(["x", "y"]),
            "k3": st.sampled_from(["u", "v", "w"]),
            "event_timestamp": MINUTES.map(_minute),
        }
    ),
    min_size=1,
    max_size=25,
)

SCHEMAS = {
    "va": pa.schema([("k1", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")),
                     ("created", pa.timestamp("us", tz="UTC")), ("fa", pa.float64()),
                     ("ga", pa.string())]),
    "vb": pa.schema([("k1", pa.int64()), ("k2", pa.string()), ("ts", pa.timestamp("us", tz="UTC")),
                     ("fb", pa.int64())]),
    "vc": pa.schema([("k3", pa.string()), ("ts", pa.timestamp("us", tz="UTC")),
                     ("raw_h", pa.float64())]),
}  # fmt: skip


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=tables, rows=entity_frames, full_names=st.booleans())
def test_equal_to_vanilla_feast(
    repo: Path, in_dir: None, data: dict[str, list[dict[str, Any]]],
    rows: list[dict[str, Any]], full_names: bool,
) -> None:  # fmt: skip
    for name, table_rows in data.items():
        pq.write_table(
            pa.Table.from_pylist(table_rows, SCHEMAS[name]), repo / "tables" / f"{name}.parquet"
        )
    entity_df = pd.DataFrame(rows).assign(label=range(len(rows)))
    entity_df["event_timestamp"] = entity_df.event_timestamp.astype("datetime64[us, UTC]")

    os.chdir(repo.parent)  # anywhere but the repo
    ours = (
        _store(repo, TYPE_NAME)
        .get_historical_features(entity_df=entity_df, features=REFS, full_feature_names=full_names)
        .to_df()
    )
    os.chdir(repo)  # Feast bug: relative source paths resolve against the cwd
    feast = (
        _store(repo, "duckdb")
        .get_historical_features(entity_df=entity_df, features=REFS, full_feature_names=full_names)
        .to_df()
    )

    assert list(ours.label) == list(range(len(rows)))
    feast = feast.sort_values("label").reset_index(drop=True)
    assert list(feast.columns) == list(ours.columns)
    pd.testing.assert_frame_equal(ours, feast, check_dtype=False)


def test_vanilla_feast_needs_the_repo_as_cwd(repo: Path, in_dir: None) -> None:
    """The Feast bug the test above works around, and that ours does not have."""
    entity_df = pd.DataFrame({"k1": [1], "k2": ["x"], "k3": ["u"],
                              "event_timestamp": [pd.Timestamp(BASE)]})  # fmt: skip
    os.chdir(repo.parent)
    assert len(_store(repo, TYPE_NAME).get_historical_features(entity_df, REFS).to_df()) == 1
    with pytest.raises(Exception, match=r"tables/v[abc]\.parquet"):
        _store(repo, "duckdb").get_historical_features(entity_df, REFS).to_df()


def test_nanosecond_entity_timestamps(repo: Path, in_dir: None) -> None:
    """Feast's DuckDB store raises ArrowInvalid on ns timestamps; ours floors them to us."""
    entity_df = pd.DataFrame(
        {
            "k1": [1],
            "k2": ["x"],
            "k3": ["u"],
            "event_timestamp": [pd.Timestamp(BASE) + pd.Timedelta(1, "ns")],
        }
    )
    entity_df["event_timestamp"] = entity_df.event_timestamp.astype("datetime64[ns, UTC]")
    assert len(_store(repo, TYPE_NAME).get_historical_features(entity_df, REFS).to_df()) == 1
    os.chdir(repo)
    with pytest.raises(pa.ArrowInvalid):
        _store(repo, "duckdb").get_historical_features(entity_df, REFS).to_df()


def test_filter_by_created_timestamp_falls_back_to_feast(repo: Path, in_dir: None) -> None:
    """Ours does not implement Feast's created-timestamp cutoff; it hands it to Feast."""
    entity_df = pd.DataFrame({"k1": [1, 2], "k2": ["x", "y"], "k3": ["u", "v"],
                              "event_timestamp": [pd.Timestamp(BASE)] * 2})  # fmt: skip
    os.chdir(repo)
    ours = _store(repo, TYPE_NAME).get_historical_features(
        entity_df, REFS, filter_by_created_timestamp=True
    )
    feast = _store(repo, "duckdb").get_historical_features(
        entity_df, REFS, filter_by_created_timestamp=True
    )
    assert type(ours) is type(feast)
    assert len(ours.to_df()) == 2


def test_aliased_projection_with_join_key_map(repo: Path, in_dir: None) -> None:
    """A feature service reading ``va`` renamed, with its key mapped to another entity
    column (the table's ``k1`` matched to ``k1_prev``), beside ``vb`` as itself."""
    from feast import FeatureService

    store = _store(repo, TYPE_NAME)
    va, vb = store.get_feature_view("va"), store.get_feature_view("vb")
    service = FeatureService(
        name="aliased",
        features=[va[["fa"]].with_name("va_prev").with_join_key_map({"k1": "k1_prev"}), vb],
    )
    store.apply([service])
    fixed = {
        "va": [{"k1": k, "ts": _minute(m), "created": None, "fa": k + m / 100, "ga": None}
               for k in (1, 2, 3) for m in (5, 10, 18)],
        "vb": [{"k1": k, "k2": "x", "ts": _minute(m), "fb": k * 100 + m}
               for k in (1, 2, 3) for m in (0, 19)],
        "vc": [],
    }  # fmt: skip
    for name, rows in fixed.items():
        pq.write_table(
            pa.Table.from_pylist(rows, SCHEMAS[name]), repo / "tables" / f"{name}.parquet"
        )
    entity_df = pd.DataFrame({"k1": [1, 2, 3], "k2": ["x", "y", "x"], "k1_prev": [2, 3, 1],
                              "label": [0, 1, 2],
                              "event_timestamp": [pd.Timestamp(_minute(20))] * 3})  # fmt: skip
    os.chdir(repo)
    for full_names in (False, True):
        ours = store.get_historical_features(
            entity_df, features=service, full_feature_names=full_names
        ).to_df()
        feast = (
            _store(repo, "duckdb")
            .get_historical_features(entity_df, features=service, full_feature_names=full_names)
            .to_df()
        )
        assert list(ours.columns)[-2:] == (
            ["va_prev__fa", "vb__fb"] if full_names else ["fa", "fb"]
        )
        feast = feast.sort_values("label").reset_index(drop=True)[list(ours.columns)]
        pd.testing.assert_frame_equal(ours, feast, check_dtype=False)


@pytest.mark.parametrize("strategy", ["asof", "range"])
def test_join_strategy_from_the_config(repo: Path, in_dir: None, strategy: str) -> None:
    entity_df = pd.DataFrame({"k1": [1], "k2": ["x"], "k3": ["u"],
                              "event_timestamp": [pd.Timestamp(BASE)]})  # fmt: skip
    for name, schema in SCHEMAS.items():
        pq.write_table(pa.Table.from_pylist([], schema), repo / "tables" / f"{name}.parquet")
    store = _store(repo, TYPE_NAME, join_strategy=strategy)
    job = store.get_historical_features(entity_df, REFS)
    views_with_ttl = {"va", "vc"}  # range needs a TTL; vb's is zero
    assert job.strategies == {
        v: strategy if v in views_with_ttl else "asof" for v in ("va", "vb", "vc")
    }
    assert len(job.to_df()) == 1
    with pytest.raises(Exception, match="join_strategy"):
        _store(repo, TYPE_NAME, join_strategy="hash")
