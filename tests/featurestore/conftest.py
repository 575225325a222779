"""Fixtures of the library's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from featurestore.project import Project
from featurestore.redis_server import LocalRedis


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    """An empty jobs folder."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    return folder


@pytest.fixture(scope="session")
def drifting_project(tmp_path_factory: pytest.TempPathFactory, redis_server: LocalRedis) -> Project:
    """A project whose features drift on known days (``tests.featurestore.monitor.drifting``),
    ingested and applied; read-only for the tests that share it."""
    from tests.featurestore.monitor import drifting

    url = f"redis://127.0.0.1:{redis_server.port}/3"
    return drifting.make_project(tmp_path_factory.mktemp("drifting") / "shop", url)
