"""The latest row per entity in a window, computed by DuckDB and streamed as Arrow batches.

Feast's semantics (its local engine over the DuckDB offline store): rows whose event
time, as a UTC timestamp, lies in ``[start, end]`` (both ends included); per entity the
row with the latest event time wins, and among equal event times the latest
``created_timestamp`` (a missing one loses). Rows with a null join key are skipped.

The latest row is an ``arg_max`` aggregate, so DuckDB keeps one row per entity rather
than sorting every row of the window: memory grows with entities, not rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from featurestore import sql
from featurestore.errors import MaterializationError, SourceError
from featurestore.materialize.plan import ViewPlan
from featurestore.sql import parquet_scan

ROWS_COLUMN = "__rows"
TS_COLUMN = "__event_ts"
SIGN_PREFIX = "__sign_"
_MIN_BIGINT = -(2**63)
_FLOAT_TYPES = ("FLOAT", "DOUBLE")


@dataclass(frozen=True)
class DuckDBOptions:
    memory_limit: str = "512MB"
    threads: int = 2


_ident = sql.ident


def connect(options: DuckDBOptions) -> duckdb.DuckDBPyConnection:
    return sql.connect(
        threads=options.threads,
        memory_limit=options.memory_limit,
        preserve_insertion_order=False,
    )


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _check_source(con: duckdb.DuckDBPyConnection, plan: ViewPlan, scan: str) -> dict[str, str]:
    """The source's column types, once it is known to hold every column the view needs."""
    path = plan.source_path
    if not any(ch in path for ch in "*?[") and not Path(path).exists():
        raise SourceError(plan.view, path, "no such file or folder")
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    except duckdb.Error as exc:
        raise _duckdb_failure(plan, exc) from None
    columns = {row[0]: str(row[1]) for row in described}
    needed = [c.source for c in plan.join_keys + plan.features] + [plan.timestamp_column]
    if plan.created_column:
        needed.append(plan.created_column)
    missing = [name for name in needed if name not in columns]
    if missing:
        raise SourceError(
            plan.view,
            path,
            f"missing column(s) {', '.join(missing)}; it has {', '.join(columns)}",
        )
    kind = columns[plan.timestamp_column]
    if not (kind.startswith("TIMESTAMP") or kind == "DATE"):
        raise SourceError(
            plan.view, path, f"event timestamp column {plan.timestamp_column!r} is {kind}"
        )
    return columns


def _float_features(plan: ViewPlan, types: dict[str, str]) -> list[int]:
    return [i for i, c in enumerate(plan.features) if types.get(c.source) in _FLOAT_TYPES]


def _window_filter(ts: str, kind: str) -> str:
    """``$start <= ts <= $end`` with the bounds as naive UTC timestamps (microseconds).

    A microsecond timestamp column is compared as it is, the bounds cast to its type
    (exact: the session's time zone is UTC); a cast of every row, the general form for
    dates and other precisions, costs half as much as the whole aggregate."""
    if kind in ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
        return f"{ts} BETWEEN CAST($start AS {kind}) AND CAST($end AS {kind})"
    return f"CAST({ts} AS TIMESTAMP) BETWEEN $start AND $end"


def latest_rows_sql(plan: ViewPlan, scan: str, types: dict[str, str] | None = None) -> str:
    ts = _ident(plan.timestamp_column)
    keys = [_ident(c.source) for c in plan.join_keys]
    floats = _float_features(plan, types or {})
    # arg_max turns -0.0 into 0.0; the sign bit travels beside the value (see restore).
    values = ", ".join(
        [f"c{i} := {_ident(c.source)}" for i, c in enumerate(plan.features)]
        + [f"s{i} := signbit({_ident(plan.features[i].source)})" for i in floats]
    )
    values = f"{values}, " if values else ""
    created = (
        f"coalesce(epoch_ns(CAST({_ident(plan.created_column)} AS TIMESTAMP_NS)), {_MIN_BIGINT})"
        if plan.created_column
        else "0"
    )
    # The event time orders as it is: a cast per row (to nanoseconds) costs a third of
    # the aggregate and changes no comparison.
    order = f"struct_pack(e := {ts}, c := {created})" if plan.created_column else ts
    window = _window_filter(ts, (types or {}).get(plan.timestamp_column, ""))
    not_null = " AND ".join(f"{k} IS NOT NULL" for k in keys)
    outputs = [f"{k} AS {_ident(c.name)}" for k, c in zip(keys, plan.join_keys, strict=True)]
    outputs += [f"latest.c{i} AS {_ident(c.name)}" for i, c in enumerate(plan.features)]
    outputs += [f"latest.s{i} AS {SIGN_PREFIX}{i}" for i in floats]
    outputs += [f"latest.ts AS {TS_COLUMN}", f"{ROWS_COLUMN}"]
    return f"""
        SELECT {", ".join(outputs)}
        FROM (
            SELECT {", ".join(keys)},
                   arg_max(struct_pack({values}ts := {ts}), {order}) AS latest,
                   count(*) AS {ROWS_COLUMN}
            FROM {scan}
            WHERE {not_null}
              AND {window}
            GROUP BY ALL
        )
    """


def latest_rows(
    con: duckdb.DuckDBPyConnection,
    plan: ViewPlan,
    start: datetime,
    end: datetime,
    batch_size: int,
) -> Iterator[pa.RecordBatch]:
    """Batches of the latest row per entity: join keys and features under the view's
    names, the event time in ``__event_ts`` and the rows scanned per entity in ``__rows``."""
    scan = parquet_scan(plan.source_path)
    types = _check_source(con, plan, scan)
    floats = _float_features(plan, types)
    sql = latest_rows_sql(plan, scan, types)
    try:
        relation = con.sql(sql, params={"start": _naive_utc(start), "end": _naive_utc(end)})
        reader = relation.to_arrow_reader(batch_size)
        for batch in reader:
            yield _restore_negative_zeros(batch, plan, floats)
    except duckdb.Error as exc:
        raise _duckdb_failure(plan, exc) from None


def _restore_negative_zeros(
    batch: pa.RecordBatch, plan: ViewPlan, floats: list[int]
) -> pa.RecordBatch:
    if not floats:
        return batch
    columns = dict(zip(batch.schema.names, batch.columns, strict=True))
    for i in floats:
        name = plan.features[i].name
        sign = columns.pop(f"{SIGN_PREFIX}{i}")
        value = columns[name]
        negative_zero = pc.and_(pc.equal(value, 0), sign)
        columns[name] = pc.if_else(negative_zero, pa.scalar(-0.0, value.type), value)
    return pa.RecordBatch.from_pydict(columns)


def _duckdb_failure(plan: ViewPlan, exc: duckdb.Error) -> MaterializationError:
    """One clear error for what DuckDB raised while reading a view's source."""
    first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, duckdb.OutOfMemoryException):
        return MaterializationError(
            f"feature view {plan.view!r}: DuckDB ran out of memory keeping the latest row "
            f"per entity ({first_line}); raise batch_engine.duckdb_memory_limit"
        )
    return SourceError(plan.view, plan.source_path, first_line)
