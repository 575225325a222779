"""The job runner: a project's SQL feature jobs over its raw sources, into Parquet tables.

The runner's names (``run_jobs``, ``backfill``, ...) are imported on first use: reading
the run history or the job headers needs neither DuckDB nor pyarrow.

runner.py      run_jobs / backfill: each job alone (a failure skips only its downstream
               jobs; JobsFailedError carries every result), window, checks, quarantine,
               atomic partition replace
checks.py      a job's row-level rules compiled to DuckDB SQL
partitions.py  the one sorted pass that checks rows and writes the partitions
storage.py     a feature table's versions and the atomic swap
window.py      run windows: explicit, incremental, aligned to the grain
history.py     the run history (SQLite in the data folder)

The job files themselves (their header is the table's schema) are parsed by
``featurestore.job_spec``; the order jobs run in is ``featurestore.job_graph``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featurestore.job_spec import Column, Job, discover_jobs, find_job, parse_job
from ingestion.history import RunRecord, runs, runs_frame

if TYPE_CHECKING:
    from ingestion.runner import (
        JobResult,
        JobsFailedError,
        backfill,
        feature_table_path,
        run_jobs,
    )

__all__ = [
    "Column",
    "Job",
    "JobResult",
    "JobsFailedError",
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
_RUNNER = frozenset({"JobResult", "JobsFailedError", "backfill", "feature_table_path", "run_jobs"})


def __getattr__(name: str) -> Any:
    if name in _RUNNER:
        from ingestion import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'ingestion' has no attribute {name!r}")
