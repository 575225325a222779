"""A push source: its table's schema and rules, declared like a feature job's header.

``<jobs folder>/<name>.push`` holds only a header, in the syntax of a job's
(``featurestore.job_spec``), so names, types and row rules have one source of truth
and one reader::

    -- name: departure_status
    -- description: Live departure status per carrier and origin, pushed as it changes.
    -- entities: carrier, origin
    -- timestamp: event_timestamp
    -- grain: day
    -- future_tolerance: 5m
    -- ints_for_floats: refuse
    -- on_bad_rows: reject
    -- column: carrier VARCHAR not null
    -- column: origin VARCHAR in ('EWR', 'JFK', 'LGA')
    -- column: event_timestamp TIMESTAMPTZ
    -- column: sched_hour INTEGER not null min 0 max 23 | Scheduled hour of the departure

Keys beyond a job's (which all apply, except the SQL body and ``upstream``):
    future_tolerance how far in the future an event time may lie (``30s``, ``5m``; default
                     5m): a clock that is off, or a unit mistake, is refused
    ints_for_floats  ``convert`` (default; an integer for a DOUBLE or FLOAT column is
                     stored as that float, as Feast stores it) or ``refuse`` (a rule,
                     ``<column> is DOUBLE``, that the row breaks)
    on_bad_rows      what a write does by default when rows break a rule: ``reject``
                     (answer 422 naming each, write nothing) or ``quarantine`` (write the
                     good rows, keep the bad ones in the table's quarantine with the rule)

The Feast push source is ``<name>_push`` (``featurestore.definitions.push_feature_view``);
pushed rows are folded into the feature table ``<name>`` (``featurestore.push.compact``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from featurestore.errors import ConfigError, JobDefinitionError, UnknownObjectError
from featurestore.job_spec import GRAINS, Job, read_header
from featurestore.monitor.config import parse_duration

SUFFIX = ".push"
SOURCE_SUFFIX = "_push"
INTS_FOR_FLOATS = ("convert", "refuse")
ON_BAD_ROWS = ("reject", "quarantine")
DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=5)

_KEYS = frozenset({"future_tolerance", "ints_for_floats", "on_bad_rows"})
_REQUIRED = ("name", "entities", "timestamp")


@dataclass(frozen=True)
class PushSpec:
    """A push source's declaration; ``job`` carries the table's schema and rules exactly
    as a job's header would (the monitor and the partition writer take it as one)."""

    job: Job
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE
    ints_for_floats: str = "convert"
    on_bad_rows: str = "reject"

    @property
    def name(self) -> str:
        return self.job.name

    @property
    def source_name(self) -> str:
        """The Feast push source's name."""
        return f"{self.job.name}{SOURCE_SUFFIX}"


def parse_push(path: Path) -> PushSpec:
    text = path.read_text()
    header, columns, drift = read_header(path, text, _KEYS)
    missing = [key for key in _REQUIRED if not header.get(key)]
    if missing:
        raise JobDefinitionError(path, f"header lacks {', '.join(missing)}")
    name = header["name"]
    if name != path.stem:
        raise JobDefinitionError(path, f"header name {name!r} differs from the file name")
    if not columns:
        raise JobDefinitionError(path, "declare every column (-- column: NAME TYPE ...)")
    entities = tuple(e.strip() for e in header["entities"].split(",") if e.strip())
    timestamp = header["timestamp"]
    declared = {c.name: c for c in columns}
    for key in (*entities, timestamp):
        if key not in declared:
            raise JobDefinitionError(path, f"entity/timestamp column {key!r} is not declared")
    if not declared[timestamp].type.startswith("TIMESTAMP"):
        raise JobDefinitionError(path, f"the timestamp column {timestamp!r} must be TIMESTAMPTZ")
    names = [c.name for c in columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise JobDefinitionError(path, f"column(s) declared twice: {', '.join(twice)}")
    grain = header.get("grain", "day").lower()
    if grain not in GRAINS:
        raise JobDefinitionError(path, f"grain must be one of {', '.join(GRAINS)}, not {grain!r}")
    undeclared = sorted(set(drift) - set(declared))
    if undeclared:
        raise JobDefinitionError(path, f"drift names undeclared column(s): {', '.join(undeclared)}")
    try:
        freshness = (
            parse_duration(header["freshness"], "freshness") if "freshness" in header else None
        )
        tolerance = (
            parse_duration(header["future_tolerance"], "future_tolerance")
            if "future_tolerance" in header
            else DEFAULT_FUTURE_TOLERANCE
        )
    except ConfigError as exc:
        raise JobDefinitionError(path, str(exc)) from None
    ints = _choice(path, header, "ints_for_floats", INTS_FOR_FLOATS)
    on_bad = _choice(path, header, "on_bad_rows", ON_BAD_ROWS)
    job = Job(
        name=name,
        path=path,
        entities=entities,
        timestamp=timestamp,
        description=header.get("description", ""),
        sql="",
        columns=tuple(columns),
        grain=grain,
        upstream=(),
        drift=drift,
        freshness=freshness,
    )
    return PushSpec(job, tolerance, ints, on_bad)


def _choice(path: Path, header: dict[str, str], key: str, allowed: tuple[str, ...]) -> str:
    value = header.get(key, allowed[0]).strip().lower()
    if value not in allowed:
        raise JobDefinitionError(path, f"{key} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def read_pushes(jobs_dir: Path) -> dict[str, PushSpec]:
    """Every push source declared in ``jobs_dir``, by table name; a bad header raises."""
    if not jobs_dir.is_dir():
        return {}
    return {spec.name: spec for spec in map(parse_push, sorted(jobs_dir.glob(f"*{SUFFIX}")))}


def table_headers(jobs_dir: Path) -> dict[str, Job]:
    """Every feature table's header, by table name: the jobs' and the push sources' (the
    monitor reads drift rules and freshness objectives from them); broken jobs are left
    out, as ``read_jobs`` leaves them."""
    from featurestore.job_spec import read_jobs

    if not jobs_dir.is_dir():
        return {}
    headers = dict(read_jobs(jobs_dir).jobs)
    for path in sorted(jobs_dir.glob(f"*{SUFFIX}")):
        try:
            spec = parse_push(path)
        except JobDefinitionError:
            continue
        headers.setdefault(spec.name, spec.job)
    return headers


def find_push(name: str, jobs_dir: Path) -> PushSpec:
    """The declaration of a push source, by its table name or its Feast source name."""
    table = name.removesuffix(SOURCE_SUFFIX)
    path = jobs_dir / f"{table}{SUFFIX}"
    if not path.is_file():
        raise UnknownObjectError("push source", name)
    return parse_push(path)
