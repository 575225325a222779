"""Time windows of job runs: aligned to the job's grain, explicit or incremental."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from featurestore.errors import WindowError
from featurestore.job_spec import Job
from ingestion import history

GRAIN_STEP = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
_DURATION = re.compile(r"^\s*(\d+)\s*([dh])\s*$")


def floor(value: datetime, grain: str) -> datetime:
    value = value.astimezone(UTC)
    if grain == "hour":
        return value.replace(minute=0, second=0, microsecond=0)
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def check_window(job: Job, start: datetime, end: datetime) -> None:
    if start >= end:
        raise WindowError(job.name, f"empty window: start {start} is not before end {end}")
    for label, value in (("start", start), ("end", end)):
        if floor(value, job.grain) != value:
            raise WindowError(
                job.name,
                f"{label} {value.isoformat()} is not on a {job.grain} boundary "
                f"(the job writes one partition per {job.grain})",
            )


def resolve(
    job: Job,
    data_dir: Path,
    start: datetime | None,
    end: datetime | None,
    now: datetime | None = None,
) -> tuple[datetime, datetime] | None:
    """The window of a run; without ``start`` it continues from the last successful run.

    Returns None when an incremental run has nothing to do (already up to date).
    """
    incremental = start is None
    if start is None:
        start = history.last_success_end(data_dir, job.name) or job.start
        if start is None:
            raise WindowError(
                job.name,
                f"no window given, no successful run yet and no 'start:' in {job.path}; "
                "pass --start and --end",
            )
    if end is None:
        end = floor(now or datetime.now(UTC), job.grain)
    if incremental and start >= end:
        return None
    check_window(job, start, end)
    return start, end


def parse_step(text: str) -> timedelta:
    """``7d`` or ``6h``."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise WindowError("backfill", f"step must look like 7d or 6h, not {text!r}")
    amount = int(match.group(1))
    return timedelta(days=amount) if match.group(2) == "d" else timedelta(hours=amount)


def steps(start: datetime, end: datetime, step: timedelta) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into consecutive windows of ``step`` (the last may be shorter)."""
    if start >= end:
        raise WindowError("backfill", f"empty range: start {start} is not before end {end}")
    windows = []
    cursor = start
    while cursor < end:
        windows.append((cursor, min(cursor + step, end)))
        cursor += step
    return windows
