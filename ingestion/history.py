"""Run history: one row per job run, in SQLite under ``data/ingestion/runs.sqlite``.

A run is recorded as ``running`` when it starts and updated when it ends
(``success``, ``up to date``, ``failed``; an ``up to date`` run found no rows
and does not move the next incremental run's start). A run whose process died is shown as
``interrupted`` (its pid no longer exists). Incremental runs start where the job's
last successful run ended.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurestore import processes
from featurestore.layout import DataLayout

if TYPE_CHECKING:
    import pandas as pd

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT NOT NULL,
    job TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    status TEXT NOT NULL,
    rows_in INTEGER,
    rows_written INTEGER,
    rows_quarantined INTEGER,
    seconds REAL,
    error TEXT,
    started_at TEXT NOT NULL,
    pid INTEGER NOT NULL,
    PRIMARY KEY (job, run_id)
)
"""
_COLUMNS = (
    "run_id, job, window_start, window_end, status, rows_in, rows_written, "
    "rows_quarantined, seconds, error, started_at, pid"
)


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    job: str
    window_start: datetime
    window_end: datetime
    status: str
    rows_in: int | None
    rows_written: int | None
    rows_quarantined: int | None
    seconds: float | None
    error: str | None
    started_at: datetime


def history_path(data_dir: Path) -> Path:
    return DataLayout(data_dir).history


@contextmanager
def _connect(data_dir: Path) -> Iterator[sqlite3.Connection]:
    path = history_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=30)) as con, con:
        con.execute(_SCHEMA)
        yield con


def record_start(data_dir: Path, run_id: str, job: str, start: datetime, end: datetime) -> None:
    with _connect(data_dir) as con:
        con.execute(
            f"INSERT INTO runs ({_COLUMNS}) VALUES (?, ?, ?, ?, 'running', "
            "NULL, NULL, NULL, NULL, NULL, ?, ?)",
            (run_id, job, start.isoformat(), end.isoformat(), _now(), os.getpid()),
        )


def record_end(
    data_dir: Path,
    run_id: str,
    job: str,
    status: str,
    *,
    rows_in: int | None = None,
    rows_written: int | None = None,
    rows_quarantined: int | None = None,
    seconds: float | None = None,
    error: str | None = None,
) -> None:
    with _connect(data_dir) as con:
        con.execute(
            "UPDATE runs SET status = ?, rows_in = ?, rows_written = ?, rows_quarantined = ?, "
            "seconds = ?, error = ? WHERE job = ? AND run_id = ?",
            (status, rows_in, rows_written, rows_quarantined, seconds, error, job, run_id),
        )


def last_success_end(data_dir: Path, job: str) -> datetime | None:
    """Where the job's latest successful window ended (incremental runs start there)."""
    if not history_path(data_dir).exists():
        return None
    with _connect(data_dir) as con:
        row = con.execute(
            "SELECT max(window_end) FROM runs WHERE job = ? AND status IN ('success', 'empty')",
            (job,),
        ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def runs(data_dir: Path, job: str | None = None, limit: int | None = None) -> list[RunRecord]:
    """Runs, newest first; ``running`` runs whose process is gone read ``interrupted``."""
    if not history_path(data_dir).exists():
        return []
    query = f"SELECT {_COLUMNS} FROM runs"
    params: list[object] = []
    if job:
        query += " WHERE job = ?"
        params.append(job)
    query += " ORDER BY started_at DESC, run_id DESC"
    if limit:
        query += " LIMIT ?"
        params.append(int(limit))
    with _connect(data_dir) as con:
        rows = con.execute(query, params).fetchall()
    return [_record(row) for row in rows]


def runs_frame(data_dir: Path, job: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """The run history as a DataFrame, newest first (one column per RunRecord field)."""
    import pandas as pd  # only here: the job runner itself needs no pandas

    records = runs(data_dir, job, limit)
    columns = list(RunRecord.__dataclass_fields__)
    return pd.DataFrame([asdict(r) for r in records], columns=columns)


def _record(row: tuple[Any, ...]) -> RunRecord:
    (run_id, job, start, end, status, rows_in, written, quarantined, seconds, error, at, pid) = row
    if status == "running" and not processes.alive(pid):
        status = "interrupted"
    return RunRecord(
        run_id=run_id,
        job=job,
        window_start=datetime.fromisoformat(start),
        window_end=datetime.fromisoformat(end),
        status=status,
        rows_in=rows_in,
        rows_written=written,
        rows_quarantined=quarantined,
        seconds=seconds,
        error=error,
        started_at=datetime.fromisoformat(at),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()
