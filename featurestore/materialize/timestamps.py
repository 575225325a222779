"""Event times as Feast stores them: ``google.protobuf.Timestamp`` bytes in ``_ts:view``.

Feast turns each event time into a Python ``datetime`` (dropping anything finer than a
microsecond) and then into a ``Timestamp`` (``seconds`` rounded down, ``nanos`` in
``[0, 1e9)``); fields equal to zero are omitted, as protobuf does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf.timestamp_pb2 import Timestamp

from featurestore.materialize.wire import tagged_varints

_SECONDS_TAG = (1 << 3) | 0
_NANOS_TAG = (2 << 3) | 0


def epoch_micros(column: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """Microseconds since the epoch, truncated like ``Timestamp.to_pydatetime()``."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_timestamp(column.type):
        raise ValueError(f"event timestamps must be a timestamp column, not {column.type}")
    raw = np.asarray(column.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    unit = column.type.unit
    if unit == "s":
        return raw * 1_000_000
    if unit == "ms":
        return raw * 1_000
    if unit == "ns":
        # pandas' to_pydatetime drops the nanoseconds, rounding toward the earlier time.
        return np.floor_divide(raw, 1_000)
    return raw


def timestamp_bytes(micros: npt.NDArray[np.int64]) -> pa.BinaryArray:
    """Serialized ``Timestamp`` protobufs, one per event time in microseconds."""
    seconds = np.floor_divide(micros, 1_000_000)
    nanos = (micros - seconds * 1_000_000) * 1_000
    head = tagged_varints(_SECONDS_TAG, seconds, seconds != 0)
    tail = tagged_varints(_NANOS_TAG, nanos, nanos != 0)
    return pc.binary_join_element_wise(head, tail, b"")


def stored_nanos(value: bytes | None) -> int:
    """The event time, in nanoseconds, held in a ``_ts:view`` field (0 when absent)."""
    if not value:
        return 0
    stamp = Timestamp.FromString(value)
    return int(stamp.seconds) * 1_000_000_000 + int(stamp.nanos)


def stored_nanos_of(replies: Iterable[Sequence[bytes | None]], count: int) -> npt.NDArray[np.int64]:
    """The event times, in nanoseconds, of ``count`` ``HMGET key _ts:view`` replies, in
    order (0 where a key holds none)."""
    out = np.zeros(count, dtype=np.int64)
    for row, reply in enumerate(replies):
        value = reply[0]
        if value:
            out[row] = stored_nanos(value)
    return out
