"""Reading a Feast file source's Parquet from DuckDB, whatever its shape.

A feature table is a single Parquet file, a folder of hive-partitioned Parquet files
(``table/date=2013-01-01/part-0.parquet``), or a glob. ``parquet_scan`` turns a
source path into the DuckDB table expression that reads all of it.
"""

from __future__ import annotations

from pathlib import Path

from featurestore.tables import quote_path


def parquet_scan(path: str | Path) -> str:
    """A DuckDB ``read_parquet(...)`` expression over every file of the source."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        return f"read_parquet({quote_path(Path(text))}, hive_partitioning = true)"
    if Path(text).is_dir():
        pattern = Path(text) / "**" / "*.parquet"
        return f"read_parquet({quote_path(pattern)}, hive_partitioning = true)"
    return f"read_parquet({quote_path(Path(text))})"
