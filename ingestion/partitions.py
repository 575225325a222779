"""One pass over a run's checked rows: partition files, rule counts, duplicate keys.

The rows arrive from DuckDB as Arrow batches, sorted by timestamp and entity keys and
tagged with the first rule each breaks (NULL for a good row). In one pass this module

- counts the rows per broken rule and keeps the bad rows (for the quarantine);
- writes the good rows, one Parquet file per day (or hour) partition, in that order,
  so re-runs are byte-identical; the partition of a row follows from its timestamp,
  and sorted by timestamp every partition's rows are one contiguous run;
- notices two good rows with the same keys and timestamp, which the sort makes
  neighbours (and then stops writing: the run is going to fail).

Files are independent and Parquet encoding releases the GIL, so they are written,
and fsynced, by a small thread pool with a bounded backlog.
"""

from __future__ import annotations

from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion import storage

RULE = "__rule"
_ROW_GROUP = 1 << 20
_WRITERS = 8


@dataclass
class Pass:
    """What one pass over the rows found and wrote."""

    rows_in: int = 0
    bad_by_rule: Counter[str] = field(default_factory=Counter)
    bad: list[pa.RecordBatch] = field(default_factory=list)  # every streamed column
    duplicates: bool = False
    files: int = 0

    @property
    def bad_rows(self) -> int:
        return sum(self.bad_by_rule.values())


def write(
    reader: pa.RecordBatchReader,
    staging: Path,
    *,
    grain: str,
    timestamp: str,
    unique: list[str],
    written: list[str],
) -> Pass:
    """Consume ``reader``, writing the good rows' ``written`` columns under ``staging``."""
    result = Pass()
    previous: pa.RecordBatch | None = None
    pending: list[pa.RecordBatch] = []
    current: tuple[int, ...] | None = None
    with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
        backlog: deque[Future[None]] = deque()

        def flush() -> None:
            assert current is not None
            backlog.append(pool.submit(_write_file, staging, grain, current, pending))
            result.files += 1
            while len(backlog) > 4 * _WRITERS:
                backlog.popleft().result()

        for batch in reader:
            result.rows_in += batch.num_rows
            good = _split_bad(batch, result).select(written)
            if result.duplicates or good.num_rows == 0:
                continue
            if _adjacent_duplicates(good, previous, unique):
                result.duplicates = True  # keep counting the rules, stop writing
                continue
            previous = good.slice(good.num_rows - 1, 1)
            keys = _partition_keys(good.column(timestamp), grain)
            starts = [0, *_change_points(keys)]
            for begin, end in zip(starts, [*starts[1:], good.num_rows], strict=True):
                key = _partition_values(keys, begin)
                if key != current and pending:
                    flush()
                    pending = []
                current = key
                pending.append(good.slice(begin, end - begin))
        if pending and not result.duplicates:
            flush()
        for future in backlog:
            future.result()
    return result


def _split_bad(batch: pa.RecordBatch, result: Pass) -> pa.RecordBatch:
    """The good rows of ``batch``; the bad ones are counted and kept in ``result``."""
    rule = batch.column(RULE)
    if rule.null_count == batch.num_rows:
        return batch
    bad = batch.filter(pc.is_valid(rule))
    for entry in pc.value_counts(bad.column(RULE)).to_pylist():
        result.bad_by_rule[entry["values"]] += entry["counts"]
    result.bad.append(bad)
    return batch.filter(pc.is_null(rule))


def _partition_keys(timestamps: pa.Array, grain: str) -> list[pa.Array]:
    """Per row, the day (as date32) and, for the hour grain, the hour of its partition."""
    days = timestamps if pa.types.is_date(timestamps.type) else pc.cast(timestamps, pa.date32())
    if grain != "hour":
        return [days]
    hours = (
        pc.hour(timestamps)
        if pa.types.is_timestamp(timestamps.type)
        else pc.multiply(pc.cast(days, pa.int32()), 0)
    )
    return [days, hours]


def _partition_values(keys: list[pa.Array], row: int) -> tuple[int, ...]:
    """``partition_date`` as yyyymmdd, and ``partition_hour`` for the hour grain."""
    day: date = keys[0][row].as_py()
    values = [day.year * 10_000 + day.month * 100 + day.day]
    values += [int(hours[row].as_py()) for hours in keys[1:]]
    return tuple(values)


def _change_points(columns: list[pa.Array]) -> list[int]:
    """Row numbers where any of the (sorted) partition columns changes value."""
    changed: pa.Array | None = None
    for column in columns:
        differs = pc.not_equal(column.slice(1), column.slice(0, len(column) - 1))
        changed = differs if changed is None else pc.or_(changed, differs)
    if changed is None:
        return []
    return [i + 1 for i in pc.indices_nonzero(changed).to_pylist()]


def _adjacent_duplicates(
    batch: pa.RecordBatch, previous: pa.RecordBatch | None, names: list[str]
) -> bool:
    rows = pa.Table.from_batches([previous, batch]) if previous is not None else batch
    same: pa.Array | None = None
    for name in names:
        column = rows.column(name)
        equal = pc.equal(column.slice(1), column.slice(0, len(column) - 1))
        same = equal if same is None else pc.and_(same, equal)
    return same is not None and bool(pc.any(same).as_py())


def _write_file(
    staging: Path, grain: str, values: tuple[int, ...], batches: list[pa.RecordBatch]
) -> None:
    names = storage.PARTITION_COLUMNS[grain]
    folder = staging.joinpath(*(f"{n}={v}" for n, v in zip(names, values, strict=True)))
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_batches(batches).combine_chunks()
    # Encoded in memory and written with one call: a small file costs a few system
    # calls rather than one per page and column chunk.
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=_ROW_GROUP, compression="zstd")
    storage.write_file(folder / "part-0.parquet", memoryview(sink.getvalue()))
    storage.fsync_path(folder)
    if len(names) > 1:  # date/hour: the hour folder's entry is in the date folder
        storage.fsync_path(folder.parent)  # (the staging root is fsynced at commit)
