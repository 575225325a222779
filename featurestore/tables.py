"""DuckDB over the project's Parquet tables: raw inputs and feature tables by name.

``data/raw/<table>.parquet`` and ``data/features/<table>.parquet`` become views named
``<table>``, so label queries and feature jobs can say ``FROM flights``. A feature
table is a hive-partitioned folder (a link to its current version); its quarantined
rows, ``data/features/<table>.quarantine/*.parquet``, become ``<table>_quarantine``.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import duckdb


def raw_dir(data_dir: Path) -> Path:
    return data_dir / "raw"


def features_dir(data_dir: Path) -> Path:
    return data_dir / "features"


def connect(data_dir: Path, only: Collection[str] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection in UTC with a view per raw and feature table.

    ``only`` limits the views to those tables: a view over a feature table lists all
    its partition files, which takes a while for a table of many thousand days.
    """
    from featurestore.sources import parquet_scan

    wanted = None if only is None else {name.lower() for name in only}
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for folder in (raw_dir(data_dir), features_dir(data_dir)):
        for path in sorted(folder.glob("*.parquet")):
            if wanted is not None and path.stem.lower() not in wanted:
                continue
            if path.is_dir() and not any(path.rglob("*.parquet")):
                continue  # a table whose every partition was replaced by nothing
            con.execute(
                f'CREATE OR REPLACE VIEW "{path.stem}" AS SELECT * FROM {parquet_scan(path)}'
            )
    for folder in sorted(features_dir(data_dir).glob("*.quarantine")):
        if any(folder.glob("*.parquet")):
            source = f"read_parquet({quote_path(folder / '*.parquet')}, union_by_name = true)"
            name = f"{folder.stem}_quarantine"
            if wanted is not None and name.lower() not in wanted:
                continue
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM {source}')
    return con


def quote_path(path: Path) -> str:
    """A path as a DuckDB string literal."""
    return "'" + str(path).replace("'", "''") + "'"
