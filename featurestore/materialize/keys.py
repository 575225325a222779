"""Redis keys of a whole batch of entities, built by Arrow instead of a loop.

The layout (and its prefix, type tags and project suffix) comes from
``featurestore.redis_layout.KeyEncoder``; this module only lays the per-entity parts
(u32le length and the value bytes of each join key) side by side for a column at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.materialize.wire import binary_from_matrix
from featurestore.redis_layout import KeyEncoder
from featurestore.value_types import ValueType


def _fixed_width(values: np.ndarray) -> pa.BinaryArray:
    # u32le length (4 or 8) followed by the little-endian value.
    rows = len(values)
    width = values.itemsize
    matrix = np.empty((rows, 4 + width), dtype=np.uint8)
    matrix[:, :4] = np.frombuffer(np.uint32(width).tobytes(), dtype=np.uint8)
    matrix[:, 4:] = np.ascontiguousarray(values).view(np.uint8).reshape(rows, width)
    return binary_from_matrix(matrix, np.full(rows, 4 + width, dtype=np.int64))


def _variable(data: pa.Array) -> pa.BinaryArray:
    data = data.cast(pa.binary())
    lengths = np.asarray(pc.binary_length(data).to_numpy(), dtype=np.uint32)
    head = np.ascontiguousarray(lengths.astype("<u4")).view(np.uint8).reshape(len(data), 4)
    heads = binary_from_matrix(head, np.full(len(data), 4, dtype=np.int64))
    return pc.binary_join_element_wise(heads, data, b"")


def _value_part(column: pa.Array, value_type: ValueType) -> pa.BinaryArray:
    if value_type == ValueType.STRING:
        return _variable(column.cast(pa.string()))
    if value_type == ValueType.BYTES:
        return _variable(column)
    if value_type == ValueType.INT32:
        return _fixed_width(np.asarray(column.cast(pa.int32()).to_numpy(), dtype="<i4"))
    if value_type in (ValueType.INT64, ValueType.UNIX_TIMESTAMP):
        return _fixed_width(np.asarray(column.cast(pa.int64()).to_numpy(), dtype="<i8"))
    raise ValueError(f"entity keys of type {value_type.name} are not supported")


def encode_keys(encoder: KeyEncoder, columns: Sequence[pa.Array]) -> pa.BinaryArray:
    """The Redis key of each row; ``columns`` in the order of the encoder's join keys."""
    parts: list[pa.Array | bytes] = [encoder.prefix]
    for position, tag, value_type in zip(
        encoder.order, encoder.tags, encoder.value_types, strict=True
    ):
        column = columns[position]
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if column.null_count:
            raise ValueError("an entity key column holds nulls")
        parts += [tag, _value_part(column, value_type)]
    parts += [encoder.suffix, b""]
    return pc.binary_join_element_wise(*parts)
