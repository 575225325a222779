"""Materializing one feature view on Spark: the latest row per entity computed by Spark,
encoded and written to Redis by the executors, in parallel.

The semantics are those of ``featurestore.materialize.query`` (Feast's): rows whose
event time lies in ``[start, end]``, both ends included, with no null join key; per
entity the row with the latest event time, and among equal event times the latest
created timestamp (a missing one loses). Spark's ``max_by`` over a struct of the
features picks it, so no sort of the window's rows happens: one shuffle by entity.

Each executor task writes its entities through the same code as the DuckDB engine
(``featurestore.materialize.engine.write_batch``: our encoder, ``RedisWriter``,
Feast's newer-event-time-wins rule, key TTL) to the Redis the project's URL names, a
cluster included, and returns its counts; the driver adds them up. The source's
columns are checked first, by the DuckDB engine's check, so a missing column is the
same error on both engines. On a real cluster the executors need this package and
network access to Redis; in local mode they are the driver machine's Python workers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from featurestore import sql
from featurestore.engine import SparkSettings
from featurestore.errors import (
    FeatureStoreError,
    MaterializationError,
    OnlineStoreUnavailableError,
    SourceError,
)
from featurestore.materialize.engine import (
    MaterializeOptions,
    check_window,
    key_encoder,
    view_writer,
    write_batch,
)
from featurestore.materialize.plan import ViewPlan
from featurestore.materialize.progress import ProgressReporter, ViewStats
from featurestore.materialize.query import ROWS_COLUMN, TS_COLUMN, _check_source
from featurestore.spark.session import java_message, spark_session

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

_COUNTS = "rows_scanned long, entities long, written long, skipped long"


@dataclass(frozen=True)
class _Target:
    """What an executor needs to write (pickled to it)."""

    plan: ViewPlan
    redis_url: str
    timeout: float
    options: MaterializeOptions


def materialize_view(
    plan: ViewPlan,
    redis_url: str,
    start: datetime,
    end: datetime,
    settings: SparkSettings,
    options: MaterializeOptions | None = None,
    reporter: ProgressReporter | None = None,
    timeout: float = 5.0,
) -> ViewStats:
    """Write the latest row per entity of ``plan``'s view in ``[start, end]`` into the
    Redis at ``redis_url``, from Spark's executors."""
    options = options or MaterializeOptions()
    check_window(start, end)
    reporter = reporter or ProgressReporter(enabled=options.progress)
    stats = ViewStats(plan.view)
    reporter.start(stats)
    done = False
    try:
        from pathlib import Path

        if not (plan.pushed and not Path(plan.source_path).exists()):
            con = sql.connect(threads=1)
            try:
                types = _check_source(con, plan, sql.parquet_scan(plan.source_path))
            finally:
                con.close()
            frame = latest_rows(plan, start, end, types, settings)
            target = _Target(plan, redis_url, timeout, options)
            try:
                # One counts row per task, added up here (no further Spark stage).
                counts = frame.mapInArrow(
                    lambda batches: _write_partition(target, batches), _COUNTS
                ).collect()
            except Exception as exc:
                raise _failure(plan, exc) from None
            stats.rows_scanned, stats.entities, stats.written, stats.skipped = (
                sum(int(row[i] or 0) for row in counts) for i in range(4)
            )
        done = True
    finally:
        stats.finish()
        reporter.finish(stats, done)
    return stats


def latest_rows(
    plan: ViewPlan,
    start: datetime,
    end: datetime,
    types: dict[str, str],
    settings: SparkSettings,
) -> DataFrame:
    """The latest row per entity as a DataFrame with ``latest_rows``' columns (join keys
    and features under the view's names, ``__event_ts``, ``__rows``)."""
    from pyspark.sql import functions as F

    spark = spark_session(settings)
    try:
        source = spark.read.parquet(plan.source_path)
    except Exception as exc:
        raise SourceError(plan.view, plan.source_path, java_message(exc)) from None
    ts = _timestamp(F.col(plan.timestamp_column), types[plan.timestamp_column])
    rows = source.where(ts.between(_bound(start), _bound(end)))
    for key in plan.join_keys:
        rows = rows.where(F.col(key.source).isNotNull())
    values = F.struct(
        *[F.col(c.source).alias(f"c{i}") for i, c in enumerate(plan.features)],
        ts.alias("ts"),
    )
    if plan.created_column:
        created = _timestamp(F.col(plan.created_column), types[plan.created_column])
        order = F.struct(ts.alias("e"), F.coalesce(created, F.lit(datetime(1, 1, 1))).alias("c"))
    else:
        order = ts
    latest = rows.groupBy(*[F.col(k.source) for k in plan.join_keys]).agg(
        F.max_by(values, order).alias("latest"), F.count(F.lit(1)).alias(ROWS_COLUMN)
    )
    return latest.select(
        *[F.col(k.source).alias(k.name) for k in plan.join_keys],
        *[F.col(f"latest.c{i}").alias(c.name) for i, c in enumerate(plan.features)],
        F.col("latest.ts").alias(TS_COLUMN),
        F.col(ROWS_COLUMN),
    )


def _timestamp(column: Column, kind: str) -> Column:
    """An event or created time as an instant (naive ones are UTC, as on DuckDB)."""
    from pyspark.sql import functions as F

    if kind == "TIMESTAMP WITH TIME ZONE":
        return column
    # A naive timestamp's wall clock, or a date's midnight, is UTC.
    return F.to_utc_timestamp(column.cast("timestamp_ntz"), "UTC")


def _bound(moment: datetime) -> Any:
    from pyspark.sql import functions as F

    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return F.lit(aware.astimezone(UTC))


def _write_partition(
    target: _Target, batches: Iterable[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """On an executor: write this task's entities to Redis; yield its counts."""
    from featurestore.redis_client import online_client
    from featurestore.settings import parse_redis_url

    stats = ViewStats(target.plan.view)
    client = online_client(parse_redis_url(target.redis_url), target.timeout)
    try:
        writer = view_writer(target.plan, client, target.options)
        encoder = key_encoder(target.plan)
        with writer:
            for batch in batches:
                if batch.num_rows:
                    write_batch(target.plan, encoder, writer, _micros(batch), stats)
    finally:
        client.close()
    yield pa.RecordBatch.from_pydict(
        {
            "rows_scanned": [stats.rows_scanned],
            "entities": [stats.entities],
            "written": [stats.written],
            "skipped": [stats.skipped],
        },
        schema=pa.schema(
            [(name, pa.int64()) for name in ("rows_scanned", "entities", "written", "skipped")]
        ),
    )


def _micros(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Spark hands timestamps over in its session's zone; the encoder wants UTC."""
    index = batch.schema.get_field_index(TS_COLUMN)
    column = batch.column(index)
    if pa.types.is_timestamp(column.type) and column.type.tz not in (None, "UTC"):
        column = column.cast(pa.timestamp("us", "UTC"))
        batch = batch.set_column(index, TS_COLUMN, column)
    return batch


def _failure(plan: ViewPlan, exc: BaseException) -> FeatureStoreError:
    """An executor's error (Spark wraps it in its own, with the Python traceback as text)
    as the error the DuckDB engine raises for the same cause."""
    if isinstance(exc, FeatureStoreError):
        return exc
    text = str(exc)
    unavailable = _UNAVAILABLE.search(text)
    if unavailable:
        return OnlineStoreUnavailableError(unavailable.group(1).strip())
    ours = _OURS.search(text)
    if ours:
        return MaterializationError(ours.group(2).strip())
    return MaterializationError(f"{plan.view}: Spark failed: {java_message(exc)}")


_UNAVAILABLE = re.compile(
    r"OnlineStoreUnavailableError: the online store \(Redis\) is unavailable: (.*)"
)
_OURS = re.compile(r"featurestore\.errors\.(\w+): (.*)")
