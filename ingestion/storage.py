"""Where a feature table lives on disk, and how a run replaces its window atomically.

A feature table is a hive-partitioned Parquet folder, one folder per day (or hour) of
its event timestamp::

    data/features/weather_hourly.parquet -> .versions/weather_hourly/20261124T180102123456Z
    data/features/.versions/weather_hourly/20261124T180102123456Z/
        partition_date=20130101/part-0.parquet
        partition_date=20130102/part-0.parquet
    data/features/weather_hourly.quarantine/<run id>.parquet    rows that broke a rule

``<table>.parquet`` is a symbolic link to an immutable *version* folder; Feast's
FileSource, DuckDB and pyarrow read it as a plain folder. The partition columns
(``partition_date`` as yyyymmdd, and ``partition_hour`` 0..23 for the hour grain) hold
integers: pyarrow reads a string partition as a dictionary type, which Feast's schema
inference cannot map (it raises KeyError), while an integer reads as int32. (A name
starting with ``_``, which Feast would skip, makes pyarrow ignore the folders.) A feature
view without a declared schema therefore infers ``partition_date`` as an Int32 feature;
views derived from the job header (``featurestore.definitions``) never list it.

A run writes its window's partitions into a staging folder, hard-links every partition
of the current version that lies outside the window into the same folder (no copy),
renames the staging folder into ``.versions/`` and finally swaps the link with one
``rename(2)``. That rename is the commit point:

- killed before it: the link still names the old version, whose files were never
  written to (hard links share inodes, and no run ever opens a committed file for
  writing), so readers see exactly the old partitions. The leftover staging folder is
  deleted by the next run of the job.
- killed after it: the link names the new version, complete and fsynced before the swap
  (every file and partition folder is fsynced as it is written or linked, then the
  staging folder, the versions folder and, after the swap, the folder holding the link).

So there is no moment at which a reader sees some partitions old and some new, or a
half-written file. Older versions are pruned, keeping the previous one for readers
that resolved the link just before a swap.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from featurestore.errors import IngestionError
from featurestore.layout import DataLayout

PARTITION_COLUMNS = {"day": ("partition_date",), "hour": ("partition_date", "partition_hour")}
_STAGING_PREFIX = ".staging-"
_KEEP_VERSIONS = 2


def table_path(data_dir: Path, table: str) -> Path:
    """The path Feast's FileSource names: a link to the current version folder."""
    return DataLayout(data_dir).table(table)


def versions_dir(data_dir: Path, table: str) -> Path:
    return DataLayout(data_dir).versions(table)


def quarantine_dir(data_dir: Path, table: str) -> Path:
    return DataLayout(data_dir).quarantine(table)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def partition_sql(timestamp: str, grain: str) -> str:
    """SELECT-list items computing the partition columns from the event timestamp (UTC)."""
    ts = f'"{timestamp}"'
    items = [f"CAST(strftime({ts}, '%Y%m%d') AS INTEGER) AS partition_date"]
    if grain == "hour":
        items.append(f"CAST(hour({ts}) AS INTEGER) AS partition_hour")
    return ", ".join(items)


def partition_start(relative: Path) -> datetime:
    """The first instant of a partition folder such as ``partition_date=20130101``."""
    values = dict(part.split("=", 1) for part in relative.parts)
    day = datetime.strptime(values["partition_date"], "%Y%m%d").replace(tzinfo=UTC)
    return day.replace(hour=int(values.get("partition_hour", 0)))


def current_version(data_dir: Path, table: str) -> Path | None:
    link = table_path(data_dir, table)
    if not link.is_symlink():
        return None
    target = link.resolve()
    return target if target.is_dir() else None


@contextmanager
def table_lock(data_dir: Path, table: str) -> Iterator[None]:
    """One run of a job at a time, across processes (released when the process dies)."""
    lock_dir = DataLayout(data_dir).locks
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"{table}.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestionError(table, "another run of this job is in progress") from None
        yield
    finally:
        os.close(fd)


def new_staging(data_dir: Path, table: str, run_id: str) -> Path:
    """An empty staging folder for a run, after deleting stale ones (caller holds the lock)."""
    root = versions_dir(data_dir, table)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f"{_STAGING_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    return root / f"{_STAGING_PREFIX}{run_id}"


def link_outside_window(
    data_dir: Path, table: str, staging: Path, start: datetime, end: datetime
) -> int:
    """Hard-link the current version's partitions outside ``[start, end)`` into staging."""
    current = current_version(data_dir, table)
    if current is None:
        return 0
    linked = 0
    for day in os.scandir(current):
        first = partition_start(Path(day.name))
        if day.is_dir() and start <= first and first + timedelta(days=1) <= end:
            continue  # the whole day is in the window: nothing to keep, nothing to list
        linked += _link_tree(Path(day.path), current, staging, start, end)
    return linked


def link_partitions_except(data_dir: Path, table: str, staging: Path, replaced: set[Path]) -> int:
    """Hard-link every partition of the current version into staging except ``replaced``
    (relative partition folders, e.g. ``partition_date=20130101``): the push compaction's
    window is the set of partitions its rows fall in."""
    current = current_version(data_dir, table)
    if current is None:
        return 0
    return _link_tree(current, current, staging, lambda relative: relative in replaced)


def _link_tree(
    root: Path,
    current: Path,
    staging: Path,
    start: datetime | Callable[[Path], bool],
    end: datetime | None = None,
) -> int:
    """Link the partition files under ``root`` except those whose partition starts in
    ``[start, end)`` (or, given a predicate as ``start``, those it is true for)."""
    if callable(start):
        skip = start
    else:
        low, high = start, end
        assert high is not None

        def skip(relative: Path) -> bool:
            return low <= partition_start(relative) < high

    linked = 0
    for folder, _dirs, files in os.walk(root):
        names = sorted(name for name in files if name.endswith(".parquet"))
        if not names:
            continue
        relative = Path(folder).relative_to(current)
        if skip(relative):
            continue
        target = staging / relative
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            os.link(os.path.join(folder, name), target / name)
            linked += 1
        fsync_path(target)
        fsync_path(target.parent)
    return linked


def commit(data_dir: Path, table: str, staging: Path, run_id: str) -> Path:
    """Make ``staging`` the table's current version with one atomic rename of the link."""
    staging.mkdir(parents=True, exist_ok=True)  # a window that now holds no partitions
    # Files and partition folders were fsynced as they were written or linked.
    fsync_path(staging)
    version = versions_dir(data_dir, table) / run_id
    os.rename(staging, version)
    _fsync_dir(version.parent)
    link = table_path(data_dir, table)
    if link.is_dir() and not link.is_symlink():
        raise IngestionError(table, f"{link} is a folder, not a link written by the runner")
    tmp_link = link.with_name(f".{link.name}.{run_id}.tmp")
    os.symlink(os.path.relpath(version, link.parent), tmp_link)
    os.replace(tmp_link, link)  # the commit point
    _fsync_dir(link.parent)
    _prune(data_dir, table, version)
    return version


def _prune(data_dir: Path, table: str, current: Path) -> None:
    versions = sorted(
        p for p in versions_dir(data_dir, table).iterdir() if not p.name.startswith(".")
    )
    keep = {current, *versions[-_KEEP_VERSIONS:]}
    for old in versions:
        if old not in keep:
            shutil.rmtree(old, ignore_errors=True)


def write_file(path: Path, data: memoryview) -> None:
    """Create ``path`` with ``data`` and flush it to disk (here, in the writer's thread)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_path(path: Path | str) -> None:
    """Flush a file's data, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    fsync_path(folder)
