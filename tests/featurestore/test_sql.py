from __future__ import annotations

from pathlib import Path

import duckdb

from featurestore.sql import parquet_scan


def _write(con: duckdb.DuckDBPyConnection, sql: str, target: Path, *options: str) -> None:
    extra = ", " + ", ".join(options) if options else ""
    con.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet{extra})")


def test_file_folder_and_glob_read_the_same_rows(tmp_path: Path) -> None:
    con = duckdb.connect()
    rows = "SELECT i AS id, i % 3 AS day FROM range(30) t(i)"
    _write(con, rows, tmp_path / "one.parquet")
    _write(con, rows, tmp_path / "parts", "PARTITION_BY (day)")
    for path in (tmp_path / "one.parquet", tmp_path / "parts", f"{tmp_path}/parts/*/*.parquet"):
        count, total = con.execute(f"SELECT count(*), sum(id) FROM {parquet_scan(path)}").fetchone()
        assert (count, total) == (30, 435)
    columns = [
        r[0]
        for r in con.execute(
            f"DESCRIBE SELECT * FROM {parquet_scan(tmp_path / 'parts')}"
        ).fetchall()
    ]
    assert set(columns) == {"id", "day"}
