"""Killing a materialization (SIGKILL, mid-run) and running it again leaves Redis exactly
as one clean run does."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import redis

from featurestore.redis_server import LocalRedis
from tests.conftest import ROOT
from tests.featurestore.materialize.helpers import dump, flush, make_store
from tests.reliability import Figures, scaled

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.reliability]

KILLED_DB, CLEAN_DB = 10, 11
ENTITIES = 100_000
START = datetime(2024, 1, 1, tzinfo=UTC)
END = START + timedelta(days=5)

CHILD = """
import sys
from pathlib import Path
from tests.featurestore.materialize.test_interrupt import objects, START, END
from tests.featurestore.materialize.helpers import make_store
tmp, port, db = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
store = make_store(tmp, port, db, "ours", objects(tmp), batch_size=2_000)
print("ready", flush=True)
store.materialize(START, END)
"""


def objects(tmp: Path) -> list[object]:
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64, String

    entity = Entity(name="e", join_keys=["id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="v",
        entities=[entity],
        ttl=timedelta(days=9),
        schema=[
            Field(name="x", dtype=Float64),
            Field(name="n", dtype=Int64),
            Field(name="s", dtype=String),
        ],
        source=FileSource(path=str(tmp / "t.parquet"), timestamp_field="event_timestamp"),
    )
    return [entity, view]


def _table(path: Path) -> None:
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT e AS id,
                         TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_hours((e % 97 + d)::BIGINT)
                             AS event_timestamp,
                         e * 0.5 + d AS x, e + d AS n, 'v' || d::VARCHAR AS s
                  FROM range({ENTITIES}) t(e), range(3) u(d))
            TO '{path}' (FORMAT parquet)"""
    )
    con.close()


def _killed_run(tmp_path: Path, port: int, wait: float) -> int:
    """Start a materialization into KILLED_DB, SIGKILL it ``wait`` seconds after its
    first key lands; the number of keys it left."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(port), str(KILLED_DB)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    client = redis.Redis(port=port, db=KILLED_DB)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 120
        while int(client.dbsize()) == 0 and time.monotonic() < deadline:  # type: ignore[arg-type]
            time.sleep(0.005)
        time.sleep(wait)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        return int(client.dbsize())  # type: ignore[arg-type]
    finally:
        client.close()
        if child.poll() is None:
            child.kill()


def test_killed_run_then_rerun_equals_one_clean_run(
    redis_server: LocalRedis, tmp_path: Path, figures: Figures
) -> None:
    _table(tmp_path / "t.parquet")
    flush(redis_server.port, KILLED_DB, CLEAN_DB)
    make_store(tmp_path, redis_server.port, CLEAN_DB, "ours", objects(tmp_path)).materialize(
        START, END
    )
    clean = dump(redis_server.port, CLEAN_DB)
    assert len(clean) == ENTITIES
    chance = random.Random(4)
    trials = scaled(1, 5)
    partials = []
    for trial in range(trials):
        flush(redis_server.port, KILLED_DB)
        # The first trial kills as soon as keys land; the others at a random moment.
        partial = _killed_run(tmp_path, redis_server.port, chance.uniform(0, 0.3) if trial else 0)
        partials.append(partial)
        assert 0 < partial < ENTITIES, "the kill should land in the middle of the run"
        make_store(tmp_path, redis_server.port, KILLED_DB, "ours", objects(tmp_path)).materialize(
            START, END
        )
        assert dump(redis_server.port, KILLED_DB) == clean
    flush(redis_server.port, KILLED_DB, CLEAN_DB)
    figures.record(
        "kill -9",
        "materialization at a random moment",
        trials=trials,
        keys_left_by_kill=", ".join(f"{p:,}" for p in partials),
        rerun_equals_clean_run=True,
    )
