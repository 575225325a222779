"""Statistics per feature per partition, recorded by each ingestion run, merged per window.

While a job's run streams its rows to the partition writer (``ingestion.runner``),
``RunStats`` computes, batch by batch with one DuckDB query over the rows already in
memory, per partition and per feature (the columns that are neither entity keys nor the
timestamp): count, nulls, min, max, mean and M2 (the sum of squared deviations), the
whole values (v = round(v): a float column turned int upstream), the k = 1024 smallest
distinct value hashes (a KMV sketch), a histogram (numeric) and value counts (strings,
booleans: all of them up to 1,000 distinct values, else the 100 most frequent and the
rest as ``other``). Right after the commit it writes them into ``data/monitor/stats/<table>/``::

    <run id>.parquet   one row per partition and feature
    <run id>.json      what the rows describe, written last: the run's window and, per
                       partition, its files (name, inode, size, mtime), its good rows and
                       the rows the run quarantined there, by rule
    edges.json         each numeric feature's histogram edges, fixed when the feature is
                       first seen: 20 equal bins between the header's ``min`` and ``max``,
                       else the extremes of that first run's values, plus a bin below and
                       one above; never changed, so every partition's bins add up

Merging is exact, so a window's statistics never re-scan the table: counts, nulls, whole
values and histogram bins add up; min and max are the extremes; means and M2 combine by
Chan's formula (the total M2 is the partitions' M2 plus each one's count times its
squared distance to the overall mean); the k smallest distinct hashes of a union are the
k smallest of the parts' k smallest, so the merged sketch is the sketch a full scan
gives: the distinct count is exact up to k, beyond it an estimate (k - 1) * 2^64 / h_k
with a relative error near 1 / sqrt(k) = 3%.

A record is current for a partition while the partition's files in the table's current
version are the files it describes: a later run of that window writes new files, while
partitions outside a run's window are hard links (same inode) in the new version.
Partitions no record matches (a table written before statistics existed, a crash between
the commit and the record, ``FEATURESTORE_MONITOR_STATS=0``) are computed from their files
by the reader when first asked for, and cached as ``recomputed-...``. So is a run's whole
record when a numeric feature has no edges yet (its first values decide them). The
monitor writes only this folder, never a feature table.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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
_FORMAT = 1
_CHUNK_BYTES = 64 << 20  # partition files read at a time when computing from files
_STREAM_ROWS = 1 << 20  # streamed rows computed at a time
_STALE_SECONDS = 3600  # leftovers of a killed writer older than this are removed
_MAX_HASH = 2**64 - 1
_DAY, _HOUR = timedelta(days=1), timedelta(hours=1)
_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
_INTEGER |= {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
_ROW_TYPES = {
    "slot": "VARCHAR", "partition_date": "INTEGER", "partition_hour": "INTEGER",
    "column": "VARCHAR", "kind": "VARCHAR", "type": "VARCHAR", "count": "BIGINT",
    "nulls": "BIGINT", "min": "DOUBLE", "max": "DOUBLE", "min_text": "VARCHAR",
    "max_text": "VARCHAR", "mean": "DOUBLE", "m2": "DOUBLE", "whole": "BIGINT",
    "sketch": "UBIGINT[]", "hist": "BIGINT[]", "lo": "DOUBLE", "hi": "DOUBLE",
    "values": "VARCHAR[]", "value_counts": "BIGINT[]", "other": "BIGINT",
}  # fmt: skip


class UnknownFeatureTableError(UnknownObjectError):
    """A table no run has written yet; the message names the tables that have data."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__("feature table", name)
        self.known = sorted(known)
        listed = ", ".join(self.known) or "none yet (featurestore ingest run writes them)"
        self.args = (f"unknown feature table {name!r}; feature tables with data: {listed}",)


def stats_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ingestion runs record statistics: yes unless ``FEATURESTORE_MONITOR_STATS``
    is ``0``, ``false``, ``no`` or ``off``."""
    value = (os.environ if environ is None else environ).get(SWITCH, "1")
    return value.strip().lower() not in ("0", "false", "no", "off")


def _kind(type_: str) -> str:
    if type_ in _INTEGER or type_ in ("FLOAT", "DOUBLE") or type_.startswith("DECIMAL"):
        return "numeric"
    return "categorical" if type_ in ("VARCHAR", "BOOLEAN") else "other"


# -- the statistics of the rows of a relation, per partition and feature ----------------
#
# Over an in-memory table of the rows (a run's ~1M rows, or a chunk of partition files):
# one wide query gives every number and string feature's moments per partition, then
# one small query per feature gives its histogram (group by bin), its sketch (distinct
# hashes) or its value counts (group by value). Each is one pass over one or two
# columns; the number of DuckDB operators, whose fixed cost dominates at these sizes,
# stays low.


def _stats_of(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    keys: Sequence[str],
    columns: Sequence[tuple[str, str]],
    edges: Mapping[str, tuple[float, float]],
    *,
    dates: bool = False,
) -> pa.Table:
    """The statistics rows of every partition of ``rows`` (a table with the partition
    keys and the features) and feature of ``columns``, in partition order.
    ``partition_date`` is a yyyymmdd number, or with ``dates`` a DATE (cheaper to make
    from a timestamp: only each partition's is formatted)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    group = ", ".join(keys)
    hour = "partition_hour" if "partition_hour" in keys else "0"
    day = "date_diff('day', DATE '1970-01-01', partition_date)" if dates else "partition_date"
    key = f"(CAST({day} AS BIGINT) * 100 + {hour})"  # one number per partition
    plain = [(n, t) for n, t in columns if _kind(t) != "categorical"]
    items = ["count(*) AS __rows"]
    for i, (name, type_) in enumerate(plain):
        v, x = sql.ident(name), f"CAST({sql.ident(name)} AS DOUBLE)"
        items += [f"count({v}) AS c{i}", f"approx_count_distinct({v}) AS a{i}"]
        if _kind(type_) == "numeric":
            whole = (
                f"{v} IS NOT NULL" if type_ in _INTEGER else f"isfinite({x}) AND {x} = round({x})"
            )
            items += [f"min({x}) AS lo{i}", f"max({x}) AS hi{i}", f"avg({x}) AS me{i}"]
            items += [f"var_pop({x}) * count({v}) AS m{i}", f"count_if({whole}) AS w{i}"]
        else:
            items += [f"CAST(min({v}) AS VARCHAR) AS lo{i}", f"CAST(max({v}) AS VARCHAR) AS hi{i}"]
    yyyymmdd = "CAST(strftime(partition_date, '%Y%m%d') AS INTEGER)" if dates else "partition_date"
    wide = con.sql(
        f"SELECT * REPLACE ({yyyymmdd} AS partition_date) FROM (SELECT {group}, {key} AS __k, "
        f"{', '.join(items)} FROM {rows} GROUP BY ALL) ORDER BY __k"
    ).to_arrow_table()
    order = wide.column("__k")
    base = {
        "partition_date": wide.column("partition_date").cast(pa.int32()),
        "partition_hour": wide.column("partition_hour").cast(pa.int32())
        if "partition_hour" in keys
        else pa.nulls(wide.num_rows, pa.int32()),
    }
    total = wide.column("__rows")
    parts = []
    if not columns:  # no features: only the partitions' rows
        parts.append(_typed({**base, "count": total, "nulls": 0}, wide.num_rows))
    for i, (name, type_) in enumerate(plain):
        count = wide.column(f"c{i}")
        row = {**base, "column": name, "kind": _kind(type_), "type": type_, "count": count,
               "nulls": pc.subtract(total, count)}  # fmt: skip
        if _kind(type_) == "numeric":
            row |= {"min": wide.column(f"lo{i}"), "max": wide.column(f"hi{i}"),
                    "mean": wide.column(f"me{i}"), "m2": wide.column(f"m{i}"),
                    "whole": wide.column(f"w{i}")}  # fmt: skip
            if name in edges:
                row |= _histograms(con, rows, key, name, edges[name], order)
        else:
            row |= {"min_text": wide.column(f"lo{i}"), "max_text": wide.column(f"hi{i}")}
        approx = wide.column(f"a{i}").to_pylist()
        row["sketch"] = _sketches(con, rows, key, name, approx, order)
        parts.append(_typed(row, wide.num_rows))
    for name, type_ in columns:
        if _kind(type_) == "categorical":
            counted = _value_counts(con, rows, key, name, order)
            row = {**base, "column": name, "kind": "categorical", "type": type_, **counted}
            parts.append(_typed(row, wide.num_rows))
    table = pa.concat_tables(parts, promote_options="permissive")
    hours = pc.binary_join_element_wise(
        "/partition_hour=", table.column("partition_hour").cast(pa.string()), ""
    )
    slot = pc.binary_join_element_wise(
        "partition_date=",
        table.column("partition_date").cast(pa.string()),
        pc.if_else(table.column("partition_hour").is_null(), "", hours),
        "",
    )
    table = table.add_column(0, "slot", slot)
    return table.sort_by([("partition_date", "ascending"), ("partition_hour", "ascending"),
                          ("column", "ascending")]).select(list(_ROW_TYPES))  # fmt: skip


def _typed(row: Mapping[str, Any], length: int) -> pa.Table:
    """A statistics table from columns and scalars, every row column in its type."""
    import pyarrow as pa

    types = {c: t for c, t in _arrow_types().items() if c != "slot"}
    columns = {}
    for name, arrow_type in types.items():
        value = row.get(name)
        if isinstance(value, pa.ChunkedArray | pa.Array):
            columns[name] = value.cast(arrow_type)
        else:
            columns[name] = pa.array([value] * length, arrow_type)
    return pa.table(columns)


def _aligned(result: pa.Table, column: str, order: pa.ChunkedArray) -> pa.ChunkedArray:
    """``result``'s ``column`` in the partition order of ``order`` (null where absent)."""
    import pyarrow.compute as pc

    positions = pc.index_in(order, value_set=result.column("__k"))
    return result.column(column).take(positions)


def _histograms(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    key: str,
    name: str,
    edges: tuple[float, float],
    order: pa.ChunkedArray,
) -> dict[str, Any]:
    """22 bins per partition: below ``lo``, 20 equal ones up to ``hi`` (the last holds
    ``hi``), above ``hi`` (and NaN)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    low, high = edges
    x = f"CAST({sql.ident(name)} AS DOUBLE)"
    bin_sql = (
        f"CASE WHEN {x} < {low!r} THEN 0 WHEN {x} > {high!r} OR isnan({x}) THEN {BINS + 1} "
        f"ELSE 1 + least(CAST(floor(({x} - {low!r}) * {BINS / (high - low)!r}) AS INTEGER), "
        f"{BINS - 1}) END"
    )
    cells = ", ".join(f"coalesce(sum(n) FILTER (b = {i}), 0)" for i in range(BINS + 2))
    result = con.sql(
        f"SELECT __k, CAST([{cells}] AS BIGINT[]) AS hist FROM (SELECT {key} AS __k, "
        f"{bin_sql} AS b, count(*) AS n FROM {rows} WHERE {sql.ident(name)} IS NOT NULL "
        "GROUP BY ALL) GROUP BY __k"
    ).to_arrow_table()
    hist = _aligned(result, "hist", order)
    empty = pa.array([[0] * (BINS + 2)] * len(order), pa.list_(pa.int64()))
    return {"hist": pc.if_else(hist.is_null(), empty, hist), "lo": low, "hi": high}


def _sketches(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    key: str,
    name: str,
    approx: Sequence[int | None],
    order: pa.ChunkedArray,
) -> pa.ChunkedArray:
    """Per partition the k smallest distinct hashes of the values. When every partition
    has many distinct values (by the estimate), only hashes below a threshold that
    keeps about 4k of them in the smallest one are deduplicated; a partition where that
    kept fewer than k (the estimate was far off: practically never) is done again."""
    v = sql.ident(name)
    fewest = min((a for a in approx if a), default=0)
    limit = 4 * SKETCH_SIZE
    threshold = _MAX_HASH if fewest <= limit else int(_MAX_HASH * (limit / fewest))
    where = f"{v} IS NOT NULL" + (f" AND hash({v}) <= {threshold}" if threshold < _MAX_HASH else "")

    def run(condition: str) -> pa.Table:
        return con.sql(
            f"SELECT __k, min(h, {SKETCH_SIZE}) AS sketch FROM (SELECT DISTINCT {key} AS __k, "
            f"hash({v}) AS h FROM {rows} WHERE {condition}) GROUP BY __k"
        ).to_arrow_table()

    result = run(where)
    if threshold < _MAX_HASH:
        import pyarrow as pa
        import pyarrow.compute as pc

        short = result.filter(pc.less(pc.list_value_length(result.column("sketch")), SKETCH_SIZE))
        if short.num_rows:
            listed = ", ".join(str(k) for k in short.column("__k").to_pylist())
            redone = run(f"{v} IS NOT NULL AND {key} IN ({listed})")
            kept = result.filter(pc.invert(pc.is_in(result.column("__k"), redone.column("__k"))))
            result = pa.concat_tables([kept, redone])
    return _aligned(result, "sketch", order)


def _value_counts(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    key: str,
    name: str,
    order: pa.ChunkedArray,
) -> dict[str, Any]:
    """A string or boolean feature's numbers per partition, from its (value, count) pairs."""
    text, ranked = "CAST(v AS VARCHAR)", "ORDER BY n DESC, CAST(v AS VARCHAR)"
    keep = f"CASE WHEN len(l) <= {MAX_VALUES} THEN len(l) ELSE {TOP_VALUES} END"
    result = con.sql(
        f'SELECT *, l[1:{keep}] AS "values", c[1:{keep}] AS value_counts, '
        f"CASE WHEN l IS NULL THEN NULL ELSE count - coalesce(list_sum(c[1:{keep}]), 0) "
        f"END AS other FROM (SELECT __k, CAST(coalesce(sum(n) FILTER (v IS NOT NULL), 0) AS "
        f"BIGINT) AS count, CAST(coalesce(sum(n) FILTER (v IS NULL), 0) AS BIGINT) AS nulls, "
        f"min({text}) AS min_text, "
        f"max({text}) AS max_text, min(hash(v), {SKETCH_SIZE}) FILTER (v IS NOT NULL) AS "
        f"sketch, list({text} {ranked}) FILTER (v IS NOT NULL) AS l, list(n {ranked}) "
        f"FILTER (v IS NOT NULL) AS c FROM (SELECT {key} AS __k, {sql.ident(name)} AS v, "
        f"count(*) AS n FROM {rows} GROUP BY ALL) GROUP BY __k)"
    ).to_arrow_table()
    names = ("count", "nulls", "min_text", "max_text", "sketch", "values", "value_counts", "other")
    return {c: _aligned(result, c, order) for c in names}


def _arrow_types() -> dict[str, pa.DataType]:
    """The statistics rows' Arrow types."""
    import pyarrow as pa

    scalar = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "BIGINT": pa.int64(),
              "DOUBLE": pa.float64()}  # fmt: skip
    lists = {"UBIGINT[]": pa.list_(pa.uint64()), "BIGINT[]": pa.list_(pa.int64()),
             "VARCHAR[]": pa.list_(pa.string())}  # fmt: skip
    return {c: {**scalar, **lists}[t] for c, t in _ROW_TYPES.items()}


# -- combining rows: partials of one partition, or the partitions of a window ------------


def _combine(rows: pa.Table, *, truncate: bool) -> dict[str, Any]:
    """One row from several rows of the same feature (newest last): the partials of one
    partition (``truncate``: its value counts kept as a partition keeps them) or all the
    partitions of a window."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    last = rows.slice(rows.num_rows - 1).to_pylist()[0]
    kind = last["kind"]
    same = rows.filter(pc.equal(rows.column("kind"), kind))
    out: dict[str, Any] = {c: last.get(c) for c in ("slot", "partition_date", "partition_hour",
                                                    "column", "kind", "type")}  # fmt: skip
    out |= {"count": int(pc.sum(rows.column("count")).as_py() or 0),
            "nulls": int(pc.sum(rows.column("nulls")).as_py() or 0)}  # fmt: skip
    hashes = pc.list_flatten(same.column("sketch")).to_numpy(zero_copy_only=False)
    out["sketch"] = [int(h) for h in np.unique(hashes.astype(np.uint64))[:SKETCH_SIZE]]
    if kind == "numeric":
        n = _floats(same, "count")
        some = n > 0
        total = float(n[some].sum())
        means, m2s = _floats(same, "mean")[some], _floats(same, "m2")[some]
        mean = float((n[some] * means).sum() / total) if total else None
        m2 = float(m2s.sum() + (n[some] * (means - mean) ** 2).sum()) if mean is not None else None
        out |= {
            "min": pc.min(same.column("min")).as_py(),
            "max": pc.max(same.column("max")).as_py(),
            "mean": mean,
            "m2": m2,
            "whole": int(pc.sum(same.column("whole")).as_py() or 0),
        }
        edges = (last["lo"], last["hi"])
        binned = same.filter(pc.is_valid(same.column("hist")))
        if edges[0] is not None:  # the table's edges: partitions binned otherwise are left out
            binned = binned.filter(pc.and_(pc.equal(binned.column("lo"), edges[0]),
                                           pc.equal(binned.column("hi"), edges[1])))  # fmt: skip
        if edges[0] is not None and binned.num_rows:
            cells = pc.list_flatten(binned.column("hist")).to_numpy(zero_copy_only=False)
            out |= {"hist": [int(c) for c in cells.reshape(-1, BINS + 2).sum(axis=0)],
                    "lo": edges[0], "hi": edges[1]}  # fmt: skip
    elif kind == "categorical":
        out |= {"min_text": pc.min(same.column("min_text")).as_py(),
                "max_text": pc.max(same.column("max_text")).as_py()}  # fmt: skip
        pairs = pa.table({"v": pc.list_flatten(same.column("values")),
                          "n": pc.list_flatten(same.column("value_counts"))})  # fmt: skip
        merged = pairs.group_by("v").aggregate([("n", "sum")]).sort_by(
            [("n_sum", "descending"), ("v", "ascending")])  # fmt: skip
        values, counts = merged.column("v").to_pylist(), merged.column("n_sum").to_pylist()
        other = int(pc.sum(same.column("other")).as_py() or 0)
        if truncate and len(values) > MAX_VALUES:
            other += sum(counts[TOP_VALUES:])
            values, counts = values[:TOP_VALUES], counts[:TOP_VALUES]
        out |= {"values": values, "value_counts": counts, "other": other}
    else:
        out |= {"min_text": pc.min(same.column("min_text")).as_py(),
                "max_text": pc.max(same.column("max_text")).as_py()}  # fmt: skip
    return out


def _floats(table: pa.Table, column: str) -> Any:
    import numpy as np

    return np.asarray(table.column(column).to_numpy(zero_copy_only=False), dtype=np.float64)


def _combine_partials(parts: Sequence[pa.Table]) -> pa.Table:
    """The batches' rows with the partitions split between batches combined."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.concat_tables(parts)
    key = pc.binary_join_element_wise(table.column("slot"), pc.fill_null(table.column(
        "column"), ""), "\x00")  # fmt: skip
    table = table.append_column("__key", key)
    counts = table.group_by("__key").aggregate([("__key", "count")])
    split = counts.filter(pc.greater(counts.column("__key_count"), 1)).column("__key")
    if len(split) == 0:
        return table.drop_columns(["__key"])
    whole = table.filter(pc.invert(pc.is_in(table.column("__key"), split)))
    combined = [_combine(table.filter(pc.equal(table.column("__key"), k)), truncate=True)
                for k in split.to_pylist()]  # fmt: skip
    schema = whole.drop_columns(["__key"]).schema
    merged = pa.concat_tables([whole.drop_columns(["__key"]),
                               pa.Table.from_pylist(combined, schema=schema)])  # fmt: skip
    return merged.sort_by([("partition_date", "ascending"), ("partition_hour", "ascending"),
                           ("column", "ascending")])  # fmt: skip


# -- the partitions on disk and the records ---------------------------------------------


@dataclass(frozen=True)
class _Slot:
    """One partition of a version: its folder relative to the version, and its files."""

    key: str  # partition_date=20130101[/partition_hour=5]
    files: tuple[tuple[str, int, int, int], ...]  # name, inode, size, mtime_ns

    @property
    def start(self) -> datetime:
        return _slot_start(self.key)


@dataclass(frozen=True)
class _Record:
    """A record: a run's statistics (``source`` run) or the reader's (recomputed)."""

    name: str
    run_id: str
    source: str
    start: datetime | None  # a run's window
    end: datetime | None
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)

    def matches(self, slot: _Slot) -> bool:
        entry = self.slots.get(slot.key)
        return entry is not None and tuple(map(tuple, entry["files"])) == slot.files

    def covers(self, start: datetime) -> bool:
        return self.start is not None and self.end is not None and self.start <= start < self.end


def _slot_start(key: str) -> datetime:
    values = dict(part.split("=", 1) for part in key.split("/"))
    day = datetime.strptime(values["partition_date"], "%Y%m%d").replace(tzinfo=UTC)
    return day.replace(hour=int(values.get("partition_hour", 0)))


def _slot_end(key: str) -> datetime:
    return _slot_start(key) + (_HOUR if "partition_hour=" in key else _DAY)


def _slot_key(partition_date: int, partition_hour: int | None) -> str:
    key = f"partition_date={partition_date}"
    return key if partition_hour is None else f"{key}/partition_hour={partition_hour}"


def _current_version(layout: DataLayout, table: str) -> Path | None:
    link = layout.table(table)
    target = link.resolve() if link.is_symlink() else None
    return target if target is not None and target.is_dir() else None


def _slots(version: Path) -> dict[str, _Slot]:
    """Every partition of a version that holds files, by key."""
    found: dict[str, _Slot] = {}
    for folder, _dirs, files in os.walk(version):
        names = sorted(name for name in files if name.endswith(".parquet"))
        if names:
            key = Path(folder).relative_to(version).as_posix()
            infos = [os.stat(os.path.join(folder, name)) for name in names]
            identity = (
                (n, i.st_ino, i.st_size, i.st_mtime_ns) for n, i in zip(names, infos, strict=True)
            )
            found[key] = _Slot(key, tuple(identity))
    return found


def _read_records(folder: Path) -> list[_Record]:
    """Every complete record of a table, oldest first (unreadable ones are skipped)."""
    records = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path.name == "edges.json":
            continue
        try:
            meta = json.loads(path.read_text())
            start, end = meta.get("start"), meta.get("end")
            records.append(_Record(path.stem, str(meta["run_id"]), str(meta["source"]),
                                   datetime.fromisoformat(start) if start else None,
                                   datetime.fromisoformat(end) if end else None,
                                   dict(meta["slots"])))  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("ignoring the unreadable statistics record %s", path)
    return sorted(records, key=lambda r: (r.run_id, r.source == "run"))


def _write_record(folder: Path, name: str, rows: pa.Table, meta: dict[str, Any]) -> Path:
    """The rows, then the description that makes them a record; each atomically."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.parquet.{os.getpid()}.tmp"
    pq.write_table(rows, tmp, compression="zstd")
    os.replace(tmp, folder / f"{name}.parquet")
    tmp = folder / f".{name}.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(meta, separators=(",", ":")))
    os.replace(tmp, folder / f"{name}.json")
    return folder / f"{name}.json"


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
    wrote its current files or, for a partition whose rows were all quarantined (it has
    no files), the newest run whose window covers it, if that run says so."""
    runs = [record for record in records if record.source == "run"]
    found = _data_records(runs, slots)
    for key in {key for record in runs for key in record.slots if key not in slots}:
        newest = next((r for r in reversed(runs) if r.covers(_slot_start(key))), None)
        if newest is not None and newest.slots.get(key, {}).get("rows", -1) == 0:
            found[key] = newest
    return found


def _prune(folder: Path, slots: Mapping[str, _Slot], keep: str) -> None:
    """Delete the records no partition of the current version takes its statistics or
    quarantine counts from, and what killed writers left behind."""
    records = _read_records(folder)
    used = {r.name for r in _data_records(records, slots).values()}
    used |= {r.name for r in _quarantine_records(records, slots).values()}
    for record in records:
        if record.name not in used and record.name != keep:
            for suffix in (".json", ".parquet"):
                (folder / f"{record.name}{suffix}").unlink(missing_ok=True)
    names, now = {r.name for r in records}, time.time()
    for path in folder.iterdir():
        leftover = path.name.endswith(".tmp") or (
            path.suffix == ".parquet" and path.stem not in names
        )
        with contextlib.suppress(OSError):
            if leftover and now - path.stat().st_mtime > _STALE_SECONDS:
                path.unlink()


# -- histogram edges ----------------------------------------------------------------------


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


def _load_edges(folder: Path) -> dict[str, tuple[float, float]]:
    try:
        columns = json.loads((folder / "edges.json").read_text())["columns"]
    except (OSError, ValueError, KeyError):
        return {}
    return {name: (float(e["lo"]), float(e["hi"])) for name, e in columns.items()}


def _decide_edges(
    folder: Path,
    columns: Sequence[tuple[str, str]],
    job: Job | None,
    decided_by: str,
    extremes: Any = None,
) -> dict[str, tuple[float, float]]:
    """Each numeric feature's edges: stored ones, then the header's ``min`` and ``max``,
    then (for the rest, if ``extremes`` is given) the finite extremes of the values, a
    callable from column names to (min, max). The new ones are stored (when the folder
    cannot be written they are still used, and decided again next time)."""
    numeric = [name for name, type_ in columns if _kind(type_) == "numeric"]
    edges = _load_edges(folder)
    if all(name in edges for name in numeric):
        return edges
    try:
        with _locked(folder):
            edges = _load_edges(folder)
            added = _new_edges([n for n in numeric if n not in edges], job, decided_by, extremes)
            if added:
                document: dict[str, Any] = {"format": _FORMAT, "bins": BINS, "columns": {}}
                with contextlib.suppress(OSError, ValueError):
                    document = json.loads((folder / "edges.json").read_text())
                document["columns"].update(added)
                tmp = folder / f".edges.json.{os.getpid()}.tmp"
                tmp.write_text(json.dumps(document, indent=1))
                os.replace(tmp, folder / "edges.json")
    except OSError as exc:
        logger.warning("histogram edges not stored in %s: %s", folder, exc)
        added = _new_edges([n for n in numeric if n not in edges], job, decided_by, extremes)
    return {**edges, **{n: (e["lo"], e["hi"]) for n, e in added.items()}}


def _new_edges(
    missing: Sequence[str], job: Job | None, decided_by: str, extremes: Any
) -> dict[str, dict[str, Any]]:
    declared = job.column_map if job is not None else {}
    bounds = {n: (declared[n].min, declared[n].max) if n in declared else (None, None)
              for n in missing}  # fmt: skip
    scanned = [n for n in missing if None in bounds[n]]
    found = extremes(scanned) if extremes is not None and scanned else {}
    added: dict[str, dict[str, Any]] = {}
    for name in missing:
        low, high = bounds[name]
        low = found.get(name, (None, None))[0] if low is None else low
        high = found.get(name, (None, None))[1] if high is None else high
        if low is None or high is None:
            continue  # no finite value yet: the first one decides
        low, high = float(low), float(high)
        if not low < high:
            low, high = min(low, high) - 0.5, max(low, high) + 0.5
        added[name] = {"lo": low, "hi": high, "decided_by": decided_by,
                       "from": "data" if name in scanned else "header"}  # fmt: skip
    return added


# -- computing from partition files (first runs, tables without records) ------------------


def _features(described: Sequence[tuple[str, str]], job: Job | None) -> list[tuple[str, str]]:
    """The feature columns of ``described`` (name, type), in the job header's order."""
    skip = {"partition_date", "partition_hour"}
    if job is not None:
        skip |= {*job.entities, job.timestamp}
    columns = [(name, type_) for name, type_ in described if name not in skip]
    if job is not None and job.columns:
        order = {c.name: i for i, c in enumerate(job.columns)}
        columns.sort(key=lambda c: order.get(c[0], len(order)))
    return columns


def _from_files(
    version: Path, slots: Sequence[_Slot], job: Job | None, folder: Path, decided_by: str
) -> pa.Table:
    """The statistics rows of ``slots``, read from their files a chunk at a time."""
    import pyarrow as pa

    def scan(chosen: Sequence[_Slot]) -> str:
        files = ", ".join(sql.path_literal(version / s.key / f[0]) for s in chosen for f in s.files)
        return f"read_parquet([{files}], hive_partitioning = true, union_by_name = true)"

    hourly = any("partition_hour=" in s.key for s in slots)
    keys = ("partition_date", "partition_hour") if hourly else ("partition_date",)
    con = sql.connect()
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {scan(slots)}").fetchall()
        columns = _features([(row[0], row[1]) for row in described], job)

        def extremes(names: Sequence[str]) -> dict[str, tuple[Any, Any]]:
            xs = [f"CAST({sql.ident(n)} AS DOUBLE)" for n in names]
            items = [
                f"min({x}) FILTER (isfinite({x})), max({x}) FILTER (isfinite({x}))" for x in xs
            ]
            row = con.execute(f"SELECT {', '.join(items)} FROM {scan(slots)}").fetchall()[0]
            return {n: (row[2 * i], row[2 * i + 1]) for i, n in enumerate(names)}

        edges = _decide_edges(folder, columns, job, decided_by, extremes)
        parts, chunk, size = [], [], 0
        for i, slot in enumerate(slots):
            chunk.append(slot)
            size += sum(f[2] for f in slot.files)
            if size >= _CHUNK_BYTES or i == len(slots) - 1:
                present = {
                    row[0]
                    for row in con.execute(f"DESCRIBE SELECT * FROM {scan(chunk)}").fetchall()
                }
                select = [*keys] + [
                    sql.ident(n) if n in present else f"CAST(NULL AS {t}) AS {sql.ident(n)}"
                    for n, t in columns
                ]
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE __rows AS SELECT {', '.join(select)} "
                    f"FROM {scan(chunk)}"
                )
                parts.append(_stats_of(con, "__rows", keys, columns, edges))
                chunk, size = [], 0
    finally:
        con.close()
    return pa.concat_tables(parts)


def _rows_by_slot(rows: pa.Table) -> dict[str, int]:
    """A partition's rows: the count plus the nulls of any one of its features."""
    found: dict[str, int] = {}
    for slot, count, nulls in zip(rows.column("slot").to_pylist(), rows.column("count").to_pylist(),
                                  rows.column("nulls").to_pylist(), strict=True):  # fmt: skip
        found.setdefault(slot, int(count) + int(nulls))
    return found


def _quarantined(
    con: duckdb.DuckDBPyConnection, relation: str, timestamp: str, rule: str, hourly: bool
) -> dict[str | None, dict[str, int]]:
    """Quarantined rows per partition key (``None``: without a timestamp) and rule."""
    ts = f"TRY_CAST({sql.ident(timestamp)} AS TIMESTAMPTZ)"
    found: dict[str | None, dict[str, int]] = {}
    for day, hour, name, n in con.execute(
        f"SELECT CAST(strftime({ts}, '%Y%m%d') AS INTEGER), {f'hour({ts})' if hourly else 'NULL'},"
        f" {sql.ident(rule)}, count(*) FROM {relation} GROUP BY ALL"
    ).fetchall():
        found.setdefault(None if day is None else _slot_key(day, hour), {})[str(name)] = int(n)
    return found


# -- the ingestion runner's side ---------------------------------------------------------


class RunStats:
    """The statistics of one run's good rows, computed while the runner streams them to
    the partition writer (``tee``), so no partition file is read back: ~1M rows at a
    time, by one worker thread, so that a chunk's query overlaps the writing of the
    next rows. ``record_partition_stats`` stores them after the commit. A failure only
    stops the collection (the record is then computed from the files)."""

    def __init__(self, project: Project, job: Job) -> None:
        self.project, self.job = project, job
        self.folder = project.layout.monitor_stats(job.name)
        self.parts: list[pa.Table] = []
        self.streaming = True
        self.columns: list[tuple[str, str]] | None = None
        self.edges: dict[str, tuple[float, float]] = {}
        self._con: duckdb.DuckDBPyConnection | None = None
        self._needed: list[str] = []
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._worker: ThreadPoolExecutor | None = None
        self._running: deque[Future[None]] = deque()

    def tee(
        self, reader: pa.RecordBatchReader, written: Sequence[str], rule: str
    ) -> pa.RecordBatchReader:
        """``reader``'s batches, unchanged, each added to the statistics on its way."""
        import pyarrow as pa

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                if self.streaming:
                    self._add(batch, written, rule)
                yield batch

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def _add(self, batch: pa.RecordBatch, written: Sequence[str], rule: str) -> None:
        """Keep the batch's columns; hand them to the worker once ~1M rows are kept (a
        query's fixed cost is then a small part of it)."""
        try:
            if self.columns is None and not self._start(batch, written):
                return
            self._pending.append(batch.select([*self._needed, rule]))
            self._pending_rows += batch.num_rows
            if self._pending_rows >= _STREAM_ROWS:
                self._submit(rule)
        except Exception:
            self._fail()

    def _start(self, batch: pa.RecordBatch, written: Sequence[str]) -> bool:
        """The features and their edges, from the first batch; False: not streamed."""
        con = self._connection()
        con.register("__batch", batch)
        try:
            described = con.execute("DESCRIBE SELECT * FROM __batch").fetchall()
            types = {str(row[0]): str(row[1]) for row in described}
        finally:
            con.unregister("__batch")
        self.columns = _features([(n, types[n]) for n in written], self.job)
        self.edges = _decide_edges(self.folder, self.columns, self.job, "header")
        self._needed = [self.job.timestamp, *(n for n, _ in self.columns)]
        numeric = [n for n, t in self.columns if _kind(t) == "numeric"]
        self.streaming = all(n in self.edges for n in numeric)  # else the first values decide
        return self.streaming

    def _submit(self, rule: str) -> None:
        """The kept rows to the worker; waits while it is a chunk behind (bounded memory)."""
        import pyarrow as pa

        if not self._pending:
            return
        chunk = pa.Table.from_batches(self._pending)
        self._pending, self._pending_rows = [], 0
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stats")
        while len(self._running) > 1:
            self._running.popleft().result()
        self._running.append(self._worker.submit(self._compute, chunk, rule))

    def _compute(self, chunk: pa.Table, rule: str) -> None:
        assert self.columns is not None
        con, job = self._connection(), self.job
        con.register("__batch", chunk)
        try:
            ts = sql.ident(job.timestamp)
            hourly = job.grain == "hour"
            hour = f", CAST(hour({ts}) AS INTEGER) AS partition_hour" if hourly else ""
            features = "".join(f", {sql.ident(n)}" for n, _ in self.columns)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE __rows AS SELECT CAST({ts} AS DATE) AS "
                f"partition_date{hour}{features} FROM __batch WHERE {sql.ident(rule)} IS NULL"
            )
            keys = ("partition_date", "partition_hour") if hourly else ("partition_date",)
            stats = _stats_of(con, "__rows", keys, self.columns, self.edges, dates=True)
            self.parts.append(stats)
        finally:
            con.unregister("__batch")

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = sql.connect()
        return self._con

    def _fail(self) -> None:
        logger.warning("%s: statistics not computed from the stream", self.job.name, exc_info=True)
        self.streaming, self.parts, self._pending = False, [], []

    def rows(self, rule: str = "__rule") -> pa.Table | None:
        """The streamed statistics, one row per partition and feature (None: not streamed)."""
        if self.streaming and self.columns is not None:
            try:
                self._submit(rule)
                while self._running:
                    self._running.popleft().result()
            except Exception:
                self._fail()
        if not self.streaming or self.columns is None or not self.parts:
            return None
        return _combine_partials(self.parts)

    def close(self) -> None:
        """Stop the worker (after its current chunk) and close its connection."""
        if self._worker is not None:
            for future in self._running:
                future.cancel()
            self._worker.shutdown(wait=True)
            self._worker = None
        self._running.clear()
        if self._con is not None:
            self._con.close()
            self._con = None


def record_partition_stats(
    project: Project,
    job: Job,
    run_id: str,
    version: Path,
    span: tuple[datetime, datetime],
    *,
    bad: pa.Table | None = None,
    streamed: RunStats | None = None,
) -> Path:
    """Store the statistics of the partitions a run just committed: those of ``version``
    (its new version folder) that start in ``span``, from ``streamed`` or else read from
    their files. ``bad`` holds the run's quarantined rows (the job's timestamp column and
    ``__rule``). Returns the record's description file; then deletes the records that no
    partition of the version uses any more.

    The runner calls it after its commit and logs, never raises, its failure: the reader
    computes a missing record itself.
    """
    folder = project.layout.monitor_stats(job.name)
    slots = _slots(version)
    mine = {key: slot for key, slot in slots.items() if span[0] <= slot.start < span[1]}
    rows = streamed.rows() if streamed is not None else None
    if rows is None or set(rows.column("slot").to_pylist()) != set(mine):
        rows = _from_files(version, list(mine.values()), job, folder, run_id) if mine else None
    quarantined: dict[str | None, dict[str, int]] = {}
    if bad is not None and bad.num_rows:
        con = sql.connect()
        try:
            con.register("__bad", bad)
            quarantined = _quarantined(con, "__bad", job.timestamp, "__rule", job.grain == "hour")
        finally:
            con.close()
    good = _rows_by_slot(rows) if rows is not None else {}
    entries = {}
    for key in sorted({*mine, *(k for k in quarantined if k is not None)}):
        by_rule = quarantined.get(key, {})
        files = [list(f) for f in mine[key].files] if key in mine else []
        entries[key] = {"files": files, "rows": good.get(key, 0),
                        "quarantined": sum(by_rule.values()), "by_rule": by_rule}  # fmt: skip
    unplaced = quarantined.get(None, {})
    meta = {
        "format": _FORMAT, "table": job.name, "run_id": run_id, "source": "run",
        "start": span[0].isoformat(), "end": span[1].isoformat(), "grain": job.grain,
        "slots": entries, "unplaced": {"quarantined": sum(unplaced.values()), "by_rule": unplaced},
        "written_at": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    written = _write_record(folder, run_id, rows if rows is not None else _no_rows(), meta)
    _prune(folder, slots, keep=run_id)
    return written


def _no_rows() -> pa.Table:
    import pyarrow as pa

    return pa.table({"slot": pa.array([], pa.string())})


# -- reading a window ---------------------------------------------------------------------


@dataclass
class _Window:
    """The current version's partitions, those in a window, and the records."""

    table: str
    version: Path
    slots: dict[str, _Slot]  # every partition of the version
    selected: list[str]  # the keys of those in the window, in time order
    records: list[_Record]
    job: Job | None
    bounds: tuple[datetime | None, datetime | None]

    def within(self, key: str) -> bool:
        low, high = self.bounds
        start = _slot_start(key)
        return (low is None or start >= low) and (high is None or start < high)


def _open_window(project: Project, table: str, start: object, end: object) -> _Window:
    layout = project.layout
    version = _current_version(layout, table)
    if version is None:
        raise UnknownFeatureTableError(table, list(layout.feature_tables()))
    slots = _slots(version)
    records = _read_records(layout.monitor_stats(table))
    bounds = (_bound(start, "start"), _bound(end, "end"))
    window = _Window(table, version, slots, [], records, _find_job(project, table), bounds)
    window.selected = sorted((k for k in slots if window.within(k)), key=_slot_start)
    return window


def _bound(value: object, name: str) -> datetime | None:
    """A window bound: a datetime (naive: UTC), a date, an ISO string, or None (open)."""
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
    raise InvalidRequestError(f"{name} must be a date or time, not {type(value).__name__}")


def _find_job(project: Project, table: str) -> Job | None:
    from featurestore.errors import JobDefinitionError
    from featurestore.job_spec import parse_job

    path = project.jobs_dir / f"{table}.sql"
    try:
        return parse_job(path) if path.is_file() else None
    except JobDefinitionError:
        return None


def _window_rows(project: Project, window: _Window, keys: Sequence[str]) -> pa.Table | None:
    """The statistics rows of the partitions ``keys``: from the records that match them,
    computed (and cached) for the others."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    folder = project.layout.monitor_stats(window.table)
    matched = _data_records(window.records, window.slots)
    wanted: dict[str, list[str]] = {}
    for key in keys:
        if key in matched:
            wanted.setdefault(matched[key].name, []).append(key)
    missing = [key for key in keys if key not in matched]
    tables = []
    for name, chosen in wanted.items():
        try:
            rows = pq.read_table(folder / f"{name}.parquet")
        except (OSError, pa.ArrowException):  # pruned meanwhile, or damaged
            missing += chosen
            continue
        tables.append(rows.filter(pc.is_in(rows.column("slot"), pa.array(chosen))))
    if missing:
        tables.append(_recompute(project, window, sorted(missing, key=_slot_start)))
    tables = [t for t in tables if t.num_rows and "column" in t.column_names]
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def _recompute(project: Project, window: _Window, keys: Sequence[str]) -> pa.Table:
    """Compute the statistics of partitions no record describes, and cache them."""
    folder = project.layout.monitor_stats(window.table)
    slots = [window.slots[key] for key in keys]
    name = f"recomputed-{window.version.name}-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
    rows = _from_files(window.version, slots, window.job, folder, name)
    good = _rows_by_slot(rows)
    meta = {
        "format": _FORMAT, "table": window.table, "run_id": name, "source": "recomputed",
        "slots": {s.key: {"files": [list(f) for f in s.files], "rows": good.get(s.key, 0)}
                  for s in slots},
        "written_at": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    try:
        _write_record(folder, name, rows, meta)
    except OSError as exc:  # a read-only data folder: the statistics are still right
        logger.warning("statistics of %s not cached: %s", window.table, exc)
    return rows


def window_stats(
    project: Project,
    table: str,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    *,
    top: int = 10,
) -> list[FeatureStats]:
    """Every feature's statistics over the partitions of ``table``'s current version
    that start in ``[start, end)`` (either bound may be open), merged from their
    records without reading the table (partitions without one are computed once).

    Count, nulls, min, max, mean, std (the sample standard deviation, n - 1), the
    histogram and the whole-number share are exact; distinct is exact up to 1,024
    values, an estimate beyond (``distinct_exact``); the ``top`` values are exact unless
    a partition had more than 1,000 distinct values (it kept its 100 most frequent).
    Quantiles are interpolated linearly within the merged histogram's bins (so only as
    fine as its 20 bins), and clamped to [min, max]. An empty window gives ``[]``.
    """
    window = _open_window(project, table, start, end)
    rows = _window_rows(project, window, window.selected) if window.selected else None
    if rows is None:
        return []
    import pyarrow.compute as pc

    rows = rows.filter(pc.is_valid(rows.column("column")))
    rows = rows.sort_by([("partition_date", "ascending"), ("partition_hour", "ascending")])
    names = dict.fromkeys(rows.column("column").to_pylist())
    stats = []
    for name, _ in _features([(n, "") for n in names], window.job):
        mine = rows.filter(pc.equal(rows.column("column"), name))
        stats.append(_feature_stats(table, _combine(mine, truncate=False), top, mine.num_rows))
    return stats


def _feature_stats(table: str, row: Mapping[str, Any], top: int, partitions: int) -> FeatureStats:
    sketch, count, nulls = row["sketch"], row["count"], row["nulls"]
    exact = len(sketch) < SKETCH_SIZE
    distinct = len(sketch) if exact else round((SKETCH_SIZE - 1) * 2.0**64 / (sketch[-1] + 1))
    common: dict[str, Any] = {
        "table": table, "column": row["column"], "type": row["type"], "count": count,
        "nulls": nulls, "distinct": distinct, "distinct_exact": exact, "kind": row["kind"],
        "partitions": partitions,
    }  # fmt: skip
    if row["kind"] == "numeric":
        m2, mean = row.get("m2"), row.get("mean")
        std = math.sqrt(max(m2, 0.0) / (count - 1)) if m2 is not None and count > 1 else None
        histogram = None
        if row.get("hist") is not None:
            low, high = row["lo"], row["hi"]
            inner = [low + i * (high - low) / BINS for i in range(BINS)] + [high]
            histogram = Histogram(tuple(row["hist"]), (-math.inf, *inner, math.inf), nulls=nulls)
        quantiles = {}
        if histogram is not None and row["min"] is not None and row["max"] is not None:
            quantiles = _quantiles(histogram, row["min"], row["max"])
        whole = row.get("whole") or 0
        return FeatureStats(**common, min=row["min"], max=row["max"], mean=mean, std=std,
                            quantiles=quantiles, histogram=histogram, whole_numbers=whole,
                            whole_share=whole / count if count else None)  # fmt: skip
    if row["kind"] != "categorical":
        return FeatureStats(**common, min=row.get("min_text"), max=row.get("max_text"))
    values, counts = row["values"], row["value_counts"]
    shown = list(zip(values[:top], counts[:top], strict=True))
    histogram = Histogram(tuple(counts), labels=tuple(values), nulls=nulls) if values else None
    return FeatureStats(**common, min=row.get("min_text"), max=row.get("max_text"), top=shown,
                        other=count - sum(n for _, n in shown), histogram=histogram)  # fmt: skip


def _quantiles(histogram: Histogram, low: float, high: float) -> dict[float, float]:
    """Quantiles interpolated linearly within the bins; the outer bins span from the
    minimum to the first edge and from the last edge to the maximum."""
    total = histogram.total
    if not total or histogram.edges is None:
        return {}
    edges = list(histogram.edges)
    edges[0], edges[-1] = min(low, edges[1]), max(high, edges[-2])
    found = {}
    for q in QUANTILES:
        target, seen = q * total, 0
        for i, count in enumerate(histogram.counts):
            if count and seen + count >= target:
                value = edges[i] + (target - seen) / count * (edges[i + 1] - edges[i])
                found[q] = min(max(value, low), high)
                break
            seen += count
    return found


def quarantine_rates(
    project: Project,
    table: str,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
) -> list[QuarantinePoint]:
    """Per partition starting in ``[start, end)``, in time order: the rows its run read
    (good plus quarantined), those it quarantined (by rule) and their share. A partition
    whose every row was quarantined has no files but still a point (rate 1.0).

    The counts come from the runs' records; for a partition no run recorded
    (``QuarantinePoint.recorded`` False) the good rows are its own and the quarantined
    ones those in the quarantine file of the current version's run.
    """
    window = _open_window(project, table, start, end)
    authority = _quarantine_records(window.records, window.slots)
    keys = {*window.selected, *(k for k in authority if k not in window.slots and window.within(k))}
    unrecorded = sorted((k for k in keys if k not in authority), key=_slot_start)
    good: dict[str, int] = {}
    extra: dict[str, dict[str, int]] = {}
    if unrecorded:
        rows = _window_rows(project, window, [k for k in unrecorded if k in window.slots])
        good = _rows_by_slot(rows) if rows is not None else {}
        extra = _unrecorded_quarantine(project, window)
    points = []
    for key in sorted(keys, key=_slot_start):
        record = authority.get(key)
        if record is not None:
            entry = record.slots[key]
            rows_good, by_rule = (
                int(entry["rows"]),
                {k: int(n) for k, n in entry["by_rule"].items()},
            )
        else:
            rows_good, by_rule = good.get(key, 0), extra.get(key, {})
        quarantined = sum(by_rule.values())
        rows_in = rows_good + quarantined
        points.append(QuarantinePoint(
            start=_slot_start(key), end=_slot_end(key), rows_in=rows_in, quarantined=quarantined,
            rate=quarantined / rows_in if rows_in else None, by_rule=by_rule,
            run_id=record.run_id if record is not None else None, recorded=record is not None,
        ))  # fmt: skip
    return points


def _unrecorded_quarantine(project: Project, window: _Window) -> dict[str, dict[str, int]]:
    """Quarantined rows by partition and rule in the current version's quarantine file,
    when the run that wrote the version left no record."""
    run_id = window.version.name
    path = project.layout.quarantine(window.table) / f"{run_id}.parquet"
    if window.job is None or any(r.run_id == run_id for r in window.records) or not path.is_file():
        return {}
    con = sql.connect()
    try:
        found = _quarantined(con, f"read_parquet({sql.path_literal(path)})", window.job.timestamp,
                             "_rule", window.job.grain == "hour")  # fmt: skip
    finally:
        con.close()
    return {key: rules for key, rules in found.items() if key is not None}
