"""Runs feature jobs on DuckDB: window, checks, quarantine, atomic partition replace.

One run of one job over the window ``[start, end)``:

1. bind the SQL (a syntax or binder error names the job file and line) and compare its
   output with the header's columns (schema drift fails here, before any work);
2. run it once, sorted by timestamp and keys, tagging each row with the first row-level
   rule it breaks (see ``ingestion.checks``) and keeping only rows whose timestamp is in
   the window; in the same pass (``ingestion.partitions``) count the rows per rule, keep
   the bad ones, find neighbouring rows with equal keys and timestamp, and write the
   good ones into a staging folder partitioned by the grain (one file per partition);
3. write the bad rows into ``<table>.quarantine/<run id>.parquet``, then check the
   table-level rules (bad-row share, rows > 0, unique keys + timestamp); a failure
   raises ``ExpectationError``, deletes the staging folder and leaves the table as it was;
4. swap the new version in (see ``ingestion.storage`` for why a kill at any point is safe).

Every run is recorded in the run history (``ingestion.history``).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from featurestore import job_graph, sql
from featurestore.errors import (
    ExpectationError,
    FeatureStoreError,
    IngestionError,
    JobSQLError,
    UnknownTableError,
)
from featurestore.job_spec import Job, discover_jobs
from featurestore.project import Project
from ingestion import history, partitions, storage, window
from ingestion.checks import CheckPlan, plan_checks

_LINE = re.compile(r"LINE (\d+):")
_EXAMPLES = 3
_BATCH = 1_000_000


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


def feature_table_path(project: Project, table: str) -> Path:
    """The feature table as Feast's FileSource names it (a hive-partitioned folder)."""
    return project.layout.table(table)


def run_jobs(
    project: Project,
    names: Iterable[str] | None = None,
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
    the last complete day or hour before ``now``. Before any job runs, every table the
    selected jobs read must be a declared raw source, a job or a feature table, and the
    raw sources they read must match their declared schemas.
    """
    jobs = discover_jobs(project.jobs_dir)
    selected = list(names) if names else sorted(jobs)
    plan = job_graph.levels(selected, jobs)
    due = [job for level in plan for job in level if _has_work(project, job, start, end, now)]
    _check_inputs(project, due, jobs)
    results: list[JobResult] = []
    for level in plan:
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(level)))) as pool:
            futures = [
                pool.submit(_run_one, project, job, start, end, max_bad_rows, now) for job in level
            ]
            errors = [f.exception() for f in futures if f.exception() is not None]
            if errors:
                raise errors[0]  # type: ignore[misc]
            results.extend(f.result() for f in futures)
    return results


def _has_work(
    project: Project, job: Job, start: datetime | None, end: datetime | None, now: datetime | None
) -> bool:
    """Whether the job has a window to run (an incremental run may be up to date)."""
    try:
        return window.resolve(job, project.data_dir, start, end, now) is not None
    except FeatureStoreError:
        return True  # the run itself reports the bad window


def _check_inputs(project: Project, selected: list[Job], jobs: dict[str, Job]) -> None:
    """Every table the jobs read is known, and the raw sources among them match their
    declared schemas (nothing has been written yet)."""
    known = {name.lower() for name in (*project.table_names(), *jobs)}
    known |= {f"{name.lower()}_quarantine" for name in jobs}
    sources = {name.lower() for name in project.sources}
    raw: set[str] = set()
    for job in selected:
        for table in sorted(job_graph.tables_read(job)):
            if table.lower() not in known:
                raise UnknownTableError(job.name, job.path, table, list(project.sources))
            if table.lower() in sources:
                raw.add(table.lower())
    if raw:
        from featurestore.raw import check_sources

        con = sql.connect()
        try:
            check_sources(con, project.sources, only=raw)
        finally:
            con.close()


def backfill(
    project: Project,
    names: Iterable[str] | None,
    start: datetime,
    end: datetime,
    step: timedelta,
    *,
    max_bad_rows: float | None = None,
) -> list[JobResult]:
    """Run ``[start, end)`` in consecutive windows of ``step``, each window upstream first."""
    selected = list(names) if names else None
    results: list[JobResult] = []
    for window_start, window_end in window.steps(start, end, step):
        results += run_jobs(
            project,
            selected,
            start=window_start,
            end=window_end,
            max_bad_rows=max_bad_rows,
        )
    return results


def _run_one(
    project: Project,
    job: Job,
    start: datetime | None,
    end: datetime | None,
    max_bad_rows: float | None,
    now: datetime | None,
) -> JobResult:
    target = feature_table_path(project, job.name)
    with storage.table_lock(project.data_dir, job.name):
        span = window.resolve(job, project.data_dir, start, end, now)
        if span is None:
            return JobResult(job.name, target, 0, 0.0, status="up to date")
        threshold = job.max_bad_rows if max_bad_rows is None else max_bad_rows
        return run_job(project, job, span, threshold, incremental=start is None)


def run_job(
    project: Project,
    job: Job,
    span: tuple[datetime, datetime],
    max_bad_rows: float,
    *,
    incremental: bool = False,
) -> JobResult:
    """One run of ``job`` over ``span``; the caller holds the job's lock.

    An incremental run whose window holds no rows at all (nothing new yet: a weekend,
    a holiday) is recorded as ``up to date`` and writes nothing; the next incremental
    run starts at the same place, so rows that arrive late for that window are not
    skipped. An explicit window or a backfill with no rows fails the ``rows > 0`` rule.
    """
    data_dir = project.data_dir
    started = time.perf_counter()
    run_id = storage.new_run_id()
    history.record_start(data_dir, run_id, job.name, *span)
    staging: Path | None = None
    try:
        con = project.connect(job_graph.tables_read(job))
        try:
            plan = _bind(con, job, span)
            staging = storage.new_staging(data_dir, job.name, run_id)
            found = _check_and_write(con, job, plan, span, staging)
            rows_in, bad = found.rows_in, found.bad_rows
            quarantine = _write_quarantine(con, data_dir, job, plan, run_id) if bad else None
            if rows_in == 0 and incremental:
                shutil.rmtree(staging, ignore_errors=True)
                staging = None
                seconds = time.perf_counter() - started
                history.record_end(
                    data_dir, run_id, job.name, "up to date", rows_in=0, rows_written=0,
                    rows_quarantined=0, seconds=seconds,
                )  # fmt: skip
                return JobResult(job.name, feature_table_path(project, job.name), 0, seconds,
                                 "up to date", run_id, *span, 0, 0)  # fmt: skip
            _check_table(con, job, rows_in, dict(found.bad_by_rule), max_bad_rows, quarantine)
            if found.duplicates:
                _fail_on_duplicates(con, job, plan, span, rows_in)
        finally:
            con.close()
        written = rows_in - bad
        if written == 0 and incremental:
            shutil.rmtree(staging, ignore_errors=True)
            staging = None
            seconds = time.perf_counter() - started
            history.record_end(
                data_dir, run_id, job.name, "empty", rows_in=rows_in, rows_written=0,
                rows_quarantined=bad, seconds=seconds,
            )  # fmt: skip
            return JobResult(job.name, feature_table_path(project, job.name), 0, seconds,
                             "empty", run_id, *span, rows_in, bad)  # fmt: skip
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
        job.name, feature_table_path(project, job.name), written, seconds, "success", run_id,
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


def _window_sql(job: Job, span: tuple[datetime, datetime]) -> str:
    """Keeps the rows whose timestamp is in the window (and those without one: bad rows)."""
    ts = _ident(job.timestamp)
    start, end = (f"TIMESTAMPTZ '{t.isoformat()}'" for t in span)
    return f"{ts} IS NULL OR ({ts} >= {start} AND {ts} < {end})"


def _check_and_write(
    con: duckdb.DuckDBPyConnection,
    job: Job,
    plan: CheckPlan,
    span: tuple[datetime, datetime],
    staging: Path,
) -> partitions.Pass:
    """Run the query once, sorted by timestamp and keys, and write its good rows.

    The timestamp first settles most comparisons before any string key, and the
    partition (a function of the timestamp) needs no sort key of its own.
    """
    order = ", ".join(_ident(c) for c in (job.timestamp, *job.entities))
    select = ", ".join([*plan.output, *plan.raw, f"{plan.rule_sql()} AS {partitions.RULE}"])
    try:
        reader = con.sql(
            f"SELECT {select} FROM __job WHERE {_window_sql(job, span)} ORDER BY {order}"
        ).to_arrow_reader(_BATCH)
        found = partitions.write(
            reader,
            staging,
            grain=job.grain,
            timestamp=job.timestamp,
            unique=[*job.entities, job.timestamp],
            written=list(plan.written),
        )
    except duckdb.Error as exc:
        raise _sql_error(job, exc) from None
    if found.bad:
        # The bad rows as the query returned them, for the quarantine and error examples.
        con.register("__bad_stream", pa.Table.from_batches(found.bad))
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW __bad AS SELECT {', '.join(plan.quarantine)}, "
            f"{partitions.RULE} FROM __bad_stream"
        )
    return found


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
            _examples(con, job, f"__rule = {sql.literal(worst)}", worst.split()[0]),
            f"bad rows {bad:,} = {bad / rows_in:.2%} exceed max_bad_rows {max_bad_rows:.2%}; "
            f"by rule {by_rule}; all bad rows in {quarantine}",
        )
    if rows_in - bad == 0:
        raise ExpectationError(
            job.name, "rows > 0", 0, rows_in, [], "the window produced no good rows"
        )


def _fail_on_duplicates(
    con: duckdb.DuckDBPyConnection,
    job: Job,
    plan: CheckPlan,
    span: tuple[datetime, datetime],
    rows_in: int,
) -> None:
    # Only on failure: run the query again to count and show the duplicates.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __good AS SELECT {', '.join(plan.output)} FROM "
        f"(SELECT *, {plan.rule_sql()} AS __rule FROM __job WHERE {_window_sql(job, span)}) "
        f"WHERE __rule IS NULL"
    )
    keys = ", ".join(_ident(c) for c in (*job.entities, job.timestamp))
    row = con.execute(
        f"SELECT count(*), sum(n) FROM (SELECT count(*) AS n FROM __good "
        f"GROUP BY {keys} HAVING count(*) > 1)"
    ).fetchall()[0]
    examples = con.execute(
        f"SELECT {keys}, count(*) AS n FROM __good "
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
        f"SELECT {select} FROM __bad WHERE {where} ORDER BY ALL LIMIT {_EXAMPLES}"
    ).fetchall()
    return [_format(shown, r) for r in rows]


def _write_quarantine(
    con: duckdb.DuckDBPyConnection, data_dir: Path, job: Job, plan: CheckPlan, run_id: str
) -> Path:
    folder = storage.quarantine_dir(data_dir, job.name)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{run_id}.parquet"
    tmp = folder / f".{run_id}.parquet.tmp"
    con.execute(
        f"COPY (SELECT * EXCLUDE (__rule), __rule AS _rule, '{run_id}' AS _run_id "
        f"FROM __bad ORDER BY ALL) "
        f"TO {sql.path_literal(tmp)} (FORMAT parquet, COMPRESSION zstd)"
    )
    tmp.rename(target)
    return target


def _sql_error(job: Job, exc: duckdb.Error) -> IngestionError:
    message = str(exc)
    first_line = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    match = _LINE.search(message)
    return JobSQLError(job.name, job.path, int(match.group(1)) if match else None, first_line)


def _format(names: list[str], row: tuple[object, ...]) -> str:
    pairs = zip(names, row, strict=True)
    return ", ".join(f"{n}={v!r}" if isinstance(v, str) else f"{n}={v}" for n, v in pairs)


_ident = sql.ident
