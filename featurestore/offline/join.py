"""The point-in-time join as one DuckDB query: an ASOF LEFT JOIN per feature view.

Semantics (Feast's, checked against its DuckDB/ibis store and a brute-force oracle):

- per entity row and view, the feature row with the same join keys and the latest
  event timestamp at or before the entity row's timestamp;
- ties on the event timestamp go to the latest ``created_timestamp_column`` (a null
  created timestamp loses, as under Feast's ``ORDER BY created DESC``);
- the view's TTL nulls the features when that row is older than ``timestamp - ttl``
  (inclusive: a row exactly ``ttl`` old still counts); it never drops the entity row.
  A TTL of zero or none means no age limit;
- every entity row comes back exactly once (duplicates included), in input order;
- timestamps are compared as ``TIMESTAMP WITH TIME ZONE`` at microsecond precision;
  naive timestamps are UTC. The output's timestamp column is UTC.

Feature tables are read only through ``featurestore.sql.parquet_scan`` and only the
rows in the entity frame's time window (``min - ttl .. max``) reach the join.

Two phases. Phase 1 finds each entity row's feature row by position (file, row
number) from the table's join keys and timestamps only, per view either
- ``asof``: an ASOF LEFT JOIN, which sorts the whole table (keys and timestamps only,
  not the features: about 2x faster with 100,000 entity rows on 10M-row tables), or
- ``range``: for a view with a TTL, a hash join on the keys and a time bucket (half a
  TTL wide; each entity row probes the three that cover ``[t - ttl, t]``) and the
  latest match per entity row (``arg_max``); no sort of the table, cheap when entity
  rows per key are few within one TTL (``choose_strategy`` decides from the entity
  frame alone);
phase 2 fetches the matched rows' features by position with a hash join.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Literal, NamedTuple

import duckdb

from featurestore.errors import (
    EntityColumnTypeError,
    InvalidRequestError,
    MissingJoinKeyError,
    UnknownFeatureError,
)
from featurestore.offline.entities import ROW, EntityFrame, quote
from featurestore.offline.views import ViewSpec
from featurestore.sql import parquet_scan

TS = "__fs_ts"
# The range join buckets time into TTL / RANGE_BUCKETS slices, each entity row
# probing the RANGE_BUCKETS + 1 slices that cover [t - ttl, t]: fewer candidate
# feature rows per probe than a join on the keys alone (measured on a 10M-row view:
# 2 beats 1 and 4 by 5-20% with 1M entity rows; 1 and 2 tie with 100,000).
RANGE_BUCKETS = 2

_STRING = ("VARCHAR", "UUID")
_NUMBER = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE",
)  # fmt: skip


@dataclass(frozen=True)
class JoinPlan:
    sql: str
    columns: list[str]
    strategies: dict[str, str]


class EntityStats(NamedTuple):
    """The entity frame's earliest and latest timestamp (UTC), its row count, and per
    join key set (as in ``ViewSpec.join_keys``' values) its approximate distinct count."""

    start: datetime | None
    end: datetime | None
    rows: int
    distinct: Mapping[tuple[str, ...], int] = MappingProxyType({})


Strategy = Literal["auto", "asof", "range"]


class CheckedRequest(NamedTuple):
    """A request that passed ``check_request``: the result's columns in order, and each
    view that contributes features with its table's column types (DuckDB's names)."""

    columns: list[str]
    views: list[tuple[ViewSpec, dict[str, str]]]


def check_request(
    con: duckdb.DuckDBPyConnection, entities: EntityFrame, views: Sequence[ViewSpec]
) -> CheckedRequest:
    """Every check of a request, reading the tables' schemas only (never their rows):
    a missing join key, a column the result would hold twice, an unknown feature, a
    broken source or a join key of the wrong type raises here. Both engines call it."""
    views = [v for v in views if v.features]
    missing = sorted({e for v in views for e in v.join_keys.values()} - set(entities.types))
    if missing:
        raise MissingJoinKeyError(missing)
    columns = [*entities.columns]
    for view in views:
        columns += view.features.values()
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise InvalidRequestError(
            f"column name(s) {', '.join(repeated)} would appear twice in the result; "
            "rename the entity frame's column or use full_feature_names"
        )
    return CheckedRequest(columns, [(v, _check_schema(con, v, entities)) for v in views])


def plan_join(
    con: duckdb.DuckDBPyConnection,
    entities: EntityFrame,
    views: Sequence[ViewSpec],
    stats: EntityStats = EntityStats(None, None, 0),
    strategy: Strategy = "auto",
) -> JoinPlan:
    """Check the request against the tables' schemas, then build the join's SQL.

    Every check runs before any data is read: a missing join key, a join key of the
    wrong type, an unknown feature or a broken source raises here (``check_request``).
    """
    request = check_request(con, entities, views)
    columns = request.columns
    entity_ts = utc_micros(
        quote(entities.timestamp_column), entities.types[entities.timestamp_column]
    )
    ctes = [f"{TS}_e AS (SELECT *, {entity_ts} AS {TS} FROM {entities.relation})"]
    joins: list[str] = []
    strategies: dict[str, str] = {}
    matched = ["e.*"]
    fetches: list[str] = []
    selects = [
        f"m.{TS} AS {quote(c)}" if c == entities.timestamp_column else f"m.{quote(c)}"
        for c in entities.columns
    ]
    for i, (view, types) in enumerate(request.views):
        scan = _scan(view)
        where = _where(view, (stats.start, stats.end), types)
        alias = f"v{i}"
        ctes.append(f"{alias} AS ({_positions_sql(view, types, scan, where)})")
        if strategy == "auto":
            chosen = choose_strategy(view, stats)
        else:
            chosen = strategy if view.has_ttl else "asof"  # range needs a TTL
        strategies[view.name] = chosen
        position = [f"{TS}_rn"] + ([f"{TS}_file"] if _partitioned(scan) else [])
        keys = [f"e.{quote(ec)} = {alias}.{quote(fc)}" for fc, ec in view.join_keys.items()]
        if chosen == "asof":
            # Phase 1, ASOF: each entity row's feature row found by position only (file,
            # row number), so the sort carries keys and timestamps, not features.
            on = [*keys]
            if view.created_timestamp_column:
                on.append(
                    f"struct_pack(t := e.{TS}, c := 'infinity'::TIMESTAMPTZ) >= {alias}.{TS}_tc"
                )
            else:
                on.append(f"e.{TS} >= {alias}.{TS}")
            joins.append(f"ASOF LEFT JOIN {alias} ON {' AND '.join(on)}")
            fresh = (
                f"{alias}.{TS} >= e.{TS} - to_microseconds({_micros(view)})"
                if view.has_ttl
                else None
            )
            for column in position:
                value = f"{alias}.{column}"
                matched.append(
                    f"CASE WHEN {fresh} THEN {value} END AS {column}{i}"
                    if fresh
                    else f"{value} AS {column}{i}"
                )
        else:
            # Phase 1, range: a hash join on the keys and a time bucket within
            # [t - ttl, t], then the latest (timestamp, created) per entity row; no sort.
            order = f"{alias}.{TS}_tc" if view.created_timestamp_column else f"{alias}.{TS}"
            picks = ", ".join(
                f"arg_max({alias}.{column}, {order}) AS {column}{i}" for column in position
            )
            width = -(-_micros(view) // RANGE_BUCKETS)  # RANGE_BUCKETS buckets cover a TTL
            entity_keys = ", ".join(f"e.{quote(ec)}" for ec in view.join_keys.values())
            ctes.append(
                f"{TS}_e{i} AS (SELECT e.{ROW}, {entity_keys}, e.{TS}, "
                f"{_bucket(f'e.{TS}', width)} - d.d AS {TS}_b FROM {TS}_e AS e, "
                f"range({RANGE_BUCKETS + 1}) AS d(d))"
            )
            ctes.append(
                f"r{i} AS (SELECT e.{ROW} AS {ROW}, {picks} FROM {TS}_e{i} AS e "
                f"JOIN {alias} ON {' AND '.join(keys)} "
                f"AND {_bucket(f'{alias}.{TS}', width)} = e.{TS}_b "
                f"AND {alias}.{TS} <= e.{TS} "
                f"AND {alias}.{TS} >= e.{TS} - to_microseconds({_micros(view)}) "
                f"GROUP BY e.{ROW})"
            )
            joins.append(f"LEFT JOIN r{i} ON r{i}.{ROW} = e.{ROW}")
            matched += [f"r{i}.{column}{i} AS {column}{i}" for column in position]
        # Phase 2: fetch the features of the matched rows by position (a hash join).
        # Positions already lie in the window; the window filter only helps skip the
        # files of a partitioned table (one file: the join's own row-number range
        # skips row groups, and the filter would cost a timestamp decode per row).
        payload = ", ".join(
            _position_columns(scan)
            + [f"{quote(view.source_column(f))} AS {quote(f)}" for f in view.features]
        )
        condition = " AND ".join(f"m.{column}{i} = p{i}.{column}" for column in position)
        fetch_where = f" WHERE {where}" if _partitioned(scan) else ""
        fetches.append(
            f"LEFT JOIN (SELECT {payload} FROM {scan}{fetch_where}) AS p{i} ON {condition}"
        )
        selects += [f"p{i}.{quote(c)} AS {quote(out)}" for c, out in view.features.items()]
    ctes.append(
        f"{TS}_m AS (SELECT {', '.join(matched)} FROM {TS}_e AS e\n" + "\n".join(joins) + ")"
    )
    sql = (
        "WITH "
        + ",\n".join(ctes)
        + "\nSELECT "
        + ",\n  ".join(selects)
        + f"\nFROM {TS}_m AS m\n"
        + "\n".join(fetches)
        + f"\nORDER BY m.{ROW}"
    )
    return JoinPlan(sql=sql, columns=columns, strategies=strategies)


def _bucket(ts: str, width: int) -> str:
    """The ``width``-microsecond bucket of ``ts``, floored (also before 1970)."""
    us = f"epoch_us({ts})"
    return f"({us} // {width} - ({us} % {width} < 0)::BIGINT)"


def utc_micros(column: str, duckdb_type: str) -> str:
    """``column`` as a UTC ``TIMESTAMPTZ``; nanoseconds are floored to microseconds
    (DuckDB's cast would round them, moving a timestamp up to 500 ns later)."""
    if duckdb_type.endswith("_NS"):
        ns = f"epoch_ns({column})"
        micros = f"(({ns} - (({ns} % 1000) + 1000) % 1000) // 1000)"
        return f"CAST(make_timestamp({micros}) AS TIMESTAMPTZ)"
    return f"CAST({column} AS TIMESTAMPTZ)"


def entity_stats(
    con: duckdb.DuckDBPyConnection,
    entities: EntityFrame,
    key_sets: Sequence[Sequence[str]] = (),
) -> EntityStats:
    """Earliest and latest entity timestamp (UTC, ``None`` when empty), row count and the
    approximate distinct count of each of ``key_sets`` the frame has: one pass."""
    column = entities.timestamp_column
    ts = utc_micros(quote(column), entities.types[column])
    wanted = list(dict.fromkeys(tuple(k) for k in key_sets if set(k) <= set(entities.types)))
    distinct = [
        f"approx_count_distinct(hash({', '.join(quote(k) for k in keys)}))" for keys in wanted
    ]
    query = f"SELECT {', '.join([f'min({ts})', f'max({ts})', 'count(*)', *distinct])} "
    row = con.execute(query + f"FROM {entities.relation}").fetchall()[0]
    if not row:
        return EntityStats(None, None, 0)
    counts = {keys: int(n or 0) for keys, n in zip(wanted, row[3:], strict=True)}
    return EntityStats(row[0], row[1], int(row[2]), counts)


def _scan(view: ViewSpec) -> str:
    """The source's ``read_parquet`` with each row's position (file and row number)."""
    scan = parquet_scan(view.path)
    assert scan.endswith(")"), scan
    options = ", file_row_number = true"
    if _partitioned(scan):
        options += ", filename = true"
    return scan[:-1] + options + ")"


def choose_strategy(view: ViewSpec, stats: EntityStats) -> str:
    """``range`` when the view has a TTL and the range join's pairs (each entity row with
    the feature rows of its key within one TTL) are expected to be no more than the
    rows in the window an ASOF join would sort; else ``asof``.

    With ``T`` feature rows spread evenly over ``D`` keys and the table's time, and the
    window ``(end - start) + ttl`` long, the pairs are ``rows * T / D * ttl / span``
    and the sorted rows ``T * window / span``: the table's size cancels out and the rule
    is ``rows * ttl <= D * window``, with ``D`` the entity frame's distinct keys (the
    keys that can match). No table is read to decide. Measured on 1M and 10M-row views
    with 100,000 and 1,000,000 entity rows, this picks the faster strategy or one
    within 10% of it. A key far hotter than the rest breaks the even-spread assumption:
    ``range`` then pairs every entity row of that key with all its feature rows in 1.5
    TTLs and can be much slower than ``asof`` (never wrong: both are checked against
    the oracle); pass ``strategy="asof"`` for such tables.
    """
    keys = tuple(view.join_keys.values())
    if not view.has_ttl or stats.rows == 0 or stats.start is None or stats.end is None:
        return "asof"
    ttl = _micros(view)
    window = (stats.end - stats.start) // timedelta(microseconds=1) + ttl
    distinct = max(stats.distinct.get(keys, 1), 1)
    return "range" if stats.rows * ttl <= distinct * window else "asof"


def _partitioned(scan: str) -> bool:
    """Several files: a row's position needs its file name as well as its row number."""
    return "hive_partitioning" in scan


def _position_columns(scan: str) -> list[str]:
    columns = [f"file_row_number AS {TS}_rn"]
    if _partitioned(scan):
        columns.append(f"filename AS {TS}_file")
    return columns


def _where(
    view: ViewSpec, window: tuple[datetime | None, datetime | None], types: dict[str, str]
) -> str:
    """Feature rows that can match some entity row: a timestamp, within the window."""
    ts = utc_micros(quote(view.timestamp_field), types[view.timestamp_field])
    where = [f"{ts} IS NOT NULL"]
    start, end = window
    if end is not None:
        where.append(f"{ts} <= {_literal(end)}")
    if start is not None and view.has_ttl:
        where.append(f"{ts} >= {_literal(start)} - to_microseconds({_micros(view)})")
    return " AND ".join(where)


def _positions_sql(view: ViewSpec, types: dict[str, str], scan: str, where: str) -> str:
    selects = [f"{quote(view.source_column(k))} AS {quote(k)}" for k in view.join_keys]
    ts = utc_micros(quote(view.timestamp_field), types[view.timestamp_field])
    selects.append(f"{ts} AS {TS}")
    if view.created_timestamp_column:
        column = view.created_timestamp_column
        created = utc_micros(quote(column), types[column])
        selects.append(
            f"struct_pack(t := {ts}, c := coalesce({created}, '-infinity'::TIMESTAMPTZ)) AS {TS}_tc"
        )
    selects += _position_columns(scan)
    return f"SELECT {', '.join(selects)} FROM {scan} WHERE {where}"


def _check_schema(
    con: duckdb.DuckDBPyConnection, view: ViewSpec, entities: EntityFrame
) -> dict[str, str]:
    """The table's column types, after checking it has what the request needs."""
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {parquet_scan(view.path)}").fetchall()
    except duckdb.Error as exc:
        raise InvalidRequestError(
            f"cannot read feature view {view.name!r} from {view.path}: {exc}"
        ) from None
    types = {str(r[0]): str(r[1]).strip('"') for r in described}
    unknown = [f"{view.name}:{f}" for f in view.features if view.source_column(f) not in types]
    if unknown:
        raise UnknownFeatureError(unknown, known_views=[view.name])
    needed = [view.timestamp_field, *(view.source_column(k) for k in view.join_keys)]
    if view.created_timestamp_column:
        needed.append(view.created_timestamp_column)
    absent = [c for c in needed if c not in types]
    if absent:
        raise InvalidRequestError(
            f"feature view {view.name!r}: table {view.path} has no column(s) {', '.join(absent)}"
        )
    for table_key, entity_key in view.join_keys.items():
        expected = types[view.source_column(table_key)]
        actual = entities.types[entity_key]
        if "NULL" not in (expected, actual) and _kind(expected) != _kind(actual):
            raise EntityColumnTypeError(entity_key, f"{expected} (as in {view.name})", actual)
    return types


def _kind(duckdb_type: str) -> str:
    if duckdb_type in _STRING:
        return "string"
    if duckdb_type in _NUMBER or duckdb_type.startswith("DECIMAL"):
        return "number"
    return duckdb_type


def _micros(view: ViewSpec) -> int:
    assert view.ttl is not None
    return view.ttl // timedelta(microseconds=1)


def _literal(ts: datetime) -> str:
    return f"TIMESTAMPTZ '{ts.isoformat()}'"
