"""A feature table's statistics (newest event, row count), computed once per table version.

A table the job runner writes is a link to an immutable version folder
(``featurestore.layout``); a run commits by renaming a new link over it
(``ingestion.storage``). So the link's target *is* the table's version: while it stays
the same no row can change, and every commit changes it. ``table_version`` returns that
target, and the scan reads the target rather than the link, so statistics are always
those of the version they are filed under, even when a commit lands between the two.
Any other file source (a Parquet file, a folder or a glob that something else writes)
has no version; its version is then the path, inode, size and modification time of
every file it reads, which any write changes. A source with nothing to read has none.

``TableStatsCache`` keeps, per table, the statistics of the last version it was asked
about: asking again costs a ``readlink`` (a few ``stat`` calls for unversioned sources),
and a new version is scanned once. The scan is a parameter (DuckDB's ``max(timestamp),
count(*)`` by default) so that tests can count the scans.
"""

from __future__ import annotations

import glob
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from featurestore import sql

TableVersion = tuple[object, ...]


@dataclass(frozen=True)
class TableStats:
    latest_event: datetime | None
    rows: int | None


UNKNOWN = TableStats(latest_event=None, rows=None)
TableScan = Callable[[str, str], TableStats]


def table_version(table: str) -> TableVersion | None:
    """What identifies the current contents of a file source; None if it has none."""
    if any(ch in table for ch in "*?["):
        files = sorted(glob.glob(table, recursive=True))
        return _files_version(files) if files else None
    if not os.path.lexists(table):
        return None
    target = os.path.realpath(table)
    if os.path.islink(table) and os.path.isdir(target):
        return ("version", target)
    if os.path.isdir(target):
        return _files_version(str(p) for p in sorted(Path(target).rglob("*.parquet")))
    return _files_version([target]) if os.path.isfile(target) else None


def _files_version(paths: Iterable[str]) -> TableVersion:
    stats = []
    for path in paths:
        st = os.stat(path)
        stats.append((path, st.st_ino, st.st_size, st.st_mtime_ns))
    return ("files", tuple(stats))


def scan_table(table: str, timestamp_field: str) -> TableStats:
    """The newest ``timestamp_field`` and the row count of a file source, by DuckDB (one
    thread: the server's other core stays free); UNKNOWN if it cannot be read."""
    con = sql.connect(threads=1)
    try:
        row = con.execute(
            f"SELECT max({sql.ident(timestamp_field)}), count(*) FROM {sql.parquet_scan(table)}"
        ).fetchone()
    except duckdb.Error:
        return UNKNOWN
    finally:
        con.close()
    if row is None:
        return UNKNOWN
    return TableStats(latest_event=row[0], rows=int(row[1]))


def _scanned(table: str, version: TableVersion) -> str:
    """The path to scan for ``version``: a versioned table's version folder itself."""
    return str(version[1]) if version[0] == "version" else table


def read_stats(table: str, timestamp_field: str) -> TableStats:
    """The statistics of a file source's current version, scanned now (no cache)."""
    version = table_version(table)
    return UNKNOWN if version is None else scan_table(_scanned(table, version), timestamp_field)


class TableStatsCache:
    """Each table's statistics, scanned once per version of the table."""

    def __init__(self, scan: TableScan = scan_table) -> None:
        self._scan = scan
        self._lock = threading.Lock()
        self._latest: dict[tuple[str, str], tuple[TableVersion, TableStats]] = {}

    def get(self, table: str, timestamp_field: str) -> tuple[TableVersion | None, TableStats]:
        """The table's current version and its statistics (scanned if the version is new)."""
        version = table_version(table)
        if version is None:
            return None, UNKNOWN
        key = (table, timestamp_field)
        with self._lock:
            cached = self._latest.get(key)
            if cached is None or cached[0] != version:
                cached = (version, self._scan(_scanned(table, version), timestamp_field))
                self._latest[key] = cached
        return cached
