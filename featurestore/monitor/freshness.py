"""Freshness per feature view: the newest event offline, the last materialization, the
age of what the online store serves, against the view's objective.

For each feature view in the registry, at ``now``:

    newest_event        the newest event time of the view's batch source, from the Parquet
                        footers of its current version (each row group's ``max``
                        statistic of the timestamp column; DuckDB's ``max()`` over the
                        files that have none). ``None`` when the source holds no rows or
                        is not a local Parquet source.
    last_materialized   the end of the view's latest materialization interval in Feast's
                        registry; ``None`` when it was never materialized.
    served_age_seconds  ``now - min(newest_event, last_materialized)``: the age of the
                        newest event the online store can hold (a materialization writes
                        rows up to its end, and none newer than the table has); with no
                        newest event known, ``now - last_materialized``. ``None`` when
                        never materialized. Rows pushed online since may be newer.
    objective           the first that applies:
                          1. the project file's ``monitor.freshness`` entry for the view
                             (``objective_source`` "monitor.freshness");
                          2. the ``-- freshness:`` header of the job that writes the view's
                             table ("job header");
                          3. the view's TTL, when above 0 ("ttl");
                          4. twice the job's grain: 2 days for ``day``, 2 hours for
                             ``hour`` ("schedule"); a view no job writes counts as ``day``.
    stale               the served age is above the objective, or the view was never
                        materialized.

The job that writes a view's table is the one its ``job`` tag names
(``featurestore.definitions.job_feature_view`` sets it), else the job whose table
(``DataLayout.table``) is the view's source path.

Reading footers costs a file open per partition file, no scan; the result is kept per
table version (``featurestore.catalog.stats.table_version``), so asking again while no
run committed costs a ``readlink``. ``at`` moves a report to a later ``now`` without any
I/O (the API's gauges and stale header use it between refreshes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from featurestore import sql
from featurestore.job_spec import Job
from featurestore.monitor.model import Freshness
from featurestore.project import Project
from featurestore.push.spec import table_headers

if TYPE_CHECKING:
    from feast import FeatureStore, FeatureView

__all__ = ["at", "freshness_report", "newest_event", "objective"]

logger = logging.getLogger(__name__)

GRAIN_SECONDS = {"day": 86_400.0, "hour": 3_600.0}
DEFAULT_GRAIN = "day"  # a view that no job writes


def freshness_report(
    project: Project, store: FeatureStore, now: datetime | None = None
) -> list[Freshness]:
    """Every feature view's freshness at ``now`` (default: the current time), by name."""
    moment = _utc(now) if now is not None else datetime.now(UTC)
    jobs = table_headers(project.jobs_dir)  # the jobs' and the push sources'
    tables = {str(project.layout.table(name)): job for name, job in jobs.items()}
    repo = Path(store.config.repo_path or project.repo_path)
    report = []
    for view in sorted(store.list_feature_views(allow_cache=True), key=lambda v: v.name):
        report.append(_view_freshness(project, view, jobs, tables, repo, moment))
    return report


def _view_freshness(
    project: Project,
    view: FeatureView,
    jobs: Mapping[str, Job],
    tables: Mapping[str, Job],
    repo: Path,
    now: datetime,
) -> Freshness:
    source = view.batch_source
    path = _local_path(getattr(source, "path", None), repo)
    timestamp = getattr(source, "timestamp_field", "") or ""
    named = view.tags.get("job") or view.tags.get("push") or ""
    job = jobs.get(named) or (tables.get(path) if path else None)
    seconds, origin = objective(project, view.name, _ttl_seconds(view), job)
    note = ""
    newest = None
    if path is None or not timestamp:
        note = "the source is not a local Parquet source"
    else:
        try:
            newest = newest_event(path, timestamp)
        except (OSError, pa.ArrowException, duckdb.Error) as exc:
            logger.warning("freshness of %s: cannot read %s: %s", view.name, path, exc)
            note = f"cannot read the source: {exc}"
        else:
            if newest is None:
                note = "no rows offline"
    ends = [_utc(end) for _, end in view.materialization_intervals]
    last = max(ends) if ends else None
    if last is None:
        note = note or "never materialized"
    checked = Freshness(
        view=view.name,
        checked_at=now,
        objective_seconds=seconds,
        newest_event=newest,
        last_materialized=last,
        served_age_seconds=None,
        stale=True,
        objective_source=origin,
        note=note,
    )
    return at(checked, now)


def at(freshness: Freshness, now: datetime) -> Freshness:
    """``freshness`` as it stands at ``now``: ages and ``stale`` recomputed, no I/O."""
    served = served_age(freshness.newest_event, freshness.last_materialized, now)
    return replace(
        freshness,
        checked_at=now,
        served_age_seconds=served,
        stale=served is None or served > freshness.objective_seconds,
    )


def served_age(
    newest: datetime | None, last_materialized: datetime | None, now: datetime
) -> float | None:
    """The age at ``now`` of the newest event the online store can hold."""
    if last_materialized is None:
        return None
    held = last_materialized if newest is None else min(newest, last_materialized)
    return (now - held).total_seconds()


def objective(
    project: Project, view: str, ttl_seconds: float, job: Job | None
) -> tuple[float, str]:
    """The view's freshness objective in seconds and where it comes from (module doc)."""
    declared = project.monitor.freshness.get(view)
    if declared is not None:
        return declared.total_seconds(), "monitor.freshness"
    if job is not None and job.freshness is not None:
        return job.freshness.total_seconds(), "job header"
    if ttl_seconds > 0:
        return ttl_seconds, "ttl"
    grain = job.grain if job is not None else DEFAULT_GRAIN
    return 2 * GRAIN_SECONDS[grain], "schedule"


def _ttl_seconds(view: FeatureView) -> float:
    ttl: timedelta | None = view.ttl
    return ttl.total_seconds() if ttl else 0.0


def _local_path(path: object, repo: Path) -> str | None:
    """A file source's path as our engine reads it (relative: the repo's), else None."""
    if not isinstance(path, str) or not path or "://" in path:
        return None
    return path if Path(path).is_absolute() else str(repo / path)


# -- the newest event of a source ------------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[object, datetime | None]] = {}


def newest_event(path: str, timestamp_field: str) -> datetime | None:
    """The newest ``timestamp_field`` of the Parquet source at ``path`` (one file, a
    folder, a table's link or a glob) in UTC; ``None`` if it holds no rows. Kept per
    table version."""
    from featurestore.catalog.stats import table_version

    version = table_version(path)
    if version is None:
        return None
    key = (path, timestamp_field)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    newest = _newest(_version_files(path, version), timestamp_field)
    with _cache_lock:
        if len(_cache) > 1024:
            _cache.clear()
        _cache[key] = (version, newest)
    return newest


def _version_files(path: str, version: tuple[object, ...]) -> list[str]:
    """The files of ``version``: a table's version folder, or the files it lists."""
    if version[0] == "version":
        return [str(p) for p in sorted(Path(str(version[1])).rglob("*.parquet"))]
    files: Any = version[1]
    return [str(entry[0]) for entry in files]


def _newest(files: Iterable[str], column: str) -> datetime | None:
    newest: datetime | None = None
    unread: list[str] = []
    for path in files:
        known, value = _footer_max(path, column)
        if not known:
            unread.append(path)
        elif value is not None and (newest is None or value > newest):
            newest = value
    if unread:
        value = _duckdb_max(unread, column)
        if value is not None and (newest is None or value > newest):
            newest = value
    return newest


def _footer_max(path: str, column: str) -> tuple[bool, datetime | None]:
    """(whether the footer answers, the newest value) of ``column`` in one file."""
    metadata = pq.read_metadata(path)
    names = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
    if column not in names:
        return False, None  # a hive partition key, or a file of another schema
    index = names.index(column)
    newest: datetime | None = None
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        if row_group.num_rows == 0:
            continue
        chunk = row_group.column(index)
        stats = chunk.statistics if chunk.is_stats_set else None
        if stats is None:
            return False, None
        if not stats.has_min_max:
            if stats.has_null_count and stats.null_count == row_group.num_rows:
                continue  # every value null
            return False, None
        value = _as_utc(stats.max)
        if value is None:
            return False, None
        if newest is None or value > newest:
            newest = value
    return True, newest


def _duckdb_max(files: list[str], column: str) -> datetime | None:
    con = sql.connect(threads=1)
    try:
        listed = ", ".join(sql.path_literal(f) for f in files)
        row = con.execute(
            f"SELECT max({sql.ident(column)}) "
            f"FROM read_parquet([{listed}], hive_partitioning = true, union_by_name = true)"
        ).fetchone()
    finally:
        con.close()
    return _as_utc(row[0]) if row else None


def _as_utc(value: object) -> datetime | None:
    """A statistic as an aware UTC datetime (naive ones are UTC; dates at midnight)."""
    if isinstance(value, datetime):
        plain = datetime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tzinfo=value.tzinfo,
        )  # a pandas Timestamp (nanosecond columns) as a datetime, to the microsecond
        return _utc(plain)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
