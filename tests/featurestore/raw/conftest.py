"""Small raw data written by the tests themselves: files, databases, a PostgreSQL table."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from featurestore import sql
from featurestore.raw import RawSource, parse_sources

ROWS = (
    "SELECT CAST(id AS INTEGER) AS id, origin, CAST(delay AS DOUBLE) AS delay, time_hour"
    " FROM (VALUES"
    " (1, 'JFK', 1.5, TIMESTAMPTZ '2013-01-01 05:00:00+00'),"
    " (2, 'LGA', NULL, TIMESTAMPTZ '2013-01-02 06:00:00+00'),"
    " (3, 'EWR', -2.0, TIMESTAMPTZ '2013-01-02 07:00:00+00')"
    ") AS t(id, origin, delay, time_hour)"
)
COLUMNS = {"id": "INTEGER", "origin": "VARCHAR", "delay": "DOUBLE", "time_hour": "TIMESTAMPTZ"}
EXPECTED = [(1, "JFK", 1.5), (2, "LGA", None), (3, "EWR", -2.0)]


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = sql.connect()
    yield connection
    connection.close()


def write(con: duckdb.DuckDBPyConnection, query: str, path: Path, fmt: str) -> Path:
    """COPY ``query`` to ``path`` (parquet, csv with a header, or NDJSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"parquet": "FORMAT parquet", "csv": "FORMAT csv, HEADER", "json": "FORMAT json"}
    con.execute(f"COPY ({query}) TO {sql.path_literal(path)} ({options[fmt]})")
    return path


def write_sqlite(path: Path, ddl: str, rows: list[tuple[Any, ...]]) -> Path:
    db = sqlite3.connect(path)
    db.execute(ddl)
    marks = ", ".join("?" * len(rows[0]))
    table = ddl.split()[2]
    db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    db.commit()
    db.close()
    return path


def one(spec: dict[str, Any], root: Path, name: str = "src") -> RawSource:
    return parse_sources({name: spec}, root)[name]


def read(con: duckdb.DuckDBPyConnection, name: str = "src") -> list[tuple[Any, ...]]:
    return con.execute(f"SELECT id, origin, delay FROM {name} ORDER BY id").fetchall()
