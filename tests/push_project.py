"""The push tests' project: a copy of the demo project, applied, on Redis db 9; each
test starts with an empty db 9, no push log and no departure_status table."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from featurestore.project import Project
from featurestore.redis_server import LocalRedis
from tests.conftest import copy_project, feast_cli

DB = 9
TABLE = "departure_status"
SOURCE = "departure_status_push"


@pytest.fixture(scope="session")
def applied_push_project(
    tmp_path_factory: pytest.TempPathFactory, redis_server: LocalRedis
) -> Project:
    repo = copy_project(tmp_path_factory.mktemp("push-project"))
    project = Project.for_repo(repo, redis_url=f"redis://127.0.0.1:{redis_server.port}/{DB}")
    applied = feast_cli(repo, project.redis_url, "apply")
    assert applied.returncode == 0, applied.stderr
    return project


@pytest.fixture
def push_project(applied_push_project: Project, redis_server: LocalRedis) -> Iterator[Project]:
    project = applied_push_project
    client = redis.Redis(port=redis_server.port, db=DB)
    client.flushdb()
    layout = project.layout
    for path in (layout.root / "push", layout.versions(TABLE), layout.quarantine(TABLE)):
        shutil.rmtree(path, ignore_errors=True)
    Path(layout.table(TABLE)).unlink(missing_ok=True)
    yield project
    client.close()


@pytest.fixture
def db(redis_server: LocalRedis) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_server.port, db=DB)
    yield client
    client.close()


def rows(n: int = 2, start_hour: int = 5, **changes: list[object]) -> dict[str, list[object]]:
    """``n`` good rows of departure_status (carriers C0, C1, ...; EWR), as JSON columns."""
    base: dict[str, list[object]] = {
        "carrier": [f"C{i}" for i in range(n)],
        "origin": ["EWR"] * n,
        "event_timestamp": [f"2013-01-01T{start_hour:02d}:00:00Z"] * n,
        "hour": [start_hour] * n,
        "departures_1h": [3] * n,
        "dep_delay_avg_1h": [2.5] * n,
        "cancelled_1h": [0] * n,
        "status": ["normal"] * n,
    }
    base.update(changes)
    return base


def dump(client: redis.Redis) -> dict[bytes, dict[bytes, bytes]]:
    return {key: client.hgetall(key) for key in client.scan_iter(count=1000)}
