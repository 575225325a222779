"""Materializing one feature view: DuckDB's latest rows, encoded in bulk, written to Redis."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from featurestore.errors import InvalidWindowError
from featurestore.materialize.keys import encode_keys
from featurestore.materialize.plan import ViewPlan
from featurestore.materialize.progress import ProgressReporter, ViewStats
from featurestore.materialize.query import (
    ROWS_COLUMN,
    TS_COLUMN,
    DuckDBOptions,
    connect,
    latest_rows,
)
from featurestore.materialize.timestamps import epoch_micros, timestamp_bytes
from featurestore.materialize.values import encode_values
from featurestore.materialize.writer import RedisWriter
from featurestore.redis_client import OnlineClient
from featurestore.redis_layout import KeyEncoder, feature_field, ts_field

DEFAULT_BATCH_SIZE = 20_000  # small enough that encoding overlaps Redis from the start


@dataclass(frozen=True)
class MaterializeOptions:
    batch_size: int = DEFAULT_BATCH_SIZE
    key_ttl_seconds: int | None = None
    skip_dedup: bool = False  # Feast's option: write without reading stored event times
    duckdb: DuckDBOptions = field(default_factory=DuckDBOptions)
    progress: bool = True


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_window(start: datetime, end: datetime) -> None:
    if _aware(start) > _aware(end):
        raise InvalidWindowError(start, end)


def key_encoder(plan: ViewPlan) -> KeyEncoder:
    return KeyEncoder(
        plan.project, [c.name for c in plan.join_keys], [c.value_type for c in plan.join_keys]
    )


def view_writer(plan: ViewPlan, client: OnlineClient, options: MaterializeOptions) -> RedisWriter:
    fields = [feature_field(plan.view, c.name) for c in plan.features]
    return RedisWriter(
        client, ts_field(plan.view), fields, options.key_ttl_seconds, options.skip_dedup
    )


def write_batch(
    plan: ViewPlan,
    encoder: KeyEncoder,
    writer: RedisWriter,
    batch: pa.RecordBatch,
    stats: ViewStats,
) -> None:
    """Encode one batch of latest rows (``latest_rows``' columns) and write it; the
    counts go to ``stats``. Both engines' materializations write through here."""
    keys = encode_keys(encoder, [batch.column(c.name) for c in plan.join_keys])
    values = [encode_values(batch.column(c.name), c.value_type) for c in plan.features]
    micros = epoch_micros(batch.column(TS_COLUMN))
    outcome = writer.write(keys, values, timestamp_bytes(micros), micros * 1_000)
    stats.rows_scanned += int(pc.sum(batch.column(ROWS_COLUMN)).as_py() or 0)
    stats.entities += batch.num_rows
    stats.written += outcome.written
    stats.skipped += outcome.skipped


def materialize_view(
    plan: ViewPlan,
    client: OnlineClient,
    start: datetime,
    end: datetime,
    options: MaterializeOptions | None = None,
    reporter: ProgressReporter | None = None,
) -> ViewStats:
    """Write the latest row per entity of ``plan``'s view in ``[start, end]`` into Redis."""
    options = options or MaterializeOptions()
    check_window(start, end)
    reporter = reporter or ProgressReporter(enabled=options.progress)
    if plan.pushed and not Path(plan.source_path).exists():
        stats = ViewStats(plan.view)  # no pushed rows compacted yet: nothing to write
        reporter.start(stats)
        stats.finish()
        reporter.finish(stats, True)
        return stats
    encoder = key_encoder(plan)
    stats = ViewStats(plan.view)
    con = connect(options.duckdb)
    writer = view_writer(plan, client, options)
    reporter.start(stats)
    done = False
    try:
        with writer:
            for batch in latest_rows(con, plan, start, end, options.batch_size):
                if batch.num_rows:
                    write_batch(plan, encoder, writer, batch, stats)
                    reporter.update(stats)
        done = True
    finally:
        con.close()
        stats.finish()
        reporter.finish(stats, done)
    return stats
