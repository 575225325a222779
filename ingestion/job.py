"""A feature job: one DuckDB SQL file that produces one feature table.

The file opens with a header of ``-- key: value`` comment lines::

    -- name: weather_hourly
    -- description: Hourly weather observed at each New York origin airport.
    -- entities: origin
    -- timestamp: event_timestamp

``entities`` is a comma-separated list of the entity key columns. The rest of the
file is one SELECT statement that DuckDB runs over the raw tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from featurestore.errors import IngestionError

JOBS_DIR = Path(__file__).parent / "jobs"
_HEADER_LINE = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")
_REQUIRED = ("name", "entities", "timestamp")


@dataclass(frozen=True)
class Job:
    name: str
    path: Path
    entities: tuple[str, ...]
    timestamp: str
    description: str
    sql: str


def parse_job(path: Path) -> Job:
    text = path.read_text()
    header: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        match = _HEADER_LINE.match(line)
        if match:
            header[match.group(1)] = match.group(2)
    missing = [key for key in _REQUIRED if not header.get(key)]
    if missing:
        raise IngestionError(path.stem, f"{path}: header lacks {', '.join(missing)}")
    if header["name"] != path.stem:
        raise IngestionError(
            path.stem, f"{path}: header name {header['name']!r} differs from the file name"
        )
    sql = text.rstrip().rstrip(";")
    return Job(
        name=header["name"],
        path=path,
        entities=tuple(e.strip() for e in header["entities"].split(",") if e.strip()),
        timestamp=header["timestamp"],
        description=header.get("description", ""),
        sql=sql,
    )


def discover_jobs(jobs_dir: Path = JOBS_DIR) -> dict[str, Job]:
    """Every job under ``jobs_dir``, by name."""
    return {job.name: job for job in map(parse_job, sorted(jobs_dir.glob("*.sql")))}
