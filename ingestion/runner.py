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
4. swap the new version in (see ``ingestion.storage`` for why a kill at any point is safe);
5. record the monitor's statistics of the partitions it wrote (``featurestore.monitor.stats``;
   off with ``stats=False`` or ``FEATURESTORE_MONITOR_STATS=0``). Their failure is a
   warning, never the run's: the monitor computes missing statistics itself.

Every run is recorded in the run history (``ingestion.history``).
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

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
from featurestore.job_spec import Job, read_jobs
from featurestore.project import Project
from ingestion import history, partitions, storage, window
from ingestion.checks import CheckPlan, plan_checks

if TYPE_CHECKING:
    from featurestore.monitor.stats import RunStats

logger = logging.getLogger(__name__)

_LINE = re.compile(r"LINE (\d+):")
_EXAMPLES = 3
_BATCH = 1_000_000


@dataclass(frozen=True)
class JobResult:
    """What one job did in a run: ``status`` is success, empty, up to date, failed
    (``error`` says why) or skipped (an upstream job failed or was skipped)."""

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
    error: FeatureStoreError | None = None  # of a failed job
    skipped_because: str = ""  # of a skipped job

    @property
    def reason(self) -> str:
        """Why the job failed or was skipped, on one line (empty otherwise)."""
        if self.error is None:
            return self.skipped_because
        error = self.error
        if isinstance(error, IngestionError) and error.job == self.job:
            return " ".join(error.message.split())  # not "job: " twice
        return " ".join(str(error).split())


class JobsFailedError(IngestionError):
    """Some jobs of a run failed; raised after every other job ran. ``results`` holds
    every job's result, in the order they ran (the failed and skipped ones included)."""

    code = "jobs_failed"

    def __init__(self, results: Sequence[JobResult]) -> None:
        self.results = list(results)
        self.failed = [r for r in self.results if r.status == "failed"]
        self.skipped = [r for r in self.results if r.status == "skipped"]
        by_error: dict[str, list[str]] = {}  # a raw source's error fails all its readers
        for r in self.failed:
            by_error.setdefault(" ".join(str(r.error).split()), []).append(r.job)
        if len(self.failed) == 1:
            message = next(iter(by_error))
        else:
            errors = [
                error if len(jobs) == 1 else f"{error} (jobs {', '.join(jobs)})"
                for error, jobs in by_error.items()
            ]
            message = f"{len(self.failed)} of {len(self.results)} jobs failed: {'; '.join(errors)}"
        if self.skipped:
            message += f"; skipped: {', '.join(r.job for r in self.skipped)}"
        self.job = ", ".join(r.job for r in self.failed)
        self.message = message
        FeatureStoreError.__init__(self, message)


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
    stats: bool | None = None,
) -> list[JobResult]:
    """Run the named jobs (all by default) and their upstream jobs, upstream first.

    With ``start``/``end`` every job replaces exactly that window; without ``start``
    each job continues from its last successful run (or its header's ``start``) up to
    the last complete day or hour before ``now``.

    Each job stands alone: one that cannot run (a bad header, a missing upstream, a
    cycle, a table no source or job declares, a raw input that differs from its declared
    schema; all found before any job runs) or whose run fails is a ``failed`` result,
    the jobs downstream of it are ``skipped``, and every other job runs. A job file that
    is not selected and that no selected job reads is not looked at. When any job
    failed, ``JobsFailedError`` is raised at the end, carrying every result; a name
    that is no job at all raises ``UnknownJobError`` before anything runs.

    ``stats`` (default: on unless ``FEATURESTORE_MONITOR_STATS=0``) records the monitor's
    statistics of every partition a run writes.
    """
    if stats is None:
        from featurestore.monitor.stats import stats_enabled

        stats = stats_enabled()
    found = read_jobs(project.jobs_dir)
    planned = job_graph.plan(list(names) if names else found.names, found)
    outcomes = {name: _failed(project, name, exc) for name, exc in planned.broken.items()}
    due = [
        job for level in planned.levels for job in level if _has_work(project, job, start, end, now)
    ]
    blocked = _check_inputs(project, due, found.names)
    for level in planned.levels:
        runnable = []
        for job in level:
            if job.name in blocked:
                outcomes[job.name] = _failed(project, job.name, blocked[job.name])
            elif why := _upstream_problem(planned.upstream[job.name], outcomes):
                target = feature_table_path(project, job.name)
                outcomes[job.name] = JobResult(job.name, target, 0, 0.0, "skipped",
                                               skipped_because=why)  # fmt: skip
            else:
                runnable.append(job)
        if not runnable:
            continue
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(runnable)))) as pool:
            futures = [
                pool.submit(_run_one, project, job, start, end, max_bad_rows, now, stats)
                for job in runnable
            ]
            bugs = [f.exception() for f in futures if f.exception() is not None]
            if bugs:
                raise bugs[0]  # type: ignore[misc]  # not a job's failure: a bug
            outcomes.update((result.job, result) for result in (f.result() for f in futures))
    order = [*sorted(planned.broken), *(job.name for level in planned.levels for job in level)]
    results = [outcomes[name] for name in order]
    if any(result.status == "failed" for result in results):
        raise JobsFailedError(results)
    return results


def _failed(project: Project, job: str, error: FeatureStoreError) -> JobResult:
    return JobResult(job, feature_table_path(project, job), 0, 0.0, "failed", error=error)


def _upstream_problem(upstream: Iterable[str], outcomes: dict[str, JobResult]) -> str:
    """Why a job cannot run because of its upstream jobs ("" if it can)."""
    for name in upstream:
        status = outcomes[name].status
        if status in ("failed", "skipped"):
            return f"upstream job {name!r} {'failed' if status == 'failed' else 'was skipped'}"
    return ""


def _has_work(
    project: Project, job: Job, start: datetime | None, end: datetime | None, now: datetime | None
) -> bool:
    """Whether the job has a window to run (an incremental run may be up to date)."""
    try:
        return window.resolve(job, project.data_dir, start, end, now) is not None
    except FeatureStoreError:
        return True  # the run itself reports the bad window


def _check_inputs(
    project: Project, due: list[Job], job_names: list[str]
) -> dict[str, FeatureStoreError]:
    """Why each job cannot run, by job, before anything is written: a table it reads
    that nothing declares, or a raw source it reads that differs from its declared
    schema (each source checked once, whichever jobs read it)."""
    known = {name.lower() for name in (*project.table_names(), *job_names)}
    known |= {f"{name.lower()}_quarantine" for name in job_names}
    sources = {name.lower() for name in project.sources}
    problems: dict[str, FeatureStoreError] = {}
    raw: dict[str, set[str]] = {}
    for job in due:
        tables = sorted(job_graph.tables_read(job))
        unknown = [table for table in tables if table.lower() not in known]
        if unknown:
            problems[job.name] = UnknownTableError(
                job.name, job.path, unknown[0], list(project.sources)
            )
        else:
            raw[job.name] = {table.lower() for table in tables if table.lower() in sources}
    sources_read = set().union(*raw.values())
    if not sources_read:
        return problems
    from featurestore.raw import check_sources

    drifted: dict[str, FeatureStoreError] = {}
    con = sql.connect()
    try:
        for source in sorted(sources_read):
            try:
                check_sources(con, project.sources, only={source})
            except FeatureStoreError as exc:
                drifted[source] = exc
    finally:
        con.close()
    for job_name, read in raw.items():
        bad = sorted(read & drifted.keys())
        if bad:
            problems[job_name] = drifted[bad[0]]
    return problems


def backfill(
    project: Project,
    names: Iterable[str] | None,
    start: datetime,
    end: datetime,
    step: timedelta,
    *,
    max_bad_rows: float | None = None,
    stats: bool | None = None,
) -> list[JobResult]:
    """Run ``[start, end)`` in consecutive windows of ``step``, each window upstream first.

    A window in which a job failed is the last one: the next windows would leave a gap
    in that job's table. ``JobsFailedError`` then carries the results of every window run.
    """
    selected = list(names) if names else None
    results: list[JobResult] = []
    for window_start, window_end in window.steps(start, end, step):
        try:
            results += run_jobs(
                project,
                selected,
                start=window_start,
                end=window_end,
                max_bad_rows=max_bad_rows,
                stats=stats,
            )
        except JobsFailedError as exc:
            raise JobsFailedError([*results, *exc.results]) from None
    return results


def _run_one(
    project: Project,
    job: Job,
    start: datetime | None,
    end: datetime | None,
    max_bad_rows: float | None,
    now: datetime | None,
    stats: bool = True,
) -> JobResult:
    """One job's run; its failure is a ``failed`` result (a bug still raises)."""
    target = feature_table_path(project, job.name)
    span: tuple[datetime, datetime] | None = None
    try:
        with storage.table_lock(project.data_dir, job.name):
            span = window.resolve(job, project.data_dir, start, end, now)
            if span is None:
                return JobResult(job.name, target, 0, 0.0, status="up to date")
            threshold = job.max_bad_rows if max_bad_rows is None else max_bad_rows
            return run_job(project, job, span, threshold, incremental=start is None, stats=stats)
    except FeatureStoreError as exc:
        window_start, window_end = span or (None, None)
        return JobResult(job.name, target, 0, 0.0, "failed", start=window_start,
                         end=window_end, error=exc)  # fmt: skip


def run_job(
    project: Project,
    job: Job,
    span: tuple[datetime, datetime],
    max_bad_rows: float,
    *,
    incremental: bool = False,
    stats: bool = True,
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
    # On Spark the statistics are read back from the written files (no stream to tee).
    collected = _stats_collector(project, job) if stats and not project.engine.is_spark else None
    try:
        spark = project.engine.is_spark
        con = sql.connect() if spark else project.connect(job_graph.tables_read(job))
        try:
            if spark:
                staging = storage.new_staging(data_dir, job.name, run_id)
                plan, found = _spark_pass(con, project, job, span, staging)
            else:
                plan = _bind(con, job, span)
                staging = storage.new_staging(data_dir, job.name, run_id)
                found = _check_and_write(con, job, plan, span, staging, collected)
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
                if spark:
                    raise found.duplicate_error  # type: ignore[attr-defined]
                _fail_on_duplicates(con, job, plan, span, rows_in)
        finally:
            con.close()
        written = rows_in - bad
        if written == 0 and incremental:
            if collected is not None:
                collected.close()
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
        version = storage.commit(data_dir, job.name, staging, run_id)
        staging = None
    except BaseException as exc:
        if collected is not None:
            collected.close()
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        message = str(exc) if isinstance(exc, FeatureStoreError) else repr(exc)
        history.record_end(
            data_dir, run_id, job.name, "failed", seconds=time.perf_counter() - started,
            error=message,
        )  # fmt: skip
        raise
    if stats:
        _record_stats(project, job, run_id, version, span, found, collected)
    seconds = time.perf_counter() - started
    history.record_end(
        data_dir, run_id, job.name, "success", rows_in=rows_in, rows_written=written,
        rows_quarantined=bad, seconds=seconds,
    )  # fmt: skip
    return JobResult(
        job.name, feature_table_path(project, job.name), written, seconds, "success", run_id,
        *span, rows_in, bad,
    )  # fmt: skip


def _stats_collector(project: Project, job: Job) -> RunStats:
    from featurestore.monitor.stats import RunStats

    return RunStats(project, job)


def _record_stats(
    project: Project,
    job: Job,
    run_id: str,
    version: Path,
    span: tuple[datetime, datetime],
    found: partitions.Pass,
    collected: RunStats | None,
) -> None:
    """The monitor's statistics of the partitions the run committed; a failure is logged."""
    from featurestore.monitor.stats import record_partition_stats

    try:
        bad = pa.Table.from_batches(found.bad) if found.bad else None
        record_partition_stats(project, job, run_id, version, span, bad=bad, streamed=collected)
    except Exception:
        logger.warning(
            "%s: statistics of run %s not recorded; the monitor will compute them",
            job.name, run_id, exc_info=True,
        )  # fmt: skip
    finally:
        if collected is not None:
            collected.close()


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
    collected: RunStats | None = None,
) -> partitions.Pass:
    """Run the query once, sorted by timestamp and keys, and write its good rows
    (``collected`` computes the monitor's statistics of them on their way).

    The timestamp first settles most comparisons before any string key, and the
    partition (a function of the timestamp) needs no sort key of its own.
    """
    order = ", ".join(_ident(c) for c in (job.timestamp, *job.entities))
    select = ", ".join([*plan.output, *plan.raw, f"{plan.rule_sql()} AS {partitions.RULE}"])
    try:
        reader = con.sql(
            f"SELECT {select} FROM __job WHERE {_window_sql(job, span)} ORDER BY {order}"
        ).to_arrow_reader(_BATCH)
        if collected is not None:
            reader = collected.tee(reader, plan.written, partitions.RULE)
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
    _register_bad(con, plan, found)
    return found


def _spark_pass(
    con: duckdb.DuckDBPyConnection,
    project: Project,
    job: Job,
    span: tuple[datetime, datetime],
    staging: Path,
) -> tuple[CheckPlan, partitions.Pass]:
    """The pass on Spark (``featurestore.spark.jobs``); its bad rows land on ``con``."""
    from featurestore.spark.jobs import check_and_write

    found = check_and_write(project, job, span, staging, _window_sql(job, span))
    assert found.plan is not None
    _register_bad(con, found.plan, found)
    return found.plan, found


def _register_bad(con: duckdb.DuckDBPyConnection, plan: CheckPlan, found: partitions.Pass) -> None:
    """The bad rows as the query returned them, for the quarantine and error examples."""
    if found.bad:
        con.register("__bad_stream", pa.Table.from_batches(found.bad))
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW __bad AS SELECT {', '.join(plan.quarantine)}, "
            f"{partitions.RULE} FROM __bad_stream"
        )


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
        [ExpectationError.example(names, r) for r in examples],
        f"{int(row[0]):,} key and timestamp pairs appear more than once",
    )


def _examples(con: duckdb.DuckDBPyConnection, job: Job, where: str, column: str) -> list[str]:
    shown = list(dict.fromkeys((*job.entities, job.timestamp, column)))
    select = ", ".join(_ident(c) for c in shown)
    rows = con.execute(
        f"SELECT {select} FROM __bad WHERE {where} ORDER BY ALL LIMIT {_EXAMPLES}"
    ).fetchall()
    return [ExpectationError.example(shown, r) for r in rows]


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


_ident = sql.ident
