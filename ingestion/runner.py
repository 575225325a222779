"""Runs feature jobs on DuckDB: window, checks, quarantine, atomic partition replace.

One run of one job over the window ``[start, end)``:

1. bind the SQL (a syntax or binder error names the job file and line) and compare its
   output with the header's columns (schema drift fails here, before any work);
2. run it once into a temporary table, tagging each row with the first row-level rule
   it breaks (see ``ingestion.checks``), keeping only rows whose timestamp is in the window;
3. check the table-level rules (bad-row share, unique keys + timestamp, rows > 0); a
   failure raises ``ExpectationError`` and leaves the table as it was;
4. write the good rows, sorted by partition, timestamp and keys, into a staging folder
   partitioned by the grain (one file per partition), the bad ones into
   ``<table>.quarantine/<run id>.parquet``, and swap the new version in (see
   ``ingestion.storage`` for why a kill at any point is safe).

Every run is recorded in the run history (``ingestion.history``).
"""

from __future__ import annotations

import re
import shutil
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from featurestore import tables
from featurestore.errors import (
    ExpectationError,
    FeatureStoreError,
    IngestionError,
    JobSQLError,
)
from ingestion import dag, history, storage, window
from ingestion.checks import CheckPlan, plan_checks
from ingestion.job import JOBS_DIR, Job, discover_jobs
from ingestion.raw import check_raw_schema, load_raw_tables

_LINE = re.compile(r"LINE (\d+):")
_EXAMPLES = 3
_BATCH = 1_000_000
_ROW_GROUP = 1 << 20
_WRITERS = 8


@dataclass(frozen=True)
class JobResult:
    """What one run of one job did; ``status`` is success, empty or up to date."""

    job: str
    path: Path
    rows: int  # rows written
    seconds: float
    status: str = "success"
    run_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    rows_in: int = 0
    rows_quarantined: int = 0


def feature_table_path(data_dir: Path, table: str) -> Path:
    """The feature table as Feast's FileSource names it (a hive-partitioned folder)."""
    return storage.table_path(data_dir, table)


def run_jobs(
    data_dir: Path,
    names: Iterable[str] | None = None,
    jobs_dir: Path = JOBS_DIR,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    max_bad_rows: float | None = None,
    now: datetime | None = None,
    parallel: int = 2,
) -> list[JobResult]:
    """Run the named jobs (all by default) and their upstream jobs, upstream first.

    With ``start``/``end`` every job replaces exactly that window; without ``start``
    each job continues from its last successful run (or its header's ``start``) up to
    the last complete day or hour before ``now``.
    """
    jobs = discover_jobs(jobs_dir)
    selected = list(names) if names else sorted(jobs)
    plan = dag.levels(selected, jobs)
    load_raw_tables(data_dir)
    check_raw_schema(data_dir)
    results: list[JobResult] = []
    for level in plan:
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(level)))) as pool:
            futures = [
                pool.submit(_run_one, data_dir, job, start, end, max_bad_rows, now) for job in level
            ]
            errors = [f.exception() for f in futures if f.exception() is not None]
            if errors:
                raise errors[0]  # type: ignore[misc]
            results.extend(f.result() for f in futures)
    return results


def backfill(
    data_dir: Path,
    names: Iterable[str] | None,
    start: datetime,
    end: datetime,
    step: timedelta,
    jobs_dir: Path = JOBS_DIR,
    *,
    max_bad_rows: float | None = None,
) -> list[JobResult]:
    """Run ``[start, end)`` in consecutive windows of ``step``, each window upstream first."""
    selected = list(names) if names else None
    results: list[JobResult] = []
    for window_start, window_end in window.steps(start, end, step):
        results += run_jobs(
            data_dir,
            selected,
            jobs_dir,
            start=window_start,
            end=window_end,
            max_bad_rows=max_bad_rows,
        )
    return results


def _run_one(
    data_dir: Path,
    job: Job,
    start: datetime | None,
    end: datetime | None,
    max_bad_rows: float | None,
    now: datetime | None,
) -> JobResult:
    target = feature_table_path(data_dir, job.name)
    with storage.table_lock(data_dir, job.name):
        span = window.resolve(job, data_dir, start, end, now)
        if span is None:
            return JobResult(job.name, target, 0, 0.0, status="up to date")
        threshold = job.max_bad_rows if max_bad_rows is None else max_bad_rows
        return run_job(data_dir, job, span, threshold, incremental=start is None)


def run_job(
    data_dir: Path,
    job: Job,
    span: tuple[datetime, datetime],
    max_bad_rows: float,
    *,
    incremental: bool = False,
) -> JobResult:
    """One run of ``job`` over ``span``; the caller holds the job's lock."""
    started = time.perf_counter()
    run_id = storage.new_run_id()
    history.record_start(data_dir, run_id, job.name, *span)
    staging: Path | None = None
    try:
        con = tables.connect(data_dir)
        try:
            plan = _bind(con, job, span)
            rows_in, bad_by_rule = _check_rows(con, job, plan, span)
            bad = sum(bad_by_rule.values())
            quarantine = _write_quarantine(con, data_dir, job, run_id) if bad else None
            _check_table(con, job, rows_in, bad_by_rule, max_bad_rows, quarantine)
            written = rows_in - bad
            if written == 0 and incremental:
                seconds = time.perf_counter() - started
                history.record_end(
                    data_dir, run_id, job.name, "empty", rows_in=rows_in, rows_written=0,
                    rows_quarantined=bad, seconds=seconds,
                )  # fmt: skip
                return JobResult(job.name, feature_table_path(data_dir, job.name), 0, seconds,
                                 "empty", run_id, *span, rows_in, bad)  # fmt: skip
            staging = storage.new_staging(data_dir, job.name, run_id)
            if _write_partitions(con, job, plan, staging):
                _fail_on_duplicates(con, job, rows_in)
        finally:
            con.close()
        storage.link_outside_window(data_dir, job.name, staging, *span)
        storage.commit(data_dir, job.name, staging, run_id)
        staging = None
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        message = str(exc) if isinstance(exc, FeatureStoreError) else repr(exc)
        history.record_end(
            data_dir, run_id, job.name, "failed", seconds=time.perf_counter() - started,
            error=message,
        )  # fmt: skip
        raise
    seconds = time.perf_counter() - started
    history.record_end(
        data_dir, run_id, job.name, "success", rows_in=rows_in, rows_written=written,
        rows_quarantined=bad, seconds=seconds,
    )  # fmt: skip
    return JobResult(
        job.name, feature_table_path(data_dir, job.name), written, seconds, "success", run_id,
        *span, rows_in, bad,
    )  # fmt: skip


def _bind(con: duckdb.DuckDBPyConnection, job: Job, span: tuple[datetime, datetime]) -> CheckPlan:
    try:
        # Same first line as the file, so DuckDB's "LINE n" is the file's line n.
        con.execute(f"CREATE OR REPLACE TEMP VIEW __job AS {job.render(*span)}")
        described = {row[0]: row[1] for row in con.execute("DESCRIBE __job").fetchall()}
    except duckdb.Error as exc:
        raise _sql_error(job, exc) from None
    return plan_checks(job, described)


def _check_rows(
    con: duckdb.DuckDBPyConnection, job: Job, plan: CheckPlan, span: tuple[datetime, datetime]
) -> tuple[int, dict[str, int]]:
    ts = _ident(job.timestamp)
    start, end = (f"TIMESTAMPTZ '{t.isoformat()}'" for t in span)
    partitions = storage.PARTITION_COLUMNS[job.grain]
    order = ", ".join([*partitions, *(_ident(c) for c in (job.timestamp, *job.entities))])
    try:
        # Sorted once, in parallel, by partition, timestamp and keys: the order the files
        # get. The timestamp first settles most comparisons before any string key.
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __checked AS "
            f"SELECT *, {plan.rule_sql()} AS __rule, "
            f"{storage.partition_sql(job.timestamp, job.grain)} FROM __job "
            f"WHERE {ts} IS NULL OR ({ts} >= {start} AND {ts} < {end}) "
            f"ORDER BY {order}"
        )
        counts = con.execute("SELECT __rule, count(*) FROM __checked GROUP BY ALL").fetchall()
    except duckdb.Error as exc:
        raise _sql_error(job, exc) from None
    rows_in = sum(int(n) for _, n in counts)
    return rows_in, {rule: int(n) for rule, n in counts if rule is not None}


def _check_table(
    con: duckdb.DuckDBPyConnection,
    job: Job,
    rows_in: int,
    bad_by_rule: dict[str, int],
    max_bad_rows: float,
    quarantine: Path | None,
) -> None:
    bad = sum(bad_by_rule.values())
    if bad and bad > max_bad_rows * rows_in:
        worst = max(bad_by_rule, key=lambda r: (bad_by_rule[r], r))
        by_rule = ", ".join(f"{r!r}: {n:,}" for r, n in sorted(bad_by_rule.items()))
        raise ExpectationError(
            job.name,
            worst,
            bad_by_rule[worst],
            rows_in,
            _examples(con, job, f"__rule = '{_escape(worst)}'", worst.split()[0]),
            f"bad rows {bad:,} = {bad / rows_in:.2%} exceed max_bad_rows {max_bad_rows:.2%}; "
            f"by rule {by_rule}; all bad rows in {quarantine}",
        )
    if rows_in - bad == 0:
        raise ExpectationError(
            job.name, "rows > 0", 0, rows_in, [], "the window produced no good rows"
        )


def _fail_on_duplicates(con: duckdb.DuckDBPyConnection, job: Job, rows_in: int) -> None:
    keys = ", ".join(_ident(c) for c in (*job.entities, job.timestamp))
    row = con.execute(
        f"SELECT count(*), sum(n) FROM (SELECT count(*) AS n FROM __checked "
        f"WHERE __rule IS NULL GROUP BY {keys} HAVING count(*) > 1)"
    ).fetchall()[0]
    examples = con.execute(
        f"SELECT {keys}, count(*) AS n FROM __checked WHERE __rule IS NULL "
        f"GROUP BY {keys} HAVING count(*) > 1 ORDER BY {keys} LIMIT {_EXAMPLES}"
    ).fetchall()
    names = [*job.entities, job.timestamp, "rows"]
    raise ExpectationError(
        job.name,
        f"unique ({', '.join((*job.entities, job.timestamp))})",
        int(row[1] or 0),
        rows_in,
        [_format(names, r) for r in examples],
        f"{int(row[0]):,} key and timestamp pairs appear more than once",
    )


def _examples(con: duckdb.DuckDBPyConnection, job: Job, where: str, column: str) -> list[str]:
    shown = list(dict.fromkeys((*job.entities, job.timestamp, column)))
    select = ", ".join(_ident(c) for c in shown)
    rows = con.execute(
        f"SELECT {select} FROM __checked WHERE {where} ORDER BY ALL LIMIT {_EXAMPLES}"
    ).fetchall()
    return [_format(shown, r) for r in rows]


def _write_quarantine(
    con: duckdb.DuckDBPyConnection, data_dir: Path, job: Job, run_id: str
) -> Path:
    folder = storage.quarantine_dir(data_dir, job.name)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{run_id}.parquet"
    tmp = folder / f".{run_id}.parquet.tmp"
    con.execute(
        f"COPY (SELECT * EXCLUDE (__rule, {', '.join(storage.PARTITION_COLUMNS[job.grain])}), "
        f"__rule AS _rule, '{run_id}' AS _run_id "
        f"FROM __checked WHERE __rule IS NOT NULL ORDER BY ALL) "
        f"TO {tables.quote_path(tmp)} (FORMAT parquet, COMPRESSION zstd)"
    )
    tmp.rename(target)
    return target


def _write_partitions(
    con: duckdb.DuckDBPyConnection, job: Job, plan: CheckPlan, staging: Path
) -> bool:
    """One Parquet file per partition, rows in key order, byte-identical on re-runs.

    DuckDB's own partitioned COPY reorders rows within a partition and slows down
    badly with thousands of partitions, so the rows, sorted once in DuckDB, stream out
    as Arrow batches and each partition's rows are written as one file here.

    Sorted by partition, timestamp and keys, two rows with the same keys and timestamp
    are neighbours: returns True (and stops) at the first such pair.
    """
    partitions = list(storage.PARTITION_COLUMNS[job.grain])
    reader = con.sql(
        f"SELECT {', '.join([*plan.output, *partitions])} FROM __checked WHERE __rule IS NULL"
    ).to_arrow_reader(_BATCH)
    unique = [*job.entities, job.timestamp]
    pending: list[pa.RecordBatch] = []
    current: tuple[str, ...] | None = None
    previous: pa.RecordBatch | None = None
    duplicates = False
    # Files are independent, and Parquet encoding releases the GIL: write them in
    # parallel, with a bounded backlog so memory stays at a few partitions.
    with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
        backlog: deque[Future[None]] = deque()

        def flush() -> None:
            backlog.append(pool.submit(_write_partition, staging, partitions, current, pending))
            while len(backlog) > 4 * _WRITERS:
                backlog.popleft().result()

        for batch in reader:
            if batch.num_rows == 0:
                continue
            if _adjacent_duplicates(batch, previous, unique):
                duplicates = True
                break
            previous = batch.slice(batch.num_rows - 1, 1)
            keys = [batch.column(name) for name in partitions]
            starts = [0, *_change_points(keys)]
            for begin, end in zip(starts, [*starts[1:], batch.num_rows], strict=True):
                key = tuple(str(values[begin].as_py()) for values in keys)
                if key != current and pending:
                    flush()
                    pending = []
                current = key
                pending.append(batch.slice(begin, end - begin))
        if pending and not duplicates:
            flush()
        for future in backlog:
            future.result()
    return duplicates


def _change_points(columns: list[pa.Array]) -> list[int]:
    """Row numbers where any of the (sorted) partition columns changes value."""
    changed: pa.Array | None = None
    for column in columns:
        differs = pc.not_equal(column.slice(1), column.slice(0, len(column) - 1))
        changed = differs if changed is None else pc.or_(changed, differs)
    if changed is None:
        return []
    return [i + 1 for i in pc.indices_nonzero(changed).to_pylist()]


def _adjacent_duplicates(
    batch: pa.RecordBatch, previous: pa.RecordBatch | None, names: list[str]
) -> bool:
    rows = pa.Table.from_batches([previous, batch]) if previous is not None else batch
    same: pa.Array | None = None
    for name in names:
        column = rows.column(name)
        equal = pc.equal(column.slice(1), column.slice(0, len(column) - 1))
        same = equal if same is None else pc.and_(same, equal)
    return same is not None and bool(pc.any(same).as_py())


def _write_partition(
    staging: Path, names: list[str], values: tuple[str, ...] | None, batches: list[pa.RecordBatch]
) -> None:
    assert values is not None
    folder = staging.joinpath(*(f"{n}={v}" for n, v in zip(names, values, strict=True)))
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_batches(batches).drop_columns(names).combine_chunks()
    target = folder / "part-0.parquet"
    pq.write_table(table, target, row_group_size=_ROW_GROUP, compression="zstd")
    storage.fsync_path(target)  # here, in parallel, rather than all at commit time
    storage.fsync_path(folder)
    if len(names) > 1:  # date/hour: the hour folder's entry is in the date folder
        storage.fsync_path(folder.parent)  # (the staging root is fsynced at commit)


def _sql_error(job: Job, exc: duckdb.Error) -> IngestionError:
    message = str(exc)
    first_line = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    match = _LINE.search(message)
    return JobSQLError(job.name, job.path, int(match.group(1)) if match else None, first_line)


def _format(names: list[str], row: tuple[object, ...]) -> str:
    pairs = zip(names, row, strict=True)
    return ", ".join(f"{n}={v!r}" if isinstance(v, str) else f"{n}={v}" for n, v in pairs)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _escape(text: str) -> str:
    return text.replace("'", "''")
