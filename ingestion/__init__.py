"""The job runner: a project's SQL feature jobs over its raw sources, into Parquet tables.

runner.py      run_jobs / backfill: window, checks, quarantine, atomic partition replace
checks.py      a job's row-level rules compiled to DuckDB SQL
partitions.py  the one sorted pass that checks rows and writes the partitions
storage.py     a feature table's versions and the atomic swap
window.py      run windows: explicit, incremental, aligned to the grain
history.py     the run history (SQLite in the data folder)

The job files themselves (their header is the table's schema) are parsed by
``featurestore.job_spec``; the order jobs run in is ``featurestore.job_graph``.
"""

from featurestore.job_spec import Column, Job, discover_jobs, find_job, parse_job
from ingestion.history import RunRecord, runs, runs_frame
from ingestion.runner import JobResult, backfill, feature_table_path, run_jobs

__all__ = [
    "Column",
    "Job",
    "JobResult",
    "RunRecord",
    "backfill",
    "discover_jobs",
    "feature_table_path",
    "find_job",
    "parse_job",
    "run_jobs",
    "runs",
    "runs_frame",
]
