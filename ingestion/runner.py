"""Runs the feature jobs on DuckDB and writes each feature table as Parquet.

Each table is written to a temporary file first and renamed into place, so a failed
or interrupted run leaves the previous table untouched.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from featurestore import tables
from featurestore.errors import IngestionError
from ingestion.job import JOBS_DIR, Job, discover_jobs
from ingestion.raw import load_raw_tables

_LINE = re.compile(r"LINE (\d+):")


@dataclass(frozen=True)
class JobResult:
    job: str
    path: Path
    rows: int
    seconds: float


def feature_table_path(data_dir: Path, table: str) -> Path:
    return tables.features_dir(data_dir) / f"{table}.parquet"


def run_jobs(
    data_dir: Path, names: Iterable[str] | None = None, jobs_dir: Path = JOBS_DIR
) -> list[JobResult]:
    """Load the raw tables, run the named jobs (all by default) and return what each wrote."""
    jobs = discover_jobs(jobs_dir)
    selected = list(names) if names else sorted(jobs)
    unknown = [name for name in selected if name not in jobs]
    if unknown:
        raise IngestionError(
            unknown[0], f"unknown job; known jobs: {', '.join(sorted(jobs)) or 'none'}"
        )
    load_raw_tables(data_dir)
    con = tables.connect(data_dir)
    try:
        return [run_job(con, jobs[name], data_dir) for name in selected]
    finally:
        con.close()


def run_job(con: duckdb.DuckDBPyConnection, job: Job, data_dir: Path) -> JobResult:
    started = time.perf_counter()
    target = feature_table_path(data_dir, job.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        # Same first line as the file, so DuckDB's "LINE n" is the file's line n.
        con.execute(f"CREATE OR REPLACE TEMP VIEW __job AS {job.sql}")
        columns = {row[0] for row in con.execute("DESCRIBE __job").fetchall()}
        missing = [c for c in (*job.entities, job.timestamp) if c not in columns]
        if missing:
            raise IngestionError(
                job.name, f"{job.path}: the query does not produce column(s) {', '.join(missing)}"
            )
        con.execute(f"COPY __job TO {tables.quote_path(tmp)} (FORMAT parquet, COMPRESSION zstd)")
        (rows,) = con.execute(
            f"SELECT count(*) FROM read_parquet({tables.quote_path(tmp)})"
        ).fetchone() or (0,)
        os.replace(tmp, target)
    except duckdb.Error as exc:
        raise IngestionError(job.name, _describe_sql_error(job, exc)) from None
    finally:
        tmp.unlink(missing_ok=True)
    return JobResult(job.name, target, int(rows), time.perf_counter() - started)


def _describe_sql_error(job: Job, exc: duckdb.Error) -> str:
    message = str(exc)
    first_line = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    match = _LINE.search(message)
    where = f"{job.path}:{match.group(1)}" if match else str(job.path)
    return f"{where}: {first_line}"
