"""Statistics per feature per partition, written by each ingestion run, merged per window.

Right after a job's run commits its new version (``ingestion.runner``), one DuckDB query
over the partition files the run wrote computes, per partition and per feature (the
columns that are neither entity keys nor the timestamp), and the run writes them into
``data/monitor/stats/<table>/``::

    <run id>.parquet   one row per partition and feature: count, nulls, min, max, mean,
                       M2 (the sum of squared deviations from the mean), the number of
                       whole values (v = round(v)), the k = 1024 smallest distinct value
                       hashes (a KMV sketch), a 22-bin histogram (numeric) and the value
                       counts (strings, booleans: all of them up to 1,000 distinct values,
                       else the 100 most frequent and the rest as ``other``)
    <run id>.json      what those rows describe, written last: the run's window and, per
                       partition, its files (name, inode, size, mtime), its good rows and
                       the rows the run quarantined there, by rule
    edges.json         each numeric feature's histogram range, fixed the first time the
                       feature is seen: the header's ``min`` and ``max``, else the range
                       of that run's values; never changed afterwards

Merging partitions is exact, so a window's statistics never re-scan the table: counts,
nulls, whole values and histogram bins add up (every partition uses the same edges);
min and max are the extremes; mean and variance combine by Chan's formula (the total
M2 is the partitions' M2 plus each partition's count times its squared distance to the
overall mean; every partition's M2 is itself computed in two passes over its distinct
values, so nothing cancels); the k smallest distinct hashes of a union are the k
smallest of the partitions' own k smallest, so the merged sketch equals the sketch of
a full scan, and the distinct count is exact up to k and an estimate (k - 1) / h_k
beyond, with a relative error of about 1 / sqrt(k) = 3%.

A record is current for a partition while the partition's files in the table's current
version are the very files it describes: a later run of the same window writes new
files, while partitions outside a run's window are hard links (same inode) into the
new version. Partitions that no record matches (a table written before statistics
existed, a crash between the commit and the record, ``FEATURESTORE_MONITOR_STATS=0``)
are computed by the reader the first time they are asked for and cached in the same
folder as ``recomputed-...``. The monitor writes only there, never to a feature table.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurestore import sql
from featurestore.errors import InvalidRequestError, UnknownObjectError
from featurestore.monitor.model import FeatureStats, Histogram, QuarantinePoint

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from featurestore.job_spec import Job
    from featurestore.layout import DataLayout
    from featurestore.project import Project

logger = logging.getLogger(__name__)

SKETCH_SIZE = 1024  # k of the KMV distinct sketch
BINS = 20  # equal-width histogram bins between a numeric feature's edges
MAX_VALUES = 1_000  # a partition keeps every value count up to this many distinct values
TOP_VALUES = 100  # beyond, the most frequent ones (the rest go to ``other``)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
SWITCH = "FEATURESTORE_MONITOR_STATS"  # "0" turns statistics off in ingestion runs
PARTITION_KEYS = ("partition_date", "partition_hour")
_FORMAT = 1
_STALE_TMP_SECONDS = 3600
_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
_INTEGER |= {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
_FLOAT = {"FLOAT", "DOUBLE", "REAL"}
_CATEGORICAL = {"VARCHAR", "BOOLEAN"}


class UnknownFeatureTableError(UnknownObjectError):
    """A feature table with no data: no job by that name has written a version yet."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__("feature table", name)
        self.known = sorted(known)
        listed = ", ".join(self.known) or "none yet (featurestore ingest run writes them)"
        self.args = (f"unknown feature table {name!r}; feature tables with data: {listed}",)


def stats_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ingestion runs record statistics: on unless ``FEATURESTORE_MONITOR_STATS``
    is ``0``, ``false``, ``no`` or ``off``."""
    value = (os.environ if environ is None else environ).get(SWITCH, "1")
    return value.strip().lower() not in ("0", "false", "no", "off")


# -- the records on disk --------------------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    """One partition of a version: its folder relative to the version, and its files."""

    key: str  # partition_date=20130101[/partition_hour=5]
    files: tuple[tuple[str, int, int, int], ...]  # name, inode, size, mtime_ns

    @property
    def start(self) -> datetime:
        return _slot_start(self.key)

    @property
    def end(self) -> datetime:
        return self.start + (timedelta(hours=1) if "partition_hour=" in self.key else _DAY)


@dataclass(frozen=True)
class _Record:
    """One record: a run's statistics (``source`` run) or the reader's (recomputed)."""

    name: str
    run_id: str
    source: str
    start: datetime | None
    end: datetime | None
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)

    def matches(self, slot: _Slot) -> bool:
        entry = self.slots.get(slot.key)
        return entry is not None and tuple(map(tuple, entry["files"])) == slot.files

    def covers(self, start: datetime) -> bool:
        return self.start is not None and self.end is not None and self.start <= start < self.end


_DAY = timedelta(days=1)


def _slot_start(key: str) -> datetime:
    values = dict(part.split("=", 1) for part in key.split("/"))
    day = datetime.strptime(values["partition_date"], "%Y%m%d").replace(tzinfo=UTC)
    return day.replace(hour=int(values.get("partition_hour", 0)))


def _slot_key(partition_date: int, partition_hour: int | None) -> str:
    key = f"partition_date={partition_date}"
    return key if partition_hour is None else f"{key}/partition_hour={partition_hour}"


def _current_version(layout: DataLayout, table: str) -> Path | None:
    link = layout.table(table)
    if not link.is_symlink():
        return None
    target = link.resolve()
    return target if target.is_dir() else None


def _slots(version: Path) -> dict[str, _Slot]:
    """Every partition of a version that holds files, by key."""
    found: dict[str, _Slot] = {}
    for folder, _dirs, files in os.walk(version):
        names = sorted(name for name in files if name.endswith(".parquet"))
        if not names:
            continue
        key = Path(folder).relative_to(version).as_posix()
        identity = []
        for name in names:
            info = os.stat(os.path.join(folder, name))
            identity.append((name, info.st_ino, info.st_size, info.st_mtime_ns))
        found[key] = _Slot(key, tuple(identity))
    return found


def _read_records(folder: Path) -> list[_Record]:
    """Every complete record of a table, oldest run first (unreadable ones are skipped)."""
    records = []
    for path in sorted(folder.glob("*.json")):
        if path.name == "edges.json":
            continue
        try:
            meta = json.loads(path.read_text())
            records.append(
                _Record(
                    name=path.stem,
                    run_id=str(meta["run_id"]),
                    source=str(meta["source"]),
                    start=_parse_time(meta.get("start")),
                    end=_parse_time(meta.get("end")),
                    slots=dict(meta["slots"]),
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("ignoring unreadable statistics record %s", path)
    return sorted(records, key=lambda r: (r.run_id, r.source == "run"))


def _parse_time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _write_record(folder: Path, name: str, rows: pa.Table, meta: dict[str, Any]) -> Path:
    """The rows, then the description that makes them a record; each atomically."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.parquet.{os.getpid()}.tmp"
    pq.write_table(rows, tmp, compression="zstd")
    os.replace(tmp, folder / f"{name}.parquet")
    target = folder / f"{name}.json"
    tmp = folder / f".{name}.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(meta, separators=(",", ":")))
    os.replace(tmp, target)
    return target


def _read_rows(folder: Path, wanted: Mapping[str, set[str]]) -> list[pa.Table]:
    """The rows of each record (by name) for the wanted partition keys."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    tables = []
    for name, keys in wanted.items():
        rows = pq.read_table(folder / f"{name}.parquet")
        tables.append(rows.filter(pc.is_in(rows.column("slot"), pa.array(sorted(keys)))))
    return tables


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """The statistics folder's lock: one writer of ``edges.json`` at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# -- computing a set of partitions ----------------------------------------------------


def _kind(type_: str) -> str:
    if type_ in _INTEGER or type_ in _FLOAT or type_.startswith("DECIMAL"):
        return "numeric"
    return "categorical" if type_ in _CATEGORICAL else "other"


def _features(con: duckdb.DuckDBPyConnection, scan: str, job: Job | None) -> list[tuple[str, str]]:
    """(name, DuckDB type) of the files' feature columns, in the job header's order."""
    described = [
        (row[0], row[1]) for row in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    ]
    skip = {*PARTITION_KEYS, *(job.entities if job else ()), *((job.timestamp,) if job else ())}
    columns = [(name, type_) for name, type_ in described if name not in skip]
    if job is not None and job.columns:
        order = {c.name: i for i, c in enumerate(job.columns)}
        columns.sort(key=lambda c: order.get(c[0], len(order)))
    return columns


def _scan(files: Sequence[str]) -> str:
    listed = ", ".join(sql.path_literal(f) for f in files)
    return f"read_parquet([{listed}], hive_partitioning = true, union_by_name = true)"


def _edges(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    scan: str,
    columns: Sequence[tuple[str, str]],
    job: Job | None,
    decided_by: str,
) -> dict[str, tuple[float, float]]:
    """Each numeric feature's histogram range, deciding (and storing) the missing ones:
    the header's ``min``/``max`` where declared, else the extremes of these files."""
    numeric = [name for name, type_ in columns if _kind(type_) == "numeric"]
    path = folder / "edges.json"
    stored = _load_edges(path)
    if all(name in stored for name in numeric):
        return stored
    with _locked(folder):
        stored = _load_edges(path)
        missing = [name for name in numeric if name not in stored]
        declared = job.column_map if job is not None else {}
        bounds = {
            name: (declared[name].min, declared[name].max) if name in declared else (None, None)
            for name in missing
        }
        scanned = [name for name in missing if None in bounds[name]]
        if scanned:
            items = []
            for name in scanned:
                x = f"CAST({sql.ident(name)} AS DOUBLE)"
                items += [f"min({x}) FILTER (isfinite({x}))", f"max({x}) FILTER (isfinite({x}))"]
            row = con.execute(f"SELECT {', '.join(items)} FROM {scan}").fetchall()[0]
            for i, name in enumerate(scanned):
                low, high = bounds[name]
                bounds[name] = (
                    row[2 * i] if low is None else low,
                    row[2 * i + 1] if high is None else high,
                )
        added: dict[str, dict[str, Any]] = {}
        for name in missing:
            low, high = bounds[name]
            if low is None or high is None:
                continue  # no finite value yet: the first run that has one decides
            low, high = float(low), float(high)
            if not low < high:
                low, high = min(low, high) - 0.5, max(low, high) + 0.5
            source = "header" if name not in scanned else "data"
            added[name] = {"lo": low, "hi": high, "source": source, "decided_by": decided_by}
        if added:
            document: dict[str, Any] = {"format": _FORMAT, "bins": BINS, "columns": {}}
            with contextlib.suppress(OSError, ValueError):
                document = json.loads(path.read_text())
            document["columns"].update(added)
            tmp = folder / f".edges.json.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(document, indent=1))
            os.replace(tmp, path)
        return {**stored, **{n: (e["lo"], e["hi"]) for n, e in added.items()}}


def _load_edges(path: Path) -> dict[str, tuple[float, float]]:
    try:
        columns = json.loads(path.read_text())["columns"]
    except (OSError, ValueError, KeyError):
        return {}
    return {name: (float(e["lo"]), float(e["hi"])) for name, e in columns.items()}


def _column_sql(
    scan: str, keys: Sequence[str], name: str, type_: str, edges: tuple[float, float] | None
) -> str:
    """One feature's statistics per partition, from its (value, count) pairs: grouping a
    partition's rows by value is the one pass over the data; every statistic then reads
    the far smaller pairs (the histogram, the sketch, the two-pass M2)."""
    kind = _kind(type_)
    group = ", ".join(keys)
    hour = "partition_hour" if "partition_hour" in keys else "NULL"
    items = {
        "partition_date": "partition_date",
        "partition_hour": hour,
        "column": sql.literal(name),
        "kind": sql.literal(kind),
        "type": sql.literal(type_),
        "count": "coalesce(sum(n) FILTER (v IS NOT NULL), 0)",
        "nulls": "coalesce(sum(n) FILTER (v IS NULL), 0)",
        "sketch": f"min(hash(v), {SKETCH_SIZE}) FILTER (v IS NOT NULL)",
    }
    source = "pairs"
    if kind == "numeric":
        whole = "x IS NOT NULL" if type_ in _INTEGER else "isfinite(x) AND x = round(x)"
        items |= {
            "min": "min(x)",
            "max": "max(x)",
            "mean": "any_value(mean)",
            "m2": "sum(n * (x - mean) * (x - mean))",
            "whole": f"coalesce(sum(n) FILTER ({whole}), 0)",
        }
        bin_sql = "NULL"
        if edges is not None:
            low, high = edges
            scale = BINS / (high - low)
            bin_sql = (
                f"CASE WHEN x < {low!r} THEN 0 WHEN x > {high!r} OR isnan(x) THEN {BINS + 1} "
                f"ELSE 1 + least(CAST(floor((x - {low!r}) * {scale!r}) AS INTEGER), "
                f"{BINS - 1}) END"
            )
            cells = ", ".join(f"coalesce(sum(n) FILTER (b = {i}), 0)" for i in range(BINS + 2))
            items |= {"hist": f"[{cells}]", "lo": repr(low), "hi": repr(high)}
        source = (
            f"(SELECT p.*, m.mean, CASE WHEN p.x IS NULL THEN NULL ELSE {bin_sql} END AS b "
            f"FROM (SELECT *, CAST(v AS DOUBLE) AS x FROM pairs) AS p JOIN (SELECT {group}, "
            f"sum(n * CAST(v AS DOUBLE)) FILTER (v IS NOT NULL) / nullif(sum(n) FILTER "
            f"(v IS NOT NULL), 0) AS mean FROM pairs GROUP BY ALL) AS m USING ({group}))"
        )
    elif kind == "categorical" or _orderable(type_):
        items |= {"min_text": "CAST(min(v) AS VARCHAR)", "max_text": "CAST(max(v) AS VARCHAR)"}
    if kind == "categorical":
        text = "CAST(v AS VARCHAR)"
        ordered = f"ORDER BY n DESC, {text}"
        items |= {
            "values": f"list({text} {ordered}) FILTER (v IS NOT NULL)",
            "value_counts": f"list(n {ordered}) FILTER (v IS NOT NULL)",
        }
    select = ", ".join(
        f"CAST({items.get(column, 'NULL')} AS {type_sql}) AS {sql.ident(column)}"
        for column, type_sql in _ROW_TYPES.items()
        if column not in ("slot", "other")
    )
    keep = f'CASE WHEN len("values") <= {MAX_VALUES} THEN len("values") ELSE {TOP_VALUES} END'
    return (
        f"WITH pairs AS MATERIALIZED (SELECT {group}, {sql.ident(name)} AS v, count(*) AS n "
        f"FROM {scan} GROUP BY ALL) "
        f'SELECT * REPLACE ("values"[1:{keep}] AS "values", value_counts[1:{keep}] AS '
        f'value_counts), CAST(CASE WHEN "values" IS NULL THEN NULL ELSE count - '
        f"coalesce(list_sum(value_counts[1:{keep}]), 0) END AS BIGINT) AS other "
        f"FROM (SELECT {select} FROM {source} GROUP BY {group})"
    )


def _orderable(type_: str) -> bool:
    return not any(mark in type_ for mark in ("[", "STRUCT", "MAP", "UNION"))


# The statistics rows' columns and their types.
_ROW_TYPES = {
    "slot": "VARCHAR",
    "partition_date": "INTEGER",
    "partition_hour": "INTEGER",
    "column": "VARCHAR",
    "kind": "VARCHAR",
    "type": "VARCHAR",
    "count": "BIGINT",
    "nulls": "BIGINT",
    "min": "DOUBLE",
    "max": "DOUBLE",
    "min_text": "VARCHAR",
    "max_text": "VARCHAR",
    "mean": "DOUBLE",
    "m2": "DOUBLE",
    "whole": "BIGINT",
    "sketch": "UBIGINT[]",
    "hist": "BIGINT[]",
    "lo": "DOUBLE",
    "hi": "DOUBLE",
    "values": "VARCHAR[]",
    "value_counts": "BIGINT[]",
    "other": "BIGINT",
}


def _compute(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[str],
    keys: Sequence[str],
    columns: Sequence[tuple[str, str]],
    edges: Mapping[str, tuple[float, float]],
) -> pa.Table:
    """The statistics rows of every partition of ``files`` and feature of ``columns``,
    in one query; ``slot`` names each row's partition."""
    scan = _scan(files)
    parts = [_column_sql(scan, keys, name, type_, edges.get(name)) for name, type_ in columns]
    if not parts:  # no feature columns: only the partitions' rows
        hour = "partition_hour" if "partition_hour" in keys else "NULL"
        parts = [
            f"SELECT CAST(partition_date AS INTEGER) AS partition_date, CAST({hour} AS INTEGER)"
            f' AS partition_hour, CAST(NULL AS VARCHAR) AS "column", count(*) AS count, '
            f"CAST(0 AS BIGINT) AS nulls FROM {scan} GROUP BY ALL"
        ]
    query = " UNION ALL BY NAME ".join(f"({part})" for part in parts)
    slot = (
        "'partition_date=' || partition_date || CASE WHEN partition_hour IS NULL THEN '' "
        "ELSE '/partition_hour=' || partition_hour END"
    )
    return con.sql(
        f'SELECT {slot} AS slot, * FROM ({query}) ORDER BY partition_date, partition_hour, "column"'
    ).to_arrow_table()


def _rows_by_slot(rows: pa.Table) -> dict[str, int]:
    """A partition's rows: the count plus the nulls of any one of its features."""
    found: dict[str, int] = {}
    for slot, count, nulls in zip(
        rows.column("slot").to_pylist(),
        rows.column("count").to_pylist(),
        rows.column("nulls").to_pylist(),
        strict=True,
    ):
        found.setdefault(slot, int(count) + int(nulls))
    return found


def _quarantined_by_slot(
    con: duckdb.DuckDBPyConnection, relation: str, timestamp: str, rule: str, hourly: bool
) -> dict[str | None, dict[str, int]]:
    """Quarantined rows per partition key (``None``: no timestamp) and rule."""
    ts = f"TRY_CAST({sql.ident(timestamp)} AS TIMESTAMPTZ)"
    hour = f"hour({ts})" if hourly else "NULL"
    found: dict[str | None, dict[str, int]] = {}
    for day, hour_value, name, n in con.execute(
        f"SELECT CAST(strftime({ts}, '%Y%m%d') AS INTEGER), {hour}, {sql.ident(rule)}, "
        f"count(*) FROM {relation} GROUP BY ALL"
    ).fetchall():
        key = None if day is None else _slot_key(day, hour_value)
        found.setdefault(key, {})[str(name)] = int(n)
    return found


# -- the ingestion runner's hook ------------------------------------------------------


def record_partition_stats(
    project: Project,
    job: Job,
    run_id: str,
    version: Path,
    span: tuple[datetime, datetime],
    *,
    bad: pa.Table | None = None,
) -> Path:
    """Compute and store the statistics of the partitions a run just committed: those of
    ``version`` (the run's new version folder) that start in ``span``. ``bad`` holds the
    run's quarantined rows (with the job's timestamp column and ``__rule``). Returns the
    record's description file. Then removes the records nothing refers to any more.

    The runner calls it after the commit and logs, never raises, its failure: a missing
    record is computed by the reader.
    """
    layout = project.layout
    folder = layout.monitor_stats(job.name)
    slots = _slots(version)
    mine = {key: slot for key, slot in slots.items() if span[0] <= slot.start < span[1]}
    hourly = job.grain == "hour"
    keys = PARTITION_KEYS if hourly else PARTITION_KEYS[:1]
    con = sql.connect()
    try:
        files = [str(version / key / name) for key, slot in mine.items() for name, *_ in slot.files]
        if files:
            scan = _scan(files)
            columns = _features(con, scan, job)
            edges = _edges(con, folder, scan, columns, job, run_id)
            rows = _compute(con, files, keys, columns, edges)
        else:
            rows = _empty_rows()
        quarantined: dict[str | None, dict[str, int]] = {}
        if bad is not None and bad.num_rows:
            con.register("__stats_bad", bad)
            quarantined = _quarantined_by_slot(con, "__stats_bad", job.timestamp, "__rule", hourly)
    finally:
        con.close()
    good = _rows_by_slot(rows)
    entries: dict[str, dict[str, Any]] = {}
    for key in sorted({*mine, *(k for k in quarantined if k is not None)}):
        by_rule = quarantined.get(key, {})
        slot = mine.get(key)
        entries[key] = {
            "files": [list(f) for f in slot.files] if slot else [],
            "rows": good.get(key, 0),
            "quarantined": sum(by_rule.values()),
            "by_rule": by_rule,
        }
    unplaced = quarantined.get(None, {})
    meta = {
        "format": _FORMAT,
        "table": job.name,
        "run_id": run_id,
        "source": "run",
        "start": span[0].isoformat(),
        "end": span[1].isoformat(),
        "grain": job.grain,
        "slots": entries,
        "unplaced": {"quarantined": sum(unplaced.values()), "by_rule": unplaced},
        "written_at": datetime.now(UTC).isoformat(),
    }
    written = _write_record(folder, run_id, rows, meta)
    _prune(folder, slots, keep=run_id)
    return written


def _empty_rows() -> pa.Table:
    import pyarrow as pa

    return pa.table(
        {
            "slot": pa.array([], pa.string()),
            "count": pa.array([], pa.int64()),
            "nulls": pa.array([], pa.int64()),
        }
    )


def _prune(folder: Path, slots: Mapping[str, _Slot], keep: str) -> None:
    """Delete the records that describe no partition of the current version any more and
    that no partition's quarantine counts come from (and leftovers of killed writers)."""
    records = _read_records(folder)
    used = {record.name for record in _data_records(records, slots).values()}
    used |= {record.name for record in _quarantine_records(records, slots).values()}
    for record in records:
        if record.name not in used and record.name != keep:
            for suffix in (".json", ".parquet"):
                (folder / f"{record.name}{suffix}").unlink(missing_ok=True)
    complete = {record.name for record in records}
    now = time.time()
    for path in folder.iterdir():
        orphan = path.suffix == ".parquet" and path.stem not in complete
        if (
            orphan or path.name.endswith(".tmp")
        ) and now - path.stat().st_mtime > _STALE_TMP_SECONDS:
            path.unlink(missing_ok=True)


def _data_records(records: Sequence[_Record], slots: Mapping[str, _Slot]) -> dict[str, _Record]:
    """Per partition of the version, the newest record of exactly its files."""
    found: dict[str, _Record] = {}
    for record in records:  # oldest first: the newest match wins
        for key in record.slots.keys() & slots.keys():
            if record.matches(slots[key]):
                found[key] = record
    return found


def _quarantine_records(
    records: Sequence[_Record], slots: Mapping[str, _Slot]
) -> dict[str, _Record]:
    """Per partition key, the run record its quarantine counts come from: the run that
    wrote its current files, or, for a partition whose rows were all quarantined (no
    files), the newest run whose window covers it, if that run says so."""
    runs = [record for record in records if record.source == "run"]
    found = {key: r for key, r in _data_records(runs, slots).items()}
    fileless = {key for record in runs for key in record.slots if key not in slots}
    for key in fileless:
        start = _slot_start(key)
        newest = next((r for r in reversed(runs) if r.covers(start)), None)
        entry = newest.slots.get(key) if newest is not None else None
        if newest is not None and entry is not None and entry["rows"] == 0:
            found[key] = newest
    return found


# -- reading a window -----------------------------------------------------------------


@dataclass
class _Window:
    """The current version's partitions in a window, and what describes them."""

    table: str
    version: Path
    slots: dict[str, _Slot]  # every partition of the version
    selected: list[str]  # the keys of those in the window, in time order
    records: list[_Record]
    job: Job | None


def _open_window(project: Project, table: str, start: object, end: object) -> _Window:
    layout = project.layout
    version = _current_version(layout, table)
    if version is None:
        raise UnknownFeatureTableError(table, list(layout.feature_tables()))
    low, high = _bound(start, "start"), _bound(end, "end")
    slots = _slots(version)
    selected = sorted(
        (
            key
            for key, slot in slots.items()
            if (low is None or slot.start >= low) and (high is None or slot.start < high)
        ),
        key=_slot_start,
    )
    return _Window(
        table,
        version,
        slots,
        selected,
        _read_records(layout.monitor_stats(table)),
        _find_job(project, table),
    )


def _bound(value: object, name: str) -> datetime | None:
    """A window bound: a datetime (naive is UTC), a date or an ISO string, or None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidRequestError(f"{name} {value!r} is not an ISO date or time") from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise TypeError(f"{name} must be a datetime, date or ISO string, not {type(value).__name__}")


def _find_job(project: Project, table: str) -> Job | None:
    from featurestore.errors import JobDefinitionError
    from featurestore.job_spec import parse_job

    path = project.jobs_dir / f"{table}.sql"
    try:
        return parse_job(path) if path.is_file() else None
    except JobDefinitionError:
        return None


def _window_rows(project: Project, window: _Window) -> pa.Table | None:
    """The statistics rows of the window's partitions: from the records that match, and
    computed (then cached) for the others."""
    import pyarrow as pa

    folder = project.layout.monitor_stats(window.table)
    matched = _data_records(window.records, window.slots)
    wanted: dict[str, set[str]] = {}
    missing = []
    for key in window.selected:
        if key in matched:
            wanted.setdefault(matched[key].name, set()).add(key)
        else:
            missing.append(key)
    tables = []
    try:
        tables = _read_rows(folder, wanted)
    except (OSError, pa.ArrowException):
        logger.warning("statistics of %s unreadable; computing them again", window.table)
        missing = list(window.selected)
        tables = []
    if missing:
        tables.append(_recompute(project, window, missing))
    tables = [t.select([c for c in t.column_names if c in _ROW_TYPES]) for t in tables]
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


def _recompute(project: Project, window: _Window, keys: Sequence[str]) -> pa.Table:
    """Compute the statistics of partitions no record describes, and cache them."""
    folder = project.layout.monitor_stats(window.table)
    slots = [window.slots[key] for key in keys]
    files = [str(window.version / s.key / name) for s in slots for name, *_ in s.files]
    hourly = any("partition_hour=" in key for key in keys)
    con = sql.connect()
    try:
        scan = _scan(files)
        columns = _features(con, scan, window.job)
        name = f"recomputed-{window.version.name}-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
        edges = _edges(con, folder, scan, columns, window.job, name)
        rows = _compute(
            con, files, PARTITION_KEYS if hourly else PARTITION_KEYS[:1], columns, edges
        )
    finally:
        con.close()
    good = _rows_by_slot(rows)
    meta = {
        "format": _FORMAT,
        "table": window.table,
        "run_id": name,
        "source": "recomputed",
        "slots": {
            s.key: {"files": [list(f) for f in s.files], "rows": good.get(s.key, 0)} for s in slots
        },
        "written_at": datetime.now(UTC).isoformat(),
    }
    try:
        _write_record(folder, name, rows, meta)
    except OSError as exc:  # a read-only data folder: the statistics are still right
        logger.warning("could not cache statistics of %s: %s", window.table, exc)
    return rows


def window_stats(
    project: Project,
    table: str,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    *,
    top: int = 10,
) -> list[FeatureStats]:
    """Every feature's statistics over the partitions of ``table``'s current version that
    start in ``[start, end)`` (either may be open), merged from their stored statistics
    without reading the table (partitions without any are computed once and cached).

    Count, nulls, min, max, mean, std (the sample standard deviation, n - 1), histogram
    and whole-number share are exact; distinct is exact up to 1,024 values, an estimate
    beyond; ``top`` value counts are exact unless some partition had more than 1,000
    distinct values (it kept only its 100 most frequent). The quantiles are interpolated
    linearly within the merged histogram's bins, so they are as fine as its 20 bins,
    clamped to [min, max]. An empty window gives an empty list; an unknown table raises
    ``UnknownFeatureTableError`` naming the known ones.
    """
    window = _open_window(project, table, start, end)
    if not window.selected:
        return []
    rows = _window_rows(project, window)
    if rows is None:
        return []
    return _merge(table, rows, window.job, top)


def quarantine_rates(
    project: Project,
    table: str,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
) -> list[QuarantinePoint]:
    """Per partition starting in ``[start, end)``, in time order: the rows its run read
    (good plus quarantined), the rows it quarantined (by rule) and their share.

    A partition whose every row was quarantined has no files but still has a point (rate
    1.0). The counts come from the run records; for partitions no run recorded (see
    ``QuarantinePoint.recorded``) from the partition's rows and the quarantine file of
    the current version's run.
    """
    window = _open_window(project, table, start, end)
    low, high = _bound(start, "start"), _bound(end, "end")
    authority = _quarantine_records(window.records, window.slots)
    keys = set(window.selected)
    keys |= {key for key in authority if key not in window.slots and _within(key, low, high)}
    unrecorded = [key for key in keys if key not in authority]
    extra = _unrecorded_quarantine(project, window) if unrecorded else {}
    good = _unrecorded_rows(project, window, unrecorded) if unrecorded else {}
    points = []
    for key in sorted(keys, key=_slot_start):
        slot_start = _slot_start(key)
        slot_end = slot_start + (timedelta(hours=1) if "partition_hour=" in key else _DAY)
        record = authority.get(key)
        if record is not None:
            entry = record.slots[key]
            rows, by_rule, run_id = int(entry["rows"]), dict(entry["by_rule"]), record.run_id
        else:
            rows, by_rule, run_id = good.get(key, 0), extra.get(key, {}), None
        quarantined = sum(by_rule.values())
        rows_in = rows + quarantined
        points.append(
            QuarantinePoint(
                start=slot_start,
                end=slot_end,
                rows_in=rows_in,
                quarantined=quarantined,
                rate=quarantined / rows_in if rows_in else None,
                by_rule=by_rule,
                run_id=run_id,
                recorded=record is not None,
            )
        )
    return points


def _within(key: str, low: datetime | None, high: datetime | None) -> bool:
    start = _slot_start(key)
    return (low is None or start >= low) and (high is None or start < high)


def _unrecorded_rows(project: Project, window: _Window, keys: Sequence[str]) -> dict[str, int]:
    """The rows of partitions no run recorded, from their statistics (computed if need be)."""
    present = [key for key in keys if key in window.slots]
    if not present:
        return {}
    sub = _Window(window.table, window.version, window.slots, present, window.records, window.job)
    rows = _window_rows(project, sub)
    return _rows_by_slot(rows) if rows is not None else {}


def _unrecorded_quarantine(project: Project, window: _Window) -> dict[str, dict[str, int]]:
    """Quarantined rows by partition and rule in the current version's quarantine file,
    when the run that wrote that version left no record."""
    run_id = window.version.name
    if window.job is None or any(r.run_id == run_id for r in window.records):
        return {}
    path = project.layout.quarantine(window.table) / f"{run_id}.parquet"
    if not path.is_file():
        return {}
    con = sql.connect()
    try:
        relation = f"read_parquet({sql.path_literal(path)})"
        found = _quarantined_by_slot(
            con, relation, window.job.timestamp, "_rule", window.job.grain == "hour"
        )
    finally:
        con.close()
    return {key: rules for key, rules in found.items() if key is not None}


# -- merging --------------------------------------------------------------------------


def _merge(table: str, rows: pa.Table, job: Job | None, top: int) -> list[FeatureStats]:
    """One ``FeatureStats`` per feature from the rows of its partitions."""
    import pyarrow.compute as pc

    rows = rows.filter(pc.is_valid(rows.column("column")))
    names = list(dict.fromkeys(rows.column("column").to_pylist()))
    if job is not None and job.columns:
        order = {c.name: i for i, c in enumerate(job.columns)}
        names.sort(key=lambda n: order.get(n, len(order)))
    return [
        _merge_column(table, name, rows.filter(pc.equal(rows.column("column"), name)), top)
        for name in names
    ]


def _merge_column(table: str, name: str, rows: pa.Table, top: int) -> FeatureStats:
    import numpy as np
    import pyarrow.compute as pc

    rows = rows.sort_by([("partition_date", "ascending"), ("partition_hour", "ascending")])
    kind = rows.column("kind")[-1].as_py()
    type_ = rows.column("type")[-1].as_py()
    count = int(pc.sum(rows.column("count")).as_py() or 0)
    nulls = int(pc.sum(rows.column("nulls")).as_py() or 0)
    partitions = rows.num_rows
    same = rows.filter(pc.equal(rows.column("kind"), kind))
    distinct, exact = _merge_sketch(same.column("sketch"))
    common: dict[str, Any] = {
        "table": table,
        "column": name,
        "type": type_,
        "count": count,
        "nulls": nulls,
        "distinct": distinct,
        "distinct_exact": exact,
        "kind": kind,
        "partitions": partitions,
    }
    if kind == "numeric":
        n = np.asarray(same.column("count").to_numpy(zero_copy_only=False), dtype=np.float64)
        some = n > 0
        means = np.asarray(same.column("mean").to_numpy(zero_copy_only=False), dtype=np.float64)
        m2s = np.asarray(same.column("m2").to_numpy(zero_copy_only=False), dtype=np.float64)
        total = float(n[some].sum())
        mean = std = None
        if total > 0:
            mean = float((n[some] * means[some]).sum() / total)
            m2 = float(m2s[some].sum() + (n[some] * (means[some] - mean) ** 2).sum())
            std = math.sqrt(max(m2, 0.0) / (total - 1)) if total > 1 else None
        low, high = pc.min(same.column("min")).as_py(), pc.max(same.column("max")).as_py()
        whole = int(pc.sum(same.column("whole")).as_py() or 0)
        histogram = _merge_histogram(same, nulls)
        quantiles = {}
        if histogram is not None and low is not None and high is not None:
            quantiles = _quantiles(histogram, low, high)
        return FeatureStats(
            **common,
            min=low,
            max=high,
            mean=mean,
            std=std,
            quantiles=quantiles,
            histogram=histogram,
            whole_numbers=whole,
            whole_share=whole / count if count else None,
        )
    low_text = pc.min(same.column("min_text")).as_py()
    high_text = pc.max(same.column("max_text")).as_py()
    if kind != "categorical":
        return FeatureStats(**common, min=low_text, max=high_text)
    counts: dict[str, int] = {}
    other = 0
    for values, value_counts, rest in zip(
        same.column("values").to_pylist(),
        same.column("value_counts").to_pylist(),
        same.column("other").to_pylist(),
        strict=True,
    ):
        for value, n_value in zip(values or (), value_counts or (), strict=True):
            counts[value] = counts.get(value, 0) + int(n_value)
        other += int(rest or 0)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ranked[:top]
    labels = tuple(value for value, _ in ranked)
    return FeatureStats(
        **common,
        min=low_text,
        max=high_text,
        top=shown,
        other=count - sum(n_value for _, n_value in shown),
        histogram=Histogram(tuple(c for _, c in ranked), labels=labels, nulls=nulls)
        if ranked
        else None,
    )


def _merge_sketch(column: pa.ChunkedArray) -> tuple[int | None, bool]:
    """The distinct count from the union of the partitions' KMV sketches."""
    import numpy as np
    import pyarrow as pa

    flat = pa.chunked_array([chunk.flatten() for chunk in column.chunks], pa.uint64()).to_numpy()
    smallest = np.unique(flat)[:SKETCH_SIZE]
    if len(smallest) < SKETCH_SIZE:
        return len(smallest), True
    return round((SKETCH_SIZE - 1) * 2.0**64 / (float(smallest[-1]) + 1.0)), False


def _merge_histogram(rows: pa.Table, nulls: int) -> Histogram | None:
    """The partitions' histograms added up, over the edges they share (the table's)."""
    import numpy as np
    import pyarrow.compute as pc

    with_hist = rows.filter(pc.is_valid(rows.column("hist")))
    if with_hist.num_rows == 0:
        return None
    low, high = with_hist.column("lo")[-1].as_py(), with_hist.column("hi")[-1].as_py()
    same = with_hist.filter(
        pc.and_(pc.equal(with_hist.column("lo"), low), pc.equal(with_hist.column("hi"), high))
    )
    cells = np.asarray(
        pc.list_flatten(same.column("hist")).to_numpy(zero_copy_only=False), dtype=np.int64
    ).reshape(-1, BINS + 2)
    width = (high - low) / BINS
    inner = [low + i * width for i in range(BINS)] + [high]
    edges = (-math.inf, *inner, math.inf)
    return Histogram(tuple(int(c) for c in cells.sum(axis=0)), edges=edges, nulls=nulls)


def _quantiles(histogram: Histogram, low: float, high: float) -> dict[float, float]:
    """Quantiles interpolated linearly within the bins; the outer bins span from the
    minimum to the first edge and from the last edge to the maximum."""
    total = histogram.total
    if total == 0 or histogram.edges is None:
        return {}
    edges = list(histogram.edges)
    edges[0], edges[-1] = min(low, edges[1]), max(high, edges[-2])
    found = {}
    for q in QUANTILES:
        target, seen = q * total, 0.0
        for i, count in enumerate(histogram.counts):
            if count and seen + count >= target:
                share = (target - seen) / count
                value = edges[i] + share * (edges[i + 1] - edges[i])
                found[q] = min(max(value, low), high)
                break
            seen += count
    return found
