"""A feature job: one DuckDB SQL file that produces one feature table.

The file opens with a header of ``-- key: value`` comment lines; the header is the
table's schema, and the Feast sources and feature views are derived from it::

    -- name: weather_hourly
    -- description: Hourly weather observed at each New York origin airport.
    -- entities: origin
    -- timestamp: event_timestamp
    -- grain: day
    -- start: 2013-01-01
    -- column: origin VARCHAR in ('EWR', 'JFK', 'LGA')
    -- column: event_timestamp TIMESTAMPTZ
    -- column: humid DOUBLE min 0 max 100 | Relative humidity, %
    -- column: wind_dir BIGINT not null min 0 max 360 | Wind direction, degrees

Keys:
    name         the table name; must equal the file name
    entities     comma-separated entity key columns (never null)
    timestamp    the event timestamp column (never null); rows are partitioned by it
    grain        ``day`` or ``hour``: one hive partition folder per day or hour
    start        where an incremental run begins when the job has never run
    upstream     comma-separated jobs this one reads (default: inferred from the SQL)
    max_bad_rows share of rows (0..1, or ``5%``) that may be quarantined before the run fails
    column       ``NAME TYPE [not null] [min X] [max Y] [in (v, ...)] [| description]``,
                 one line per output column, in any order; every column the query
                 returns must be declared, and every declared column returned
    drift        ``COLUMN METHOD [THRESHOLD]``, one line per column: how the monitor
                 scores its drift (``featurestore.monitor.config``)
    freshness    a duration (``26h``, ``2d``): the freshness objective of the views
                 fed by this job

The rest of the file is one SELECT statement over the raw and feature tables by name.
``$start`` and ``$end`` in it are the run's window (``TIMESTAMPTZ`` literals); the
runner keeps only rows whose timestamp falls in the window anyway, so they serve to
prune the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from featurestore.errors import ConfigError, JobDefinitionError, UnknownJobError
from featurestore.monitor.config import DriftRule, make_rule, parse_duration

GRAINS = ("day", "hour")
DEFAULT_MAX_BAD_ROWS = 0.01

_HEADER_LINE = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")
_KEYS = {"name", "description", "entities", "timestamp", "grain", "start", "upstream"}
_KEYS |= {"max_bad_rows", "column", "drift", "freshness"}
_REQUIRED = ("name", "entities", "timestamp")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_NUMBER = r"-?\d+(?:\.\d+)?"
_COLUMN = re.compile(
    rf"^(?P<name>{_IDENT})\s+(?P<type>[A-Za-z]+)"
    r"(?P<rules>(?:\s+(?:not\s+null|min\s+\S+|max\s+\S+|in\s*\([^)]*\)))*)"
    r"\s*(?:\|\s*(?P<description>.*))?$",
    re.IGNORECASE,
)
_RULE = re.compile(
    rf"not\s+null|min\s+(?P<min>{_NUMBER})|max\s+(?P<max>{_NUMBER})|in\s*\((?P<values>[^)]*)\)",
    re.IGNORECASE,
)
_WINDOW_PARAM = re.compile(r"\$(start|end)\b")

# Declared type -> (DuckDB type, Feast type name in feast.types).
TYPES: dict[str, tuple[str, str]] = {
    "BIGINT": ("BIGINT", "Int64"),
    "INT64": ("BIGINT", "Int64"),
    "INTEGER": ("INTEGER", "Int32"),
    "INT": ("INTEGER", "Int32"),
    "INT32": ("INTEGER", "Int32"),
    "DOUBLE": ("DOUBLE", "Float64"),
    "FLOAT": ("FLOAT", "Float32"),
    "REAL": ("FLOAT", "Float32"),
    "VARCHAR": ("VARCHAR", "String"),
    "STRING": ("VARCHAR", "String"),
    "TEXT": ("VARCHAR", "String"),
    "BOOLEAN": ("BOOLEAN", "Bool"),
    "BOOL": ("BOOLEAN", "Bool"),
    "TIMESTAMPTZ": ("TIMESTAMP WITH TIME ZONE", "UnixTimestamp"),
    "TIMESTAMP": ("TIMESTAMP", "UnixTimestamp"),
}


@dataclass(frozen=True)
class Column:
    """One declared output column and its row-level expectations."""

    name: str
    type: str  # DuckDB type name, as DESCRIBE reports it
    feast_type: str  # name in feast.types
    not_null: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None  # SQL literals, e.g. "'JFK'" or "3"
    description: str = ""


@dataclass(frozen=True)
class Job:
    name: str
    path: Path
    entities: tuple[str, ...]
    timestamp: str
    description: str
    sql: str
    columns: tuple[Column, ...] = ()
    grain: str = "day"
    start: datetime | None = None
    upstream: tuple[str, ...] | None = None  # None: inferred from the SQL
    max_bad_rows: float = DEFAULT_MAX_BAD_ROWS
    drift: dict[str, DriftRule] = field(default_factory=dict)  # the header's, by column
    freshness: timedelta | None = None  # the header's objective

    @property
    def column_map(self) -> dict[str, Column]:
        return {column.name: column for column in self.columns}

    @property
    def features(self) -> tuple[Column, ...]:
        """The columns that are neither entity keys nor the timestamp."""
        keys = {*self.entities, self.timestamp}
        return tuple(c for c in self.columns if c.name not in keys)

    def render(self, start: datetime, end: datetime) -> str:
        """The SQL with ``$start``/``$end`` replaced by the window (line numbers kept)."""
        values = {"start": _timestamp_literal(start), "end": _timestamp_literal(end)}
        return _WINDOW_PARAM.sub(lambda m: values[m.group(1)], self.sql)


def _timestamp_literal(value: datetime) -> str:
    return f"TIMESTAMPTZ '{value.astimezone(UTC).isoformat(sep=' ')}'"


def read_header(
    path: Path, text: str, keys: frozenset[str] | set[str] = frozenset()
) -> tuple[dict[str, str], list[Column], dict[str, DriftRule]]:
    """The ``-- key: value`` header at the top of ``text``: the single values, the
    ``column`` lines and the ``drift`` lines. ``keys`` are accepted besides a job's own
    (a push source's header, ``featurestore.push.spec``, declares a few more)."""
    known = _KEYS | set(keys)
    header: dict[str, str] = {}
    columns: list[Column] = []
    drift: dict[str, DriftRule] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("--"):
            break
        match = _HEADER_LINE.match(line)
        if not match:
            continue
        key, value = match.group(1), match.group(2)
        if key not in known:
            continue  # prose in the header comment, e.g. "-- note: ..."
        if key == "column":
            columns.append(_parse_column(path, number, value))
        elif key == "drift":
            column, rule = _parse_drift(path, number, value)
            drift[column] = rule
        else:
            header[key] = value
    return header, columns, drift


def parse_job(path: Path) -> Job:
    text = path.read_text()
    header, columns, drift = read_header(path, text)
    missing = [key for key in _REQUIRED if not header.get(key)]
    if missing:
        raise JobDefinitionError(path, f"header lacks {', '.join(missing)}")
    if header["name"] != path.stem:
        raise JobDefinitionError(path, f"header name {header['name']!r} differs from the file name")
    entities = _names(header["entities"])
    timestamp = header["timestamp"]
    _check_columns(path, columns, (*entities, timestamp))
    grain = header.get("grain", "day").lower()
    if grain not in GRAINS:
        raise JobDefinitionError(path, f"grain must be one of {', '.join(GRAINS)}, not {grain!r}")
    upstream = _names(header["upstream"]) if "upstream" in header else None
    undeclared = sorted(set(drift) - {c.name for c in columns}) if columns else []
    if undeclared:
        raise JobDefinitionError(path, f"drift names undeclared column(s): {', '.join(undeclared)}")
    freshness = None
    if header.get("freshness"):
        try:
            freshness = parse_duration(header["freshness"], "freshness")
        except ConfigError as exc:
            raise JobDefinitionError(path, str(exc)) from None
    return Job(
        name=header["name"],
        path=path,
        entities=entities,
        timestamp=timestamp,
        description=header.get("description", ""),
        sql=text.rstrip().rstrip(";"),
        columns=tuple(columns),
        grain=grain,
        start=_parse_start(path, header.get("start")),
        upstream=upstream,
        max_bad_rows=parse_share(header.get("max_bad_rows"), path),
        drift=drift,
        freshness=freshness,
    )


def _names(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _parse_drift(path: Path, line: int, spec: str) -> tuple[str, DriftRule]:
    parts = spec.split()
    if not 2 <= len(parts) <= 3 or not re.fullmatch(_IDENT, parts[0]):
        raise JobDefinitionError(
            path, f"cannot read drift {spec!r}; expected COLUMN METHOD [THRESHOLD]", line
        )
    try:
        rule = make_rule(parts[1], parts[2] if len(parts) == 3 else None, "drift")
    except ConfigError as exc:
        raise JobDefinitionError(path, str(exc), line) from None
    return parts[0], rule


def _parse_column(path: Path, line: int, spec: str) -> Column:
    match = _COLUMN.match(spec)
    if not match:
        raise JobDefinitionError(
            path,
            f"cannot read column {spec!r}; expected "
            "NAME TYPE [not null] [min X] [max Y] [in (v, ...)] [| description]",
            line,
        )
    declared = match.group("type").upper()
    if declared not in TYPES:
        raise JobDefinitionError(
            path, f"unknown type {declared!r}; known types: {', '.join(sorted(TYPES))}", line
        )
    duck_type, feast_type = TYPES[declared]
    not_null, low, high, allowed = False, None, None, None
    for rule in _RULE.finditer(match.group("rules") or ""):
        if rule.group("min") is not None:
            low = float(rule.group("min"))
        elif rule.group("max") is not None:
            high = float(rule.group("max"))
        elif rule.group("values") is not None:
            allowed = tuple(v.strip() for v in rule.group("values").split(",") if v.strip())
        else:
            not_null = True
    return Column(
        name=match.group("name"),
        type=duck_type,
        feast_type=feast_type,
        not_null=not_null,
        min=low,
        max=high,
        allowed=allowed,
        description=(match.group("description") or "").strip(),
    )


def _check_columns(path: Path, columns: list[Column], keys: tuple[str, ...]) -> None:
    if not columns:
        return  # an undeclared schema: the query's own columns, no expectations
    names = [c.name for c in columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise JobDefinitionError(path, f"column(s) declared twice: {', '.join(twice)}")
    undeclared = [k for k in keys if k not in names]
    if undeclared:
        raise JobDefinitionError(
            path, f"entity/timestamp column(s) not declared: {', '.join(undeclared)}"
        )


def _parse_start(path: Path, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise JobDefinitionError(path, f"start {value!r} is not a date or time") from None


def parse_time(value: str) -> datetime:
    """An ISO date or time; naive values are UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_share(value: str | float | None, path: Path | None = None) -> float:
    """``0.05`` or ``5%`` as a share in 0..1 (default 1%)."""
    if value is None:
        return DEFAULT_MAX_BAD_ROWS
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        message = f"max_bad_rows must be a share in 0..1 or a percentage, not {text!r}"
        if path is None:
            raise ValueError(message)
        raise JobDefinitionError(path, message)
    return share


@dataclass(frozen=True)
class JobFiles:
    """The job files of a folder, read one by one: the jobs, and the files that failed."""

    jobs: dict[str, Job]
    broken: dict[str, JobDefinitionError]  # by file name without ``.sql``

    @property
    def names(self) -> list[str]:
        """Every job's name, broken ones included, sorted."""
        return sorted({*self.jobs, *self.broken})


def read_jobs(jobs_dir: Path) -> JobFiles:
    """Every job file under ``jobs_dir``; one with a bad header does not hide the others."""
    jobs: dict[str, Job] = {}
    broken: dict[str, JobDefinitionError] = {}
    for path in sorted(jobs_dir.glob("*.sql")):
        try:
            job = parse_job(path)
        except JobDefinitionError as exc:
            broken[path.stem] = exc
        else:
            jobs[job.name] = job
    return JobFiles(jobs, broken)


def discover_jobs(jobs_dir: Path) -> dict[str, Job]:
    """Every job under ``jobs_dir``, by name; the first bad header raises."""
    found = read_jobs(jobs_dir)
    for error in found.broken.values():
        raise error
    return found.jobs


def find_job(name: str, jobs_dir: Path) -> Job:
    """One job by name; an unknown name lists the known ones."""
    path = jobs_dir / f"{name}.sql"
    if not path.is_file():
        raise UnknownJobError(name, sorted(p.stem for p in jobs_dir.glob("*.sql")))
    return parse_job(path)
