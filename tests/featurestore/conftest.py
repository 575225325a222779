"""Fixtures of the library's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    """An empty jobs folder."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    return folder
