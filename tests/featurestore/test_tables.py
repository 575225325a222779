"""DuckDB views over the project's Parquet tables."""

from __future__ import annotations

from pathlib import Path

import duckdb

from featurestore import tables


def _views(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}


def test_only_limits_the_views_case_insensitively(tmp_path: Path) -> None:
    raw = tables.raw_dir(tmp_path)
    raw.mkdir(parents=True)
    for name in ("flights", "weather"):
        duckdb.execute(f"COPY (SELECT 1 AS x) TO '{raw / name}.parquet' (FORMAT parquet)")
    assert {"flights", "weather"} <= _views(tables.connect(tmp_path))
    only = _views(tables.connect(tmp_path, {"Flights"}))
    assert "flights" in only and "weather" not in only
