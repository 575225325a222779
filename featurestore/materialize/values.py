"""Arrow columns to serialized ``feast.types.Value`` protobufs, a column at a time.

The bytes equal ``python_values_to_proto_values(values, value_type)[i].SerializeToString()``
(tests/featurestore/materialize/test_values.py checks every type), including Feast's
rules for missing values: a null, and a NaN float, become an empty ``Value`` (``b""``).

One deliberate difference, a Feast bug: Feast writes a null ``UNIX_TIMESTAMP`` as
``unix_timestamp_val = -2**63`` (NaT's integer), which its own reader cannot turn back
into a time; we write an empty ``Value``, as for every other type.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.materialize.wire import tagged_bytes, tagged_fixed, tagged_varints
from featurestore.value_types import ValueType

# Field numbers of feast.types.Value, shifted into tag bytes with their wire type.
_BYTES_TAG = (1 << 3) | 2
_STRING_TAG = (2 << 3) | 2
_INT32_TAG = (3 << 3) | 0
_INT64_TAG = (4 << 3) | 0
_DOUBLE_TAG = (5 << 3) | 1
_FLOAT_TAG = (6 << 3) | 5
_BOOL_TAG = (7 << 3) | 0
_UNIX_TIMESTAMP_TAG = (8 << 3) | 0

_UNITS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}

SUPPORTED_VALUE_TYPES = (
    ValueType.INT32,
    ValueType.INT64,
    ValueType.FLOAT,
    ValueType.DOUBLE,
    ValueType.BOOL,
    ValueType.STRING,
    ValueType.BYTES,
    ValueType.UNIX_TIMESTAMP,
)


def _present(column: pa.Array) -> npt.NDArray[np.bool_]:
    return ~np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _numbers(column: pa.Array, arrow_type: pa.DataType, fill: object) -> np.ndarray:
    # Feast goes through numpy, where a float column holding whole numbers feeds an
    # integer type; an unsafe cast keeps that behaviour (truncation toward zero).
    cast = column.cast(arrow_type, safe=False) if column.type != arrow_type else column
    return np.asarray(pc.fill_null(cast, fill).to_numpy(zero_copy_only=False))


def _fixed(tag: int, values: np.ndarray, present: npt.NDArray[np.bool_]) -> pa.BinaryArray:
    raw = np.ascontiguousarray(values).view(np.uint8).reshape(len(values), values.itemsize)
    return tagged_fixed(tag, raw, present)


def encode_values(column: pa.Array | pa.ChunkedArray, value_type: ValueType) -> pa.BinaryArray:
    """Serialized ``Value`` protobufs of one column, as a binary array of equal length."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    present = _present(column)
    if value_type in (ValueType.INT32, ValueType.INT64):
        width = pa.int32() if value_type == ValueType.INT32 else pa.int64()
        if pa.types.is_floating(column.type):
            present &= ~np.isnan(np.asarray(pc.fill_null(column, 0).to_numpy()))
            column = pc.if_else(pa.array(present), column, None)
        numbers = _numbers(column, width, 0).astype(np.int64)
        tag = _INT32_TAG if value_type == ValueType.INT32 else _INT64_TAG
        return tagged_varints(tag, numbers, present)
    if value_type in (ValueType.DOUBLE, ValueType.FLOAT):
        width, dtype = (
            (pa.float64(), np.dtype("<f8"))
            if value_type == ValueType.DOUBLE
            else (pa.float32(), np.dtype("<f4"))
        )
        numbers = _numbers(column, width, 0.0).astype(dtype, copy=False)
        present &= ~np.isnan(numbers)
        tag = _DOUBLE_TAG if value_type == ValueType.DOUBLE else _FLOAT_TAG
        return _fixed(tag, numbers, present)
    if value_type == ValueType.BOOL:
        flags = _numbers(column, pa.bool_(), False).astype(np.uint8)
        return _fixed(_BOOL_TAG, flags, present)
    if value_type == ValueType.STRING:
        return tagged_bytes(_STRING_TAG, column.cast(pa.string()))
    if value_type == ValueType.BYTES:
        return tagged_bytes(_BYTES_TAG, column)
    if value_type == ValueType.UNIX_TIMESTAMP:
        return tagged_varints(_UNIX_TIMESTAMP_TAG, unix_seconds(column), present)
    raise ValueError(f"value type {value_type.name} is not supported by the materializer")


def unix_seconds(column: pa.Array) -> npt.NDArray[np.int64]:
    """Whole seconds since the epoch, rounded down as numpy's ``datetime64[s]`` cast does."""
    if pa.types.is_timestamp(column.type):
        per_second = _UNITS_PER_SECOND[column.type.unit]
        raw = np.asarray(pc.fill_null(column.cast(pa.int64()), 0).to_numpy(), dtype=np.int64)
        return np.floor_divide(raw, per_second)
    return np.asarray(pc.fill_null(column.cast(pa.int64()), 0).to_numpy(), dtype=np.int64)
