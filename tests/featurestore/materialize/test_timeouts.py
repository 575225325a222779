"""Materializing into a frozen Redis (SIGSTOP: connections accepted, nothing answered)
fails in about ``FEATURESTORE_REDIS_TIMEOUT`` with one clear error, instead of hanging
until Redis resumes; the CLI says so in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Float64

from featurestore.errors import OnlineStoreUnavailableError
from featurestore.feast_plugins.batch_engine import TYPE_NAME as OUR_ENGINE
from featurestore.materialize import run
from featurestore.materialize.writer import RedisWriter
from featurestore.redis_client import redis_client
from featurestore.redis_server import LocalRedis
from tests.featurestore.materialize.helpers import make_store
from tests.frozen_redis import frozen

pytestmark = [pytest.mark.redis]

T0 = datetime(2024, 3, 1, tzinfo=UTC)
NO_ANSWER = r"the online store \(Redis\) is unavailable: no answer within 0.5 s"


def _objects(folder: Path) -> list[Entity | FeatureView]:
    times = pa.array([T0, T0], pa.timestamp("us", tz="UTC"))
    table = pa.table({"id": pa.array([1, 2], pa.int64()), "event_timestamp": times,
                      "x": pa.array([1.0, 2.0])})  # fmt: skip
    pq.write_table(table, folder / "t.parquet")
    entity = Entity(name="e", join_keys=["id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="v",
        entities=[entity],
        ttl=timedelta(days=2),
        schema=[Field(name="x", dtype=Float64)],
        source=FileSource(path=str(folder / "t.parquet"), timestamp_field="event_timestamp"),
    )
    return [entity, view]


def test_materialize_into_a_frozen_redis_fails_within_the_timeout(
    tmp_path: Path, own_redis: LocalRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEATURESTORE_REDIS_TIMEOUT", "0.5")
    store = make_store(tmp_path, own_redis.port, 0, "ours", _objects(tmp_path))
    with frozen(own_redis, thaw_after=10):
        start = time.monotonic()
        with pytest.raises(OnlineStoreUnavailableError, match=NO_ANSWER):
            run.materialize(store, T0 - timedelta(days=1), T0 + timedelta(days=1))
        assert time.monotonic() - start < 5  # 0.5 s and a margin; was: until thawed
    assert store.get_feature_view("v").most_recent_end_time is None


@pytest.mark.parametrize("skip_dedup", [False, True], ids=["waiting-for-replies", "sending"])
def test_a_batch_cut_off_mid_run_fails_within_the_timeout(
    own_redis: LocalRedis, skip_dedup: bool
) -> None:
    """Redis freezes after the writer connected: a batch's event-time reads wait for their
    replies, and a large batch of writes (skip_dedup) waits to be sent."""
    client = redis_client(own_redis.address, 0.5)
    client.ping()  # the writer reuses this connection: nothing left to connect
    rows = 300_000 if skip_dedup else 10  # ~30 MB: more than the socket buffers hold
    keys = pa.array([b"key:%d" % i for i in range(rows)], pa.binary())
    values = pa.array([b"v" * 64] * rows, pa.binary())
    ts_bytes = pa.array([b"ts"] * rows, pa.binary())
    with frozen(own_redis, thaw_after=10):
        start = time.monotonic()
        writer = RedisWriter(client, b"_ts:v", [b"f"], skip_dedup=skip_dedup)
        with pytest.raises(OnlineStoreUnavailableError, match=NO_ANSWER), writer:
            writer.write(keys, [values], ts_bytes, np.ones(rows, dtype=np.int64))
        assert time.monotonic() - start < 5
    client.close()


@pytest.mark.slow
def test_cli_materialize_into_a_frozen_redis_is_one_line(
    tmp_path: Path, own_redis: LocalRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "feature_store.yaml").write_text(
        "project: frozen\nprovider: local\n"
        f"registry: {repo / 'registry.db'}\n"
        "online_store:\n  type: featurestore.feast_plugins.redis_online_store.RedisOnlineStore\n"
        f"offline_store:\n  type: duckdb\nbatch_engine:\n  type: {OUR_ENGINE}\n  progress: false\n"
        "entity_key_serialization_version: 3\n"
    )
    monkeypatch.setenv("FEATURESTORE_REDIS_URL", own_redis.url)
    monkeypatch.setenv("FEATURESTORE_REDIS_TIMEOUT", "0.5")
    FeatureStore(repo_path=str(repo)).apply(_objects(repo))
    env = {**os.environ, "FEATURESTORE_REPO_PATH": str(repo)}
    cli = Path(sys.executable).with_name("featurestore")
    with frozen(own_redis, thaw_after=90):  # longer than a cold start of the CLI
        done = subprocess.run(
            [str(cli), "materialize", "2024-02-28", "2024-03-02"],
            env=env, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "no answer within 0.5 s" in lines[0]
