"""DuckDB connections and SQL quoting: the one place both are defined.

Every DuckDB connection of the library comes from ``connect``: in memory, in UTC (so
``TIMESTAMPTZ`` values print and partition the same on every machine), DuckDB's own
progress bar off (ours is rich's), spilling to one temp folder, with optional thread and
memory limits. Identifiers and literals are quoted by ``ident`` and ``literal`` only, and
a Feast file source (one file, a hive-partitioned folder or a glob) is read through
``parquet_scan``. A project's tables (raw sources, feature tables) are registered on
such a connection by ``featurestore.project.Project.connect``.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import duckdb

SPILL_DIR = Path(tempfile.gettempdir()) / "featurestore-duckdb"


def connect(
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    preserve_insertion_order: bool = True,
) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection with the library's settings."""
    config: dict[str, str | int | bool] = {}
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(config=config)  # type: ignore[arg-type]
    con.execute("SET TimeZone = 'UTC'")
    # In Jupyter without ipywidgets DuckDB refuses to touch the setting (its bar is off there).
    with contextlib.suppress(duckdb.Error):
        con.execute("SET enable_progress_bar = false")
    con.execute(f"SET temp_directory = {path_literal(SPILL_DIR)}")
    if memory_limit is not None:
        con.execute(f"SET memory_limit = {literal(memory_limit)}")
    if not preserve_insertion_order:
        con.execute("SET preserve_insertion_order = false")
    return con


def ident(name: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def path_literal(path: Path | str) -> str:
    """A file path as a SQL string literal."""
    return literal(str(path))


def parquet_scan(path: str | Path) -> str:
    """A DuckDB ``read_parquet(...)`` over every file of a file source: one file, a
    hive-partitioned folder, or a glob."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        return f"read_parquet({path_literal(text)}, hive_partitioning = true)"
    if Path(text).is_dir():
        pattern = Path(text) / "**" / "*.parquet"
        return f"read_parquet({path_literal(pattern)}, hive_partitioning = true)"
    return f"read_parquet({path_literal(text)})"
