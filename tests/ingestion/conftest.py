"""Fixtures for feature-job tests: a small flights-like project made by the tests.

``flights`` has the demo's three jobs; ``project`` an empty jobs folder (``jobs_dir``)
for the jobs a test writes. Both read the same small raw tables (``tests.flights_sample``),
made once per session.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import pytest
import yaml

from featurestore import sql
from featurestore.errors import FeatureStoreError
from featurestore.project import Project
from tests.flights_sample import make_sample_project, write_sample_raw

E = TypeVar("E", bound=FeatureStoreError)


@pytest.fixture(scope="session")
def sample_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample") / "raw"
    write_sample_raw(folder)
    return folder


@pytest.fixture
def flights(tmp_path: Path, sample_raw: Path) -> Project:
    """The sample project with the demo's three jobs."""
    return make_sample_project(tmp_path / "flights", raw_from=sample_raw)


@pytest.fixture
def project(tmp_path: Path, sample_raw: Path) -> Project:
    """The sample project with an empty jobs folder."""
    return make_sample_project(tmp_path / "project", demo_jobs=False, raw_from=sample_raw)


@pytest.fixture
def jobs_dir(project: Project) -> Path:
    return project.jobs_dir


def write_job(jobs_dir: Path, name: str, header: str, sql_text: str) -> Path:
    """A job file: ``-- name:`` plus the given header lines, then the SQL."""
    lines = [f"-- name: {name}"] + [f"-- {line}" for line in header.strip().splitlines()]
    path = jobs_dir / f"{name}.sql"
    path.write_text("\n".join(lines) + "\n" + sql_text.strip() + "\n")
    return path


def write_raw(project: Project, name: str, query: str) -> Project:
    """An extra raw source ``name`` (a Parquet file from a DuckDB query), declared in the
    project file; returns the project reloaded."""
    target = project.root / "raw" / f"{name}.parquet"
    con = sql.connect()
    try:
        con.execute(f"COPY ({query}) TO {sql.path_literal(target)} (FORMAT parquet)")
    finally:
        con.close()
    assert project.project_file is not None
    spec = yaml.safe_load(project.project_file.read_text())
    spec["sources"][name] = {"format": "parquet", "path": f"raw/{name}.parquet"}
    project.project_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    return Project.load(project.root)


def snapshot(table: Path) -> dict[str, bytes]:
    """Every file of a feature table, by path relative to the table, with its bytes."""
    return {
        str(path.relative_to(table)): path.read_bytes()
        for path in sorted(table.rglob("*"))
        if path.is_file()
    }


@dataclass
class Failure(Generic[E]):
    """The error of the one job that failed in a ``job_fails`` block."""

    error: E | None = None
    job: str = ""

    @property
    def value(self) -> E:
        assert self.error is not None, "read after the block"
        return self.error


@contextmanager
def job_fails(
    kind: type[E] | tuple[type[E], ...], match: str | None = None
) -> Iterator[Failure[E]]:
    """Like ``pytest.raises`` for a run in which exactly one job fails: the run raises
    ``JobsFailedError`` after the others, and the failed job's own error is checked."""
    from ingestion import JobsFailedError

    failure: Failure[E] = Failure()
    with pytest.raises(JobsFailedError) as error:
        yield failure
    (failed,) = error.value.failed
    assert isinstance(failed.error, kind), failed.error
    if match is not None:
        assert re.search(match, str(failed.error)), str(failed.error)
    failure.error, failure.job = failed.error, failed.job
