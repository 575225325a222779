"""The point-in-time join on Spark: ``featurestore.offline.join``'s semantics as a Spark plan.

``retrieve`` takes what ``featurestore.offline.retrieve`` takes and gives a
``SparkRetrievalJob`` whose ``to_df()``/``to_arrow()`` equal the DuckDB job's: the same
rows in the same (input) order, the same columns, the same Arrow types.

1. The request is checked exactly as on DuckDB, before any row is read: the entity frame
   is registered in DuckDB (``featurestore.offline.entities``, so a pandas, Arrow,
   Parquet or SQL frame is accepted and checked the same way) and
   ``featurestore.offline.join.check_request`` reads the feature tables' schemas.
2. The entity frame is read once, in DuckDB: its timestamp as UTC microseconds (the
   DuckDB join's ``utc_micros``: naive means UTC, nanoseconds are floored) and its row
   number. Spark gets the row number, the join keys and the timestamp as a ``long`` of
   microseconds, from Arrow: never a ``TIMESTAMP(NANOS)``, which Spark rejects, and no
   time zone conversion on the way. All time comparisons are on those ``long``s.
3. Per view, the feature table (``spark.read.parquet`` of the file source; a table link
   is resolved first, so the whole job reads one version) is pruned to the entity
   frame's window ``[min - ttl, max]``, then each entity row's feature row is found by
   - ``range`` (views with a TTL): an equi-join on the keys and a time bucket (half a
     TTL wide, each entity row probing the three buckets that cover ``[t - ttl, t]``,
     as the DuckDB range join does), ``event_ts <= t`` and ``event_ts >= t - ttl``,
     then ``max_by(features, (event_ts, created_ts))`` per entity row; or
   - ``asof``: the entity rows and the feature rows in one frame, partitioned by the
     keys and ordered by (time, feature rows before entity rows, created_ts), each
     entity row taking the last feature row before it (``last(..., ignorenulls)``),
     then the TTL check. No pairs are formed, so no TTL (or a long one) costs no more.
   ``choose_strategy`` (DuckDB's rule, from the entity frame's statistics) decides, or
   the caller's ``strategy``. A null created timestamp loses a tie (it is the
   smallest ``long``); null keys and null timestamps never match.
4. ``to_arrow()`` collects each view's matches (row number and feature columns, only
   the entity rows it matched) on its own, with no join back onto the entity rows, and
   places them by row number beside the entity frame DuckDB read (nulls where a view
   matched nothing).

Entity columns so keep their exact Arrow types (nanoseconds, unsigned integers, time
zones), and feature columns are cast to the types DuckDB gives the same Parquet
columns. ``to_spark_df()`` is the whole frame in Spark (the matches left-joined onto
the row numbers), in input order, for callers who stay in Spark (no on-demand views:
those run in ``to_arrow()``, in Python, as Feast's base class runs them).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from feast.on_demand_feature_view import OnDemandFeatureView

from featurestore.errors import InvalidRequestError
from featurestore.offline.entities import ROW, EntityFrame, EntityInput, quote, register_entities
from featurestore.offline.job import JobContext, TrainingRetrievalJob
from featurestore.offline.join import (
    RANGE_BUCKETS,
    CheckedRequest,
    EntityStats,
    Strategy,
    check_request,
    choose_strategy,
    entity_stats,
    utc_micros,
)
from featurestore.offline.progress import ProgressCallback
from featurestore.offline.retrieval import connect
from featurestore.offline.views import ViewSpec
from featurestore.project import Project
from featurestore.spark.progress import run_with_progress
from featurestore.sql import parquet_scan

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = ["SparkRetrievalJob", "retrieve"]

_TS = "__fs_ts"  # the entity row's timestamp, UTC microseconds
_FTS = "__fs_fts"  # the feature row's event timestamp, UTC microseconds
_CTS = "__fs_cts"  # its created timestamp (a null is the smallest long: it loses)
_BUCKET = "__fs_bucket"
_KIND = "__fs_kind"  # asof: 0 a feature row, 1 an entity row
_PICK = "__fs_pick"
_TIME = "__fs_time"  # asof: the entity row's or the feature row's time
_LONG_MIN = -(2**63)


@dataclass(frozen=True)
class SparkJoin:
    """A checked request as a Spark plan, with what ``to_arrow()`` needs beside it."""

    entities: pa.Table  # the entity frame as DuckDB read it, timestamp in UTC, plus ROW
    rows: DataFrame  # ROW of every entity row
    # Per view, ROW and its features (internal names) for the entity rows it matched.
    matches: list[DataFrame]
    # view (index in ``matches``), internal name, output name, Arrow type
    outputs: list[tuple[int, str, str, pa.DataType]]
    columns: list[str]
    strategies: dict[str, str]

    @property
    def features(self) -> DataFrame:
        """ROW and every feature, one row per entity row (the matches joined on)."""
        frame = self.rows
        for match in self.matches:
            frame = frame.join(match, on=ROW, how="left")
        return frame

    def collect_matches(self) -> list[pa.Table]:
        """Each view's matches as Arrow, one Spark job per view (a union of them would
        carry every other view's columns as nulls: V views x N rows x V x F cells)."""
        return [match.toArrow() for match in self.matches]


def retrieve(
    spark: SparkSession,
    views: Sequence[ViewSpec],
    entity_df: EntityInput,
    *,
    project: Project | None = None,
    timestamp_column: str | None = None,
    feature_refs: Sequence[str] | None = None,
    full_feature_names: bool = False,
    on_demand_feature_views: Sequence[OnDemandFeatureView] = (),
    repo_path: Path | str | None = None,
    progress: ProgressCallback | None = None,
    strategy: Strategy = "auto",
) -> SparkRetrievalJob:
    """A job joining ``views`` point-in-time onto ``entity_df`` on Spark (``join``'s rules).

    A SQL entity frame is DuckDB SQL over ``project``'s tables, as on the DuckDB path;
    its rows reach Spark through Arrow.
    """
    con = connect(project)
    try:
        entities = register_entities(con, entity_df, timestamp_column)
        request = check_request(con, entities, views)
        types = [_feature_types(con, view) for view, _ in request.views]
        frame = _read_entities(con, entities)
        # The statistics from the rows read (a SQL frame runs once), timestamp now UTC.
        column = entities.timestamp_column
        read = EntityFrame(
            "__fs_read", {**entities.types, column: "TIMESTAMP WITH TIME ZONE"}, column
        )
        con.register(read.relation, frame)
        stats = entity_stats(con, read, [list(v.join_keys.values()) for v in views])
    finally:
        con.close()
    plan = plan_join(spark, frame, entities.timestamp_column, request, types, stats, strategy)
    context = JobContext.of(
        views,
        entities,
        stats,
        feature_refs,
        full_feature_names=full_feature_names,
        on_demand_feature_views=on_demand_feature_views,
        repo_path=repo_path,
        progress=progress,
    )
    return SparkRetrievalJob(spark, plan, context)


def plan_join(
    spark: SparkSession,
    frame: pa.Table,
    timestamp_column: str,
    request: CheckedRequest,
    types: Sequence[list[pa.DataType]],
    stats: EntityStats,
    strategy: Strategy = "auto",
) -> SparkJoin:
    """The Spark plan of a checked request over the entity frame ``frame`` (with ROW)."""
    from pyspark.sql import functions as F

    key_names = list(dict.fromkeys(k for v, _ in request.views for k in v.join_keys.values()))
    key_alias = {name: f"__fs_k{i}" for i, name in enumerate(key_names)}
    narrow = spark_compatible(
        pa.table(
            [frame[ROW], *(frame[k] for k in key_names), _micros(frame[timestamp_column])],
            names=[ROW, *key_alias.values(), _TS],
        )
    )
    entity_spark = spark.createDataFrame(narrow, schema=_spark_schema(narrow))
    matches: list[DataFrame] = []
    outputs: list[tuple[int, str, str, pa.DataType]] = []
    strategies: dict[str, str] = {}
    for i, ((view, _), arrow_types) in enumerate(zip(request.views, types, strict=True)):
        chosen = choose_strategy(view, stats) if strategy == "auto" else strategy
        chosen = chosen if view.has_ttl else "asof"  # range needs a TTL
        strategies[view.name] = chosen
        names = {f: f"__fs_v{i}_{j}" for j, f in enumerate(view.features)}
        keys = [key_alias[e] for e in view.join_keys.values()]
        table = _feature_rows(spark, view, key_alias, names, (stats.start, stats.end))
        entity = entity_spark.select(ROW, *keys, _TS).where(
            _all([F.col(c).isNotNull() for c in (*keys, _TS)])
        )
        match = (_range if chosen == "range" else _asof)(entity, table, view, keys, names)
        matches.append(match)
        outputs += [
            (i, names[f], out, t)
            for (f, out), t in zip(view.features.items(), arrow_types, strict=True)
        ]
    return SparkJoin(frame, entity_spark.select(ROW), matches, outputs, request.columns, strategies)


def _range(
    entity: DataFrame, table: DataFrame, view: ViewSpec, keys: list[str], names: dict[str, str]
) -> DataFrame:
    """Each entity row's latest feature row by a hash join on keys and time bucket."""
    from pyspark.sql import functions as F

    ttl = _ttl_micros(view)
    width = -(-ttl // RANGE_BUCKETS)  # RANGE_BUCKETS buckets cover a TTL
    probes = entity.withColumn(
        _BUCKET, F.explode(F.sequence(_bucket(_TS, width) - RANGE_BUCKETS, _bucket(_TS, width)))
    )
    pairs = probes.join(table.withColumn(_BUCKET, _bucket(_FTS, width)), on=[*keys, _BUCKET])
    pairs = pairs.where((F.col(_FTS) <= F.col(_TS)) & (F.col(_FTS) >= F.col(_TS) - F.lit(ttl)))
    order = F.struct(_FTS, _CTS) if view.created_timestamp_column else F.col(_FTS)
    picked = pairs.groupBy(ROW).agg(F.max_by(F.struct(*names.values()), order).alias(_PICK))
    return picked.select(ROW, *(F.col(f"{_PICK}.{n}").alias(n) for n in names.values()))


def _asof(
    entity: DataFrame, table: DataFrame, view: ViewSpec, keys: list[str], names: dict[str, str]
) -> DataFrame:
    """Each entity row's latest feature row by one sort per key (a window), no pairs."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    created = [_CTS] if view.created_timestamp_column else []
    rows = entity.select(ROW, *keys, F.col(_TS).alias(_TIME), F.lit(1).alias(_KIND))
    candidates = table.select(
        *keys,
        F.col(_FTS).alias(_TIME),
        F.lit(0).alias(_KIND),
        *created,
        F.struct(_FTS, *names.values()).alias(_PICK),
    )
    both = rows.unionByName(candidates, allowMissingColumns=True)
    # At equal times feature rows sort before entity rows (a row at t counts at t), and
    # among them by created timestamp: the last one before an entity row is the pick.
    window = (
        Window.partitionBy(*keys)
        .orderBy(_TIME, _KIND, *created)
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    picked = both.withColumn(_PICK, F.last(_PICK, ignorenulls=True).over(window))
    picked = picked.where((F.col(_KIND) == 1) & F.col(_PICK).isNotNull())
    if view.has_ttl:
        fresh = F.col(f"{_PICK}.{_FTS}") >= F.col(_TIME) - F.lit(_ttl_micros(view))
        picked = picked.where(fresh)
    return picked.select(ROW, *(F.col(f"{_PICK}.{n}").alias(n) for n in names.values()))


def _feature_rows(
    spark: SparkSession,
    view: ViewSpec,
    key_alias: dict[str, str],
    names: dict[str, str],
    window: tuple[datetime | None, datetime | None],
) -> DataFrame:
    """The view's keys, timestamps (UTC microseconds) and features, in the window."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    table = read_table(spark, view.path)
    start, end = window
    earliest = start - view.ttl if start is not None and view.has_ttl and view.ttl else None
    event = _column(view.timestamp_field)
    if isinstance(table.schema[view.timestamp_field].dataType, TimestampType):
        # On a TIMESTAMP column the window is also a filter Spark pushes into the scan.
        pushed = [event <= F.lit(end)] if end is not None else []
        pushed += [event >= F.lit(earliest)] if earliest is not None else []
        table = table.where(_all(pushed)) if pushed else table
    selects = [
        _column(view.source_column(k)).alias(key_alias[e]) for k, e in view.join_keys.items()
    ]
    selects.append(F.unix_micros(event.cast("timestamp")).alias(_FTS))
    if view.created_timestamp_column:
        created = F.unix_micros(_column(view.created_timestamp_column).cast("timestamp"))
        selects.append(F.coalesce(created, F.lit(_LONG_MIN)).alias(_CTS))
    selects += [_column(view.source_column(f)).alias(n) for f, n in names.items()]
    keys = [key_alias[e] for e in view.join_keys.values()]
    exact = [F.col(c).isNotNull() for c in (_FTS, *keys)]
    if end is not None:
        exact.append(F.col(_FTS) <= F.lit(_to_micros(end)))
    if earliest is not None:
        exact.append(F.col(_FTS) >= F.lit(_to_micros(earliest)))
    return table.select(*selects).where(_all(exact))


def read_table(spark: SparkSession, path: str) -> DataFrame:
    """A Feast file source as Spark reads it: one Parquet file, a hive-partitioned folder
    (a table's link resolved to its version, so one job reads one version) or a glob."""
    if "**" in path:
        raise InvalidRequestError(
            f"Spark's globs have no '**' (recursive) pattern: {path}; name the table's folder"
        )
    reader = spark.read
    if "://" not in path and not any(ch in path for ch in "*?["):
        path = os.path.realpath(path)
    elif any(ch in path for ch in "*?["):
        parts = path.split("/")
        first = next(i for i, part in enumerate(parts) if any(ch in part for ch in "*?["))
        reader = reader.option("basePath", "/".join(parts[:first]) or "/")
    with _listing_on_driver(spark):
        return reader.parquet(path)


_LISTING = "spark.sql.sources.parallelPartitionDiscovery.threshold"
_listing_lock = threading.Lock()


@contextmanager
def _listing_on_driver(spark: SparkSession) -> Iterator[None]:
    """On a local master, list a table's folders on the driver: Spark's listing job for
    more than 32 folders costs about 2 s per table of 365 day partitions on 2 cores,
    listing them directly 0.1 s. Results are the same either way; on a cluster Spark's
    own setting stays."""
    if not (spark.sparkContext.master or "").startswith("local"):
        yield
        return
    with _listing_lock:
        before = spark.conf.get(_LISTING)
        spark.conf.set(_LISTING, str(2**31 - 1))
        try:
            yield
        finally:
            if before is None:
                spark.conf.unset(_LISTING)
            else:
                spark.conf.set(_LISTING, before)


class SparkRetrievalJob(TrainingRetrievalJob):
    """The training frame on Spark, computed when asked for; ``progress`` reports it."""

    def __init__(self, spark: SparkSession, plan: SparkJoin, context: JobContext) -> None:
        super().__init__(plan, context)
        self._spark = spark
        self._plan = plan

    def to_spark_df(self) -> DataFrame:
        """The training frame as a Spark DataFrame, in the entity frame's order (Spark's
        types; on-demand views not applied)."""
        from pyspark.sql import functions as F

        plan = self._plan
        entities = spark_compatible(plan.entities)
        frame = self._spark.createDataFrame(entities, schema=_spark_schema(entities))
        joined = frame.join(plan.features, on=ROW, how="left").orderBy(ROW)
        entity_columns = [c for c in plan.entities.column_names if c != ROW]
        return joined.select(
            *(_column(c) for c in entity_columns),
            *(F.col(inner).alias(out) for _, inner, out, _ in plan.outputs),
        )

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        plan = self._plan
        matched = run_with_progress(self._spark, plan.collect_matches, self.progress)
        entities = plan.entities
        orders = [_positions(table[ROW], entities.num_rows) for table in matched]
        columns = [entities[c] for c in entities.column_names if c != ROW]
        fields = [entities.schema.field(c) for c in entities.column_names if c != ROW]
        for view, inner, out, arrow_type in plan.outputs:
            values = matched[view][inner].take(orders[view])
            columns.append(values.cast(arrow_type) if values.type != arrow_type else values)
            fields.append(pa.field(out, arrow_type))
        return pa.Table.from_arrays(columns, schema=pa.schema(fields))

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        return self._to_arrow_internal(timeout).to_pandas()

    def to_parquet(self, path: Path | str) -> int:
        """Write the result to one Parquet file (zstd), collected on the driver first;
        the number of rows written."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        table = self.to_arrow()
        pq.write_table(table, target, compression="zstd", row_group_size=122_880)
        return table.num_rows


def spark_compatible(table: pa.Table) -> pa.Table:
    """``table`` with the Arrow types Spark cannot take made ones it can, losslessly
    where Spark has one: nanoseconds floored to microseconds, unsigned integers
    widened, dictionaries decoded, string and binary views made plain."""
    columns = []
    for column in table.columns:
        target = _spark_type(column.type)
        columns.append(column if target == column.type else _cast(column, target))
    return pa.table(columns, names=table.column_names)


def _spark_type(arrow_type: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(arrow_type):
        return _spark_type(arrow_type.value_type)
    if pa.types.is_timestamp(arrow_type) and arrow_type.unit != "us":
        return pa.timestamp("us", tz=arrow_type.tz)
    if pa.types.is_unsigned_integer(arrow_type):
        return pa.decimal128(20, 0) if arrow_type.bit_width == 64 else pa.int64()
    if pa.types.is_string_view(arrow_type) or pa.types.is_large_string(arrow_type):
        return pa.string()
    if pa.types.is_binary_view(arrow_type) or pa.types.is_large_binary(arrow_type):
        return pa.binary()
    if pa.types.is_float16(arrow_type):
        return pa.float32()
    if pa.types.is_date64(arrow_type):
        return pa.date32()
    return arrow_type


def _cast(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(column.type):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        return pc.floor_temporal(column, unit="microsecond").cast(target)
    return column.cast(target)


def _spark_schema(table: pa.Table) -> Any:
    """Spark's schema for ``table`` (given explicitly, so an empty frame has types)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(table.schema)


def _read_entities(con: duckdb.DuckDBPyConnection, entities: EntityFrame) -> pa.Table:
    """The entity frame as the DuckDB join outputs it (timestamp as UTC microseconds,
    floored), with its row number, in input order."""
    column = entities.timestamp_column
    selects = [
        f"{utc_micros(quote(c), entities.types[c])} AS {quote(c)}" if c == column else quote(c)
        for c in entities.columns
    ]
    query = f"SELECT {', '.join(selects)}, {ROW} FROM {entities.relation} ORDER BY {ROW}"
    return con.sql(query).to_arrow_table()


def _feature_types(con: duckdb.DuckDBPyConnection, view: ViewSpec) -> list[pa.DataType]:
    """The Arrow types DuckDB gives the view's feature columns (a schema, no rows read)."""
    selects = ", ".join(quote(view.source_column(f)) for f in view.features)
    schema = con.sql(f"SELECT {selects} FROM {parquet_scan(view.path)} LIMIT 0").to_arrow_table()
    return list(schema.schema.types)


def _positions(rows: pa.ChunkedArray, count: int) -> pa.Array:
    """Where each entity row (0..count-1) is among one view's matched rows ``rows``
    (null where it matched none); a view matches an entity row at most once."""
    numbers = rows.to_numpy()
    if len(np.unique(numbers)) != len(numbers):
        raise AssertionError("a view matched an entity row twice")
    order = np.full(count, -1, dtype=np.int64)
    order[numbers] = np.arange(len(numbers), dtype=np.int64)
    return pa.array(order, mask=order < 0)


def _micros(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A UTC microsecond timestamp column as its ``long`` microseconds (nulls kept)."""
    if pa.types.is_null(column.type):
        return pa.chunked_array([pa.nulls(len(column), pa.int64())])
    return column.cast(pa.int64())


def _to_micros(ts: datetime) -> int:
    """An aware datetime as UTC microseconds since 1970."""
    return (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _ttl_micros(view: ViewSpec) -> int:
    assert view.ttl is not None
    return view.ttl // timedelta(microseconds=1)


def _bucket(column: str, width: int) -> Column:
    """The ``width``-microsecond bucket of a ``long`` column, floored (also before 1970)."""
    from pyspark.sql import functions as F

    return F.expr(f"({column} - pmod({column}, {width}L)) div {width}L")


def _column(name: str) -> Column:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def _all(conditions: Sequence[Column]) -> Column:
    result = conditions[0]
    for condition in conditions[1:]:
        result = result & condition
    return result
