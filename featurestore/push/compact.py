"""Folding the push log into the feature table, by the jobs' atomic version swap.

One compaction of a push source's table, under the table's lock (``ingestion.storage``):

1. seal the segments of dead processes; take the sealed segments, oldest first;
2. drop the segments the current version already holds: their names are in the
   version's ``.push-segments`` manifest (a compaction that committed and was killed
   before deleting them);
3. merge the log's good rows into the partitions they fall in: existing rows first,
   then the log's in push order, one row per entity and event time (the first: what
   Redis kept, since an equal event time is not written again online), sorted by
   timestamp and keys, written by the jobs' partition writer (``ingestion.partitions``)
   with the declared column types;
4. hard-link every other partition, write the manifest, write the quarantined rows to
   ``<table>.quarantine/push-<segments' digest>.parquet`` (a retry overwrites the same
   file), commit (the one ``rename(2)``), then delete the folded segments.

Killed before the commit, the table is unchanged and the segments are still there;
after it, the manifest says they are folded. So every acknowledged row is in the table
exactly once after a compaction, whatever was killed when.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from featurestore import sql
from featurestore.errors import IngestionError
from featurestore.project import Project
from featurestore.push.spec import PushSpec
from featurestore.push.wal import read_segment, sealed_segments
from ingestion import partitions, storage

logger = logging.getLogger(__name__)

MANIFEST = ".push-segments"
_META = ("_rule", "_column", "_value")


@dataclass
class Compaction:
    table: str
    segments: int = 0
    rows: int = 0  # good rows read from the log
    written: int = 0  # rows added to the table (after dropping repeats)
    quarantined: int = 0
    partitions: int = 0
    version: Path | None = None
    seconds: float = 0.0
    skipped: str = ""  # why nothing was done (another run holds the lock)


def _manifest(version: Path | None) -> set[str]:
    if version is None or not (version / MANIFEST).is_file():
        return set()
    return set(json.loads((version / MANIFEST).read_text()))


def compact(project: Project, spec: PushSpec) -> Compaction:
    """Fold the sealed log of ``spec``'s push source into its table."""
    started = time.perf_counter()
    result = Compaction(spec.name)
    data_dir = project.layout.root
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(storage.table_lock(data_dir, spec.name))
        except IngestionError as exc:  # a job or another compaction holds the table
            result.skipped = str(exc)
            return result
        _compact(project, spec, result)
    result.seconds = time.perf_counter() - started
    return result


def _compact(project: Project, spec: PushSpec, result: Compaction) -> None:
    data_dir = project.layout.root
    folder = project.layout.push_log(spec.name)
    segments = sealed_segments(folder)
    current = storage.current_version(data_dir, spec.name)
    folded = _manifest(current)
    for path in [p for p in segments if p.name in folded]:
        path.unlink(missing_ok=True)
    segments = [p for p in segments if p.name not in folded]
    if not segments:
        return
    tables = []
    for path in segments:
        segment = read_segment(path)
        if segment.torn:
            logger.warning("%s ends in an incomplete record (never acknowledged)", path)
        tables.extend(segment.tables)
    result.segments = len(segments)
    job = spec.job
    names = [c.name for c in job.columns]
    schema = _schema(spec)
    rows = [t.select([*names, *_META]).cast(schema) for t in tables if t.num_rows]
    run_id = storage.new_run_id()
    log = pa.concat_tables(rows) if rows else schema.empty_table()
    log = log.append_column("__seq", pa.array(range(log.num_rows), pa.int64()))
    con = sql.connect()
    try:
        con.register("__log", log)
        good_count = con.execute("SELECT count(*) FROM __log WHERE _rule IS NULL").fetchall()[0]
        result.rows = int(good_count[0]) if good_count else 0
        result.quarantined = log.num_rows - result.rows
        staging = storage.new_staging(data_dir, spec.name, run_id)
        staging.mkdir(parents=True)
        replaced = _partitions(con, spec)
        result.partitions = len(replaced)
        existing = _existing(current, replaced)
        result.written = _write(con, spec, staging, existing)
        storage.link_partitions_except(data_dir, spec.name, staging, set(replaced))
        digest = hashlib.sha256("\n".join(p.name for p in segments).encode()).hexdigest()[:16]
        if result.quarantined:
            _quarantine(con, project, spec, digest, run_id)
    finally:
        con.close()
    storage.write_file(
        staging / MANIFEST, memoryview(json.dumps([p.name for p in segments]).encode())
    )
    result.version = storage.commit(data_dir, spec.name, staging, run_id)
    for path in segments:
        path.unlink(missing_ok=True)
    storage.fsync_path(folder)
    _record_stats(project, spec, run_id, result.version, replaced)


def _schema(spec: PushSpec) -> pa.Schema:
    from featurestore.push.plan import _value_type
    from featurestore.push.validate import ARROW_TYPES, TS_TYPE

    fields = []
    for column in spec.job.columns:
        arrow = TS_TYPE if column.name == spec.job.timestamp else ARROW_TYPES[_value_type(column)]
        fields.append(pa.field(column.name, arrow))
    return pa.schema([*fields, *(pa.field(m, pa.string()) for m in _META)])


def _partitions(con: duckdb.DuckDBPyConnection, spec: PushSpec) -> dict[Path, tuple[object, ...]]:
    """The partition folders the log's good rows fall in."""
    ts = sql.ident(spec.job.timestamp)
    hour = spec.job.grain == "hour"
    select = f"DISTINCT strftime({ts}, '%Y%m%d')" + (f", hour({ts})" if hour else "")
    found: dict[Path, tuple[object, ...]] = {}
    for row in con.sql(f"SELECT {select} FROM __log WHERE _rule IS NULL").fetchall():
        relative = Path(f"partition_date={row[0]}")
        if hour:
            relative = relative / f"partition_hour={row[1]}"
        found[relative] = row
    return found


def _existing(current: Path | None, replaced: dict[Path, tuple[object, ...]]) -> list[str]:
    if current is None:
        return []
    files = []
    for relative in replaced:
        folder = current / relative
        if folder.is_dir():
            files += [str(p) for p in sorted(folder.glob("*.parquet"))]
    return files


def _write(
    con: duckdb.DuckDBPyConnection, spec: PushSpec, staging: Path, existing: list[str]
) -> int:
    job = spec.job
    columns = ", ".join(
        f"CAST({sql.ident(c.name)} AS {c.type}) AS {sql.ident(c.name)}" for c in job.columns
    )
    plain = ", ".join(sql.ident(c.name) for c in job.columns)
    union = f"SELECT {plain}, 1 AS __src, __seq FROM __log WHERE _rule IS NULL"
    if existing:
        files = ", ".join(sql.path_literal(f) for f in existing)
        union = (
            f"SELECT {plain}, 0 AS __src, 0 AS __seq FROM read_parquet([{files}]) UNION ALL {union}"
        )
    keys = ", ".join(sql.ident(k) for k in (*job.entities, job.timestamp))
    order = ", ".join(sql.ident(k) for k in (job.timestamp, *job.entities))
    before = 0
    if existing:
        counted = con.execute(f"SELECT count(*) FROM read_parquet([{files}])").fetchall()[0]
        before = int(counted[0]) if counted else 0
    query = (
        f"SELECT {columns}, NULL::VARCHAR AS {partitions.RULE} FROM ({union}) "
        f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY __src, __seq) = 1 "
        f"ORDER BY {order}"
    )
    found = partitions.write(
        con.sql(query).to_arrow_reader(1 << 16),
        staging,
        grain=job.grain,
        timestamp=job.timestamp,
        unique=[*job.entities, job.timestamp],
        written=[c.name for c in job.columns],
    )
    if found.duplicates:  # cannot happen after the QUALIFY: a bug, not bad data
        raise IngestionError(job.name, "compaction produced two rows for one entity and time")
    return found.rows_in - before


def _quarantine(
    con: duckdb.DuckDBPyConnection, project: Project, spec: PushSpec, digest: str, run_id: str
) -> None:
    folder = project.layout.quarantine(spec.name)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"push-{digest}.parquet"
    tmp = folder / f".push-{digest}.parquet.tmp"
    names = ", ".join(sql.ident(c.name) for c in spec.job.columns)
    con.execute(
        f"COPY (SELECT {names}, _rule, _column, _value, '{run_id}' AS _run_id FROM __log "
        f"WHERE _rule IS NOT NULL ORDER BY __seq) TO {sql.path_literal(tmp)} "
        "(FORMAT parquet, COMPRESSION zstd)"
    )
    storage.fsync_path(tmp)
    os.replace(tmp, target)
    storage.fsync_path(folder)


def _record_stats(
    project: Project,
    spec: PushSpec,
    run_id: str,
    version: Path,
    replaced: dict[Path, tuple[object, ...]],
) -> None:
    """The monitor's statistics of the partitions this compaction rewrote."""
    if not replaced:
        return
    try:
        from featurestore.monitor.stats import record_partition_stats

        starts = [storage.partition_start(p) for p in replaced]
        span = (min(starts), max(starts) + timedelta(days=1))
        record_partition_stats(project, spec.job, run_id, version, span)
    except Exception:  # the monitor computes a missing record itself
        logger.exception("statistics of %s's compaction were not recorded", spec.name)
