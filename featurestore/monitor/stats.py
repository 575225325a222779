"""Statistics per feature per partition, recorded by each ingestion run, merged per window.

While a job's run streams its rows to the partition writer (``ingestion.runner``),
``RunStats`` computes, ~1M rows at a time on a worker thread with a few DuckDB queries
over the rows already in memory (no partition file is read back), per partition and per
feature (the columns that are neither entity keys nor the timestamp): count, nulls, min,
max, mean and M2 (the sum of squared deviations), the whole values (v = round(v): a
float column turned int upstream), the k = 1024 smallest distinct value hashes (a KMV
sketch), a histogram (numeric) and value counts (strings, booleans: all of them up to
1,000 distinct values, else the 100 most frequent and the rest as ``other``). Right
after the commit the run writes them into ``data/monitor/stats/<table>/``::

    <run id>.parquet   one row per partition and feature (``stats_compute.ROW_TYPES``)
    <run id>.json      what the rows describe, written last: the run's window and, per
                       partition, its files (name, inode, size, mtime), its good rows and
                       the rows the run quarantined there, by rule
    edges.json         each numeric feature's histogram edges, fixed when the feature is
                       first seen: 20 equal bins between the header's ``min`` and ``max``,
                       else the extremes of that first run's values, plus a bin below and
                       one above; never changed, so every partition's bins add up

    stats.py           the runner's hook, ``window_stats`` and ``quarantine_rates``
    stats_compute.py   the queries that compute a partition's rows, and their merge
    stats_store.py     the records and edges on disk, which record is current

Merging is exact, so a window's statistics never re-scan the table: counts, nulls, whole
values and histogram bins add up; min and max are the extremes; means and M2 combine by
Chan's formula (the total M2 is the partitions' M2 plus each one's count times its
squared distance to the overall mean); the k smallest distinct hashes of a union are the
k smallest of the parts' k smallest, so the merged sketch is the sketch a full scan
gives: the distinct count is exact up to k, beyond it an estimate (k - 1) * 2^64 / h_k
with a relative error near 1 / sqrt(k) = 3%.

A record is current for a partition while the partition's files in the table's current
version are the files it describes: a later run of that window writes new files, while
partitions outside a run's window are hard links (same inode) in the new version.
Partitions no record matches (a table written before statistics existed, a crash between
the commit and the record, ``FEATURESTORE_MONITOR_STATS=0``) are computed from their files
by the reader when first asked for, and cached as ``recomputed-...``. So is a run's whole
record when a numeric feature has no edges yet (its first values decide them). The
monitor writes only this folder, never a feature table.
"""

from __future__ import annotations

import logging
import math
import os
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurestore import sql
from featurestore.errors import InvalidRequestError, UnknownFeatureTableError
from featurestore.monitor.model import FeatureStats, Histogram, QuarantinePoint
from featurestore.monitor.stats_compute import (
    BINS,
    SKETCH_SIZE,
    combine,
    combine_partials,
    feature_columns,
    kind_of,
    partition_stats,
    rows_by_slot,
)
from featurestore.monitor.stats_store import (
    FORMAT,
    Record,
    Slot,
    current_version,
    data_records,
    decide_edges,
    prune,
    quarantine_records,
    read_records,
    slot_end,
    slot_key,
    slot_start,
    version_slots,
    write_record,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from featurestore.job_spec import Job
    from featurestore.project import Project

logger = logging.getLogger(__name__)

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
SWITCH = "FEATURESTORE_MONITOR_STATS"  # "0" turns statistics off in ingestion runs
_CHUNK_BYTES = 64 << 20  # partition files read at a time when computing from files
_STREAM_ROWS = 1 << 20  # streamed rows computed at a time


def stats_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ingestion runs record statistics: yes unless ``FEATURESTORE_MONITOR_STATS``
    is ``0``, ``false``, ``no`` or ``off``."""
    value = (os.environ if environ is None else environ).get(SWITCH, "1")
    return value.strip().lower() not in ("0", "false", "no", "off")


# -- computing from partition files (first runs, partitions without a record) ---------


def _from_files(
    version: Path, slots: Sequence[Slot], job: Job | None, folder: Path, decided_by: str
) -> pa.Table:
    """The statistics rows of ``slots``, read from their files a chunk at a time."""
    import pyarrow as pa

    def scan(chosen: Sequence[Slot]) -> str:
        files = ", ".join(sql.path_literal(version / s.key / f[0]) for s in chosen for f in s.files)
        return f"read_parquet([{files}], hive_partitioning = true, union_by_name = true)"

    hourly = any("partition_hour=" in s.key for s in slots)
    keys = ("partition_date", "partition_hour") if hourly else ("partition_date",)
    con = sql.connect()
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {scan(slots)}").fetchall()
        columns = feature_columns([(row[0], row[1]) for row in described], job)

        def extremes(names: Sequence[str]) -> dict[str, tuple[Any, Any]]:
            xs = [f"CAST({sql.ident(n)} AS DOUBLE)" for n in names]
            items = [
                f"min({x}) FILTER (isfinite({x})), max({x}) FILTER (isfinite({x}))" for x in xs
            ]
            row = con.execute(f"SELECT {', '.join(items)} FROM {scan(slots)}").fetchall()[0]
            return {n: (row[2 * i], row[2 * i + 1]) for i, n in enumerate(names)}

        edges = decide_edges(folder, columns, job, decided_by, extremes)
        parts, chunk, size = [], [], 0
        for i, slot in enumerate(slots):
            chunk.append(slot)
            size += sum(f[2] for f in slot.files)
            if size >= _CHUNK_BYTES or i == len(slots) - 1:
                present = {
                    row[0]
                    for row in con.execute(f"DESCRIBE SELECT * FROM {scan(chunk)}").fetchall()
                }
                select = [*keys] + [
                    sql.ident(n) if n in present else f"CAST(NULL AS {t}) AS {sql.ident(n)}"
                    for n, t in columns
                ]
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE __rows AS SELECT {', '.join(select)} "
                    f"FROM {scan(chunk)}"
                )
                parts.append(partition_stats(con, "__rows", keys, columns, edges))
                chunk, size = [], 0
    finally:
        con.close()
    return pa.concat_tables(parts)


def quarantined_by_slot(
    con: duckdb.DuckDBPyConnection, relation: str, timestamp: str, rule: str, hourly: bool
) -> dict[str | None, dict[str, int]]:
    """Quarantined rows per partition key (``None``: without a timestamp) and rule."""
    ts = f"TRY_CAST({sql.ident(timestamp)} AS TIMESTAMPTZ)"
    found: dict[str | None, dict[str, int]] = {}
    for day, hour, name, n in con.execute(
        f"SELECT CAST(strftime({ts}, '%Y%m%d') AS INTEGER), {f'hour({ts})' if hourly else 'NULL'},"
        f" {sql.ident(rule)}, count(*) FROM {relation} GROUP BY ALL"
    ).fetchall():
        found.setdefault(None if day is None else slot_key(day, hour), {})[str(name)] = int(n)
    return found


# -- the ingestion runner's side ---------------------------------------------------------


class RunStats:
    """The statistics of one run's good rows, computed while the runner streams them to
    the partition writer (``tee``), so no partition file is read back: ~1M rows at a
    time, by one worker thread, so that a chunk's query overlaps the writing of the
    next rows. ``record_partition_stats`` stores them after the commit. A failure only
    stops the collection (the record is then computed from the files)."""

    def __init__(self, project: Project, job: Job) -> None:
        self.project, self.job = project, job
        self.folder = project.layout.monitor_stats(job.name)
        self.parts: list[pa.Table] = []
        self.streaming = True
        self.columns: list[tuple[str, str]] | None = None
        self.edges: dict[str, tuple[float, float]] = {}
        self._con: duckdb.DuckDBPyConnection | None = None
        self._needed: list[str] = []
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._worker: ThreadPoolExecutor | None = None
        self._running: deque[Future[None]] = deque()

    def tee(
        self, reader: pa.RecordBatchReader, written: Sequence[str], rule: str
    ) -> pa.RecordBatchReader:
        """``reader``'s batches, unchanged, each added to the statistics on its way."""
        import pyarrow as pa

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                if self.streaming:
                    self._add(batch, written, rule)
                yield batch

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def _add(self, batch: pa.RecordBatch, written: Sequence[str], rule: str) -> None:
        """Keep the batch's columns; hand them to the worker once ~1M rows are kept (a
        query's fixed cost is then a small part of it)."""
        try:
            if self.columns is None and not self._start(batch, written):
                return
            self._pending.append(batch.select([*self._needed, rule]))
            self._pending_rows += batch.num_rows
            if self._pending_rows >= _STREAM_ROWS:
                self._submit(rule)
        except Exception:
            self._fail()

    def _start(self, batch: pa.RecordBatch, written: Sequence[str]) -> bool:
        """The features and their edges, from the first batch; False: not streamed."""
        con = self._connection()
        con.register("__batch", batch)
        try:
            described = con.execute("DESCRIBE SELECT * FROM __batch").fetchall()
            types = {str(row[0]): str(row[1]) for row in described}
        finally:
            con.unregister("__batch")
        self.columns = feature_columns([(n, types[n]) for n in written], self.job)
        self.edges = decide_edges(self.folder, self.columns, self.job, "header")
        self._needed = [self.job.timestamp, *(n for n, _ in self.columns)]
        numeric = [n for n, t in self.columns if kind_of(t) == "numeric"]
        self.streaming = all(n in self.edges for n in numeric)  # else the first values decide
        return self.streaming

    def _submit(self, rule: str) -> None:
        """The kept rows to the worker; waits while it is a chunk behind (bounded memory)."""
        import pyarrow as pa

        if not self._pending:
            return
        chunk = pa.Table.from_batches(self._pending)
        self._pending, self._pending_rows = [], 0
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stats")
        while len(self._running) > 1:
            self._running.popleft().result()
        self._running.append(self._worker.submit(self._compute, chunk, rule))

    def _compute(self, chunk: pa.Table, rule: str) -> None:
        assert self.columns is not None
        con, job = self._connection(), self.job
        con.register("__batch", chunk)
        try:
            ts = sql.ident(job.timestamp)
            hourly = job.grain == "hour"
            hour = f", CAST(hour({ts}) AS INTEGER) AS partition_hour" if hourly else ""
            features = "".join(f", {sql.ident(n)}" for n, _ in self.columns)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE __rows AS SELECT CAST({ts} AS DATE) AS "
                f"partition_date{hour}{features} FROM __batch WHERE {sql.ident(rule)} IS NULL"
            )
            keys = ("partition_date", "partition_hour") if hourly else ("partition_date",)
            stats = partition_stats(con, "__rows", keys, self.columns, self.edges, dates=True)
            self.parts.append(stats)
        finally:
            con.unregister("__batch")

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = sql.connect()
        return self._con

    def _fail(self) -> None:
        logger.warning("%s: statistics not computed from the stream", self.job.name, exc_info=True)
        self.streaming, self.parts, self._pending = False, [], []

    def rows(self, rule: str = "__rule") -> pa.Table | None:
        """The streamed statistics, one row per partition and feature (None: not streamed)."""
        if self.streaming and self.columns is not None:
            try:
                self._submit(rule)
                while self._running:
                    self._running.popleft().result()
            except Exception:
                self._fail()
        if not self.streaming or self.columns is None or not self.parts:
            return None
        return combine_partials(self.parts)

    def close(self) -> None:
        """Stop the worker (after its current chunk) and close its connection."""
        if self._worker is not None:
            for future in self._running:
                future.cancel()
            self._worker.shutdown(wait=True)
            self._worker = None
        self._running.clear()
        if self._con is not None:
            self._con.close()
            self._con = None


def record_partition_stats(
    project: Project,
    job: Job,
    run_id: str,
    version: Path,
    span: tuple[datetime, datetime],
    *,
    bad: pa.Table | None = None,
    streamed: RunStats | None = None,
) -> Path:
    """Store the statistics of the partitions a run just committed: those of ``version``
    (its new version folder) that start in ``span``, from ``streamed`` or else read from
    their files. ``bad`` holds the run's quarantined rows (the job's timestamp column and
    ``__rule``). Returns the record's description file; then deletes the records that no
    partition of the version uses any more.

    The runner calls it after its commit and logs, never raises, its failure: the reader
    computes a missing record itself.
    """
    folder = project.layout.monitor_stats(job.name)
    slots = version_slots(version)
    mine = {key: slot for key, slot in slots.items() if span[0] <= slot.start < span[1]}
    rows = streamed.rows() if streamed is not None else None
    if rows is None or set(rows.column("slot").to_pylist()) != set(mine):
        rows = _from_files(version, list(mine.values()), job, folder, run_id) if mine else None
    quarantined: dict[str | None, dict[str, int]] = {}
    if bad is not None and bad.num_rows:
        con = sql.connect()
        try:
            con.register("__bad", bad)
            quarantined = quarantined_by_slot(
                con, "__bad", job.timestamp, "__rule", job.grain == "hour"
            )
        finally:
            con.close()
    good = rows_by_slot(rows) if rows is not None else {}
    entries = {}
    for key in sorted({*mine, *(k for k in quarantined if k is not None)}):
        by_rule = quarantined.get(key, {})
        files = [list(f) for f in mine[key].files] if key in mine else []
        entries[key] = {"files": files, "rows": good.get(key, 0),
                        "quarantined": sum(by_rule.values()), "by_rule": by_rule}  # fmt: skip
    unplaced = quarantined.get(None, {})
    meta = {
        "format": FORMAT, "table": job.name, "run_id": run_id, "source": "run",
        "start": span[0].isoformat(), "end": span[1].isoformat(), "grain": job.grain,
        "slots": entries, "unplaced": {"quarantined": sum(unplaced.values()), "by_rule": unplaced},
        "written_at": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    written = write_record(folder, run_id, rows if rows is not None else _no_rows(), meta)
    prune(folder, slots, keep=run_id)
    return written


def _no_rows() -> pa.Table:
    import pyarrow as pa

    return pa.table({"slot": pa.array([], pa.string())})


# -- reading a window ---------------------------------------------------------------------


@dataclass
class _Window:
    """The current version's partitions, those in a window, and the records."""

    table: str
    version: Path
    slots: dict[str, Slot]  # every partition of the version
    selected: list[str]  # the keys of those in the window, in time order
    records: list[Record]
    job: Job | None
    bounds: tuple[datetime | None, datetime | None]

    def within(self, key: str) -> bool:
        low, high = self.bounds
        start = slot_start(key)
        return (low is None or start >= low) and (high is None or start < high)


def _open_window(project: Project, table: str, start: object, end: object) -> _Window:
    layout = project.layout
    version = current_version(layout, table)
    if version is None:
        raise UnknownFeatureTableError(table, list(layout.feature_tables()))
    slots = version_slots(version)
    records = read_records(layout.monitor_stats(table))
    bounds = (_bound(start, "start"), _bound(end, "end"))
    window = _Window(table, version, slots, [], records, _find_job(project, table), bounds)
    window.selected = sorted((k for k in slots if window.within(k)), key=slot_start)
    return window


def _bound(value: object, name: str) -> datetime | None:
    """A window bound: a datetime (naive: UTC), a date, an ISO string, or None (open)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidRequestError(f"{name} {value!r} is not an ISO date or time") from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise InvalidRequestError(f"{name} must be a date or time, not {type(value).__name__}")


def _find_job(project: Project, table: str) -> Job | None:
    from featurestore.errors import JobDefinitionError
    from featurestore.job_spec import parse_job

    path = project.jobs_dir / f"{table}.sql"
    try:
        return parse_job(path) if path.is_file() else None
    except JobDefinitionError:
        return None


def _window_rows(project: Project, window: _Window, keys: Sequence[str]) -> pa.Table | None:
    """The statistics rows of the partitions ``keys``: from the records that match them,
    computed (and cached) for the others."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    folder = project.layout.monitor_stats(window.table)
    matched = data_records(window.records, window.slots)
    wanted: dict[str, list[str]] = {}
    for key in keys:
        if key in matched:
            wanted.setdefault(matched[key].name, []).append(key)
    missing = [key for key in keys if key not in matched]
    tables = []
    for name, chosen in wanted.items():
        try:
            rows = pq.read_table(folder / f"{name}.parquet")
        except (OSError, pa.ArrowException):  # pruned meanwhile, or damaged
            missing += chosen
            continue
        tables.append(rows.filter(pc.is_in(rows.column("slot"), pa.array(chosen))))
    if missing:
        tables.append(_recompute(project, window, sorted(missing, key=slot_start)))
    tables = [t for t in tables if t.num_rows and "column" in t.column_names]
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def _recompute(project: Project, window: _Window, keys: Sequence[str]) -> pa.Table:
    """Compute the statistics of partitions no record describes, and cache them."""
    folder = project.layout.monitor_stats(window.table)
    slots = [window.slots[key] for key in keys]
    name = f"recomputed-{window.version.name}-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
    rows = _from_files(window.version, slots, window.job, folder, name)
    good = rows_by_slot(rows)
    meta = {
        "format": FORMAT, "table": window.table, "run_id": name, "source": "recomputed",
        "slots": {s.key: {"files": [list(f) for f in s.files], "rows": good.get(s.key, 0)}
                  for s in slots},
        "written_at": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    try:
        write_record(folder, name, rows, meta)
    except OSError as exc:  # a read-only data folder: the statistics are still right
        logger.warning("statistics of %s not cached: %s", window.table, exc)
    return rows


def window_stats(
    project: Project,
    table: str,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    *,
    top: int = 10,
) -> list[FeatureStats]:
    """Every feature's statistics over the partitions of ``table``'s current version
    that start in ``[start, end)`` (either bound may be open), merged from their
    records without reading the table (partitions without one are computed once).

    Count, nulls, min, max, mean, std (the sample standard deviation, n - 1), the
    histogram and the whole-number share are exact; distinct is exact up to 1,024
    values, an estimate beyond (``distinct_exact``); the ``top`` values are exact unless
    a partition had more than 1,000 distinct values (it kept its 100 most frequent).
    Quantiles are interpolated linearly within the merged histogram's bins (so only as
    fine as its 20 bins), and clamped to [min, max]. An empty window gives ``[]``.
    """
    window = _open_window(project, table, start, end)
    rows = _window_rows(project, window, window.selected) if window.selected else None
    if rows is None:
        return []
    import pyarrow.compute as pc

    rows = rows.filter(pc.is_valid(rows.column("column")))
    rows = rows.sort_by([("partition_date", "ascending"), ("partition_hour", "ascending")])
    names = dict.fromkeys(rows.column("column").to_pylist())
    stats = []
    for name, _ in feature_columns([(n, "") for n in names], window.job):
        mine = rows.filter(pc.equal(rows.column("column"), name))
        stats.append(_feature_stats(table, combine(mine, truncate=False), top, mine.num_rows))
    return stats


def _feature_stats(table: str, row: Mapping[str, Any], top: int, partitions: int) -> FeatureStats:
    sketch, count, nulls = row["sketch"], row["count"], row["nulls"]
    exact = len(sketch) < SKETCH_SIZE
    distinct = len(sketch) if exact else round((SKETCH_SIZE - 1) * 2.0**64 / (sketch[-1] + 1))
    if not exact:  # an estimate, but never more values than there are, nor fewer than seen
        distinct = max(min(distinct, count), len(sketch))
    common: dict[str, Any] = {
        "table": table, "column": row["column"], "type": row["type"], "count": count,
        "nulls": nulls, "distinct": distinct, "distinct_exact": exact, "kind": row["kind"],
        "partitions": partitions,
    }  # fmt: skip
    if row["kind"] == "numeric":
        m2, mean = row.get("m2"), row.get("mean")
        std = math.sqrt(max(m2, 0.0) / (count - 1)) if m2 is not None and count > 1 else None
        histogram = None
        if row.get("hist") is not None:
            low, high = row["lo"], row["hi"]
            inner = [low + i * (high - low) / BINS for i in range(BINS)] + [high]
            histogram = Histogram(tuple(row["hist"]), (-math.inf, *inner, math.inf), nulls=nulls)
        quantiles = {}
        if histogram is not None and row["min"] is not None and row["max"] is not None:
            quantiles = _quantiles(histogram, row["min"], row["max"])
        whole = row.get("whole") or 0
        return FeatureStats(**common, min=row["min"], max=row["max"], mean=mean, std=std,
                            quantiles=quantiles, histogram=histogram, whole_numbers=whole,
                            whole_share=whole / count if count else None)  # fmt: skip
    if row["kind"] != "categorical":
        return FeatureStats(**common, min=row.get("min_text"), max=row.get("max_text"))
    values, counts = row["values"], row["value_counts"]
    shown = list(zip(values[:top], counts[:top], strict=True))
    histogram = Histogram(tuple(counts), labels=tuple(values), nulls=nulls) if values else None
    return FeatureStats(**common, min=row.get("min_text"), max=row.get("max_text"), top=shown,
                        other=count - sum(n for _, n in shown), histogram=histogram)  # fmt: skip


def _quantiles(histogram: Histogram, low: float, high: float) -> dict[float, float]:
    """Quantiles interpolated linearly within the bins; the outer bins span from the
    minimum to the first edge and from the last edge to the maximum."""
    total = histogram.total
    if not total or histogram.edges is None:
        return {}
    edges = list(histogram.edges)
    edges[0], edges[-1] = min(low, edges[1]), max(high, edges[-2])
    found = {}
    for q in QUANTILES:
        target, seen = q * total, 0
        for i, count in enumerate(histogram.counts):
            if count and seen + count >= target:
                value = edges[i] + (target - seen) / count * (edges[i + 1] - edges[i])
                found[q] = min(max(value, low), high)
                break
            seen += count
    return found


def quarantine_rates(
    project: Project,
    table: str,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
) -> list[QuarantinePoint]:
    """Per partition starting in ``[start, end)``, in time order: the rows its run read
    (good plus quarantined), those it quarantined (by rule) and their share. A partition
    whose every row was quarantined has no files but still a point (rate 1.0).

    The counts come from the runs' records; for a partition no run recorded
    (``QuarantinePoint.recorded`` False) the good rows are its own and the quarantined
    ones those in the quarantine file of the current version's run.
    """
    window = _open_window(project, table, start, end)
    authority = quarantine_records(window.records, window.slots)
    keys = {*window.selected, *(k for k in authority if k not in window.slots and window.within(k))}
    unrecorded = sorted((k for k in keys if k not in authority), key=slot_start)
    good: dict[str, int] = {}
    extra: dict[str, dict[str, int]] = {}
    if unrecorded:
        rows = _window_rows(project, window, [k for k in unrecorded if k in window.slots])
        good = rows_by_slot(rows) if rows is not None else {}
        extra = _unrecorded_quarantine(project, window)
    points = []
    for key in sorted(keys, key=slot_start):
        record = authority.get(key)
        if record is not None:
            entry = record.slots[key]
            rows_good, by_rule = (
                int(entry["rows"]),
                {k: int(n) for k, n in entry["by_rule"].items()},
            )
        else:
            rows_good, by_rule = good.get(key, 0), extra.get(key, {})
        quarantined = sum(by_rule.values())
        rows_in = rows_good + quarantined
        points.append(QuarantinePoint(
            start=slot_start(key), end=slot_end(key), rows_in=rows_in, quarantined=quarantined,
            rate=quarantined / rows_in if rows_in else None, by_rule=by_rule,
            run_id=record.run_id if record is not None else None, recorded=record is not None,
        ))  # fmt: skip
    return points


def _unrecorded_quarantine(project: Project, window: _Window) -> dict[str, dict[str, int]]:
    """Quarantined rows by partition and rule in the current version's quarantine file,
    when the run that wrote the version left no record."""
    run_id = window.version.name
    path = project.layout.quarantine(window.table) / f"{run_id}.parquet"
    if window.job is None or any(r.run_id == run_id for r in window.records) or not path.is_file():
        return {}
    con = sql.connect()
    try:
        relation = f"read_parquet({sql.path_literal(path)})"
        hourly = window.job.grain == "hour"
        found = quarantined_by_slot(con, relation, window.job.timestamp, "_rule", hourly)
    finally:
        con.close()
    return {key: rules for key, rules in found.items() if key is not None}
