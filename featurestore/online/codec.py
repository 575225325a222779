"""Decoding Feast's Redis values in bulk: ``feast.types.Value`` and ``Timestamp`` bytes.

Feast stores each feature value as a serialized ``feast.types.Value`` protobuf and each
feature view's event time as a serialized ``google.protobuf.Timestamp``. Building a
protobuf object per value costs more than the Redis round trip for a 100-entity request,
so the scalar types (nearly every feature) are decoded straight from the wire bytes;
anything else (lists, maps, sets, JSON, ...) goes through the protobuf and Feast's own
converter, so the JSON values are exactly those of ``feast serve``.

A decoded value is a pair ``(value, is_null)``; ``is_null`` is true for an empty
``Value`` (Feast's null), an explicit ``null_val`` and the ``unix_timestamp_val`` that
Feast writes for a missing timestamp (int64 min).
"""

from __future__ import annotations

import math
import struct
from base64 import b64encode
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from feast.feature_server_utils import _value_to_native
from feast.protos.feast.types.Value_pb2 import Value
from google.protobuf.timestamp_pb2 import Timestamp

__all__ = ["EPOCH", "NULL_TIMESTAMP", "decode_timestamp", "decode_value"]

EPOCH = "1970-01-01T00:00:00Z"
NULL_TIMESTAMP = -(2**63)  # what Feast stores for a missing (NaT) timestamp
_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")

# Wire tags (field number << 3 | wire type) of the scalar members of feast.types.Value.
_BYTES, _STRING, _INT32, _INT64 = 0x0A, 0x12, 0x18, 0x20
_DOUBLE_TAG, _FLOAT_TAG, _BOOL, _UNIX_TS = 0x29, 0x35, 0x38, 0x40


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def decode_value(data: bytes) -> tuple[Any, bool]:
    """One serialized ``feast.types.Value`` as its JSON value, as ``feast serve`` gives it."""
    if not data:
        return None, True
    tag = data[0]
    size = len(data)
    if tag == _DOUBLE_TAG and size == 9:
        return _float(_DOUBLE.unpack_from(data, 1)[0]), False
    if tag in (_INT64, _UNIX_TS):
        value, end = _varint(data, 1)
        if end == size:
            value = _signed64(value)
            if tag == _UNIX_TS and value == NULL_TIMESTAMP:
                return None, True
            return value, False
    elif tag == _STRING:
        length, start = _varint(data, 1)
        if start + length == size:
            return data[start:].decode("utf-8"), False
    elif tag == _FLOAT_TAG and size == 5:
        return _float(_FLOAT.unpack_from(data, 1)[0]), False
    elif tag == _INT32:
        value, end = _varint(data, 1)
        if end == size:
            return _signed64(value), False
    elif tag == _BOOL and size == 2:
        return data[1] != 0, False
    elif tag == _BYTES:
        length, start = _varint(data, 1)
        if start + length == size:
            return b64encode(data[start:]).decode("ascii"), False
    return _decode_slow(data)


def _decode_slow(data: bytes) -> tuple[Any, bool]:
    proto = Value.FromString(data)
    which = proto.WhichOneof("val")
    if which is None or which == "null_val":
        return None, True
    return _value_to_native(proto), False


@lru_cache(maxsize=65536)
def decode_timestamp(data: bytes) -> tuple[float, str]:
    """A serialized ``google.protobuf.Timestamp`` as (epoch seconds, RFC 3339 with ``Z``)."""
    ts = Timestamp.FromString(data)
    seconds, nanos = ts.seconds, ts.nanos
    if seconds == 0 and nanos == 0:
        return 0.0, EPOCH
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos == 0:
        text = base + "Z"
    elif nanos % 1_000_000 == 0:
        text = f"{base}.{nanos // 1_000_000:03d}Z"
    elif nanos % 1_000 == 0:
        text = f"{base}.{nanos // 1_000:06d}Z"
    else:
        text = f"{base}.{nanos:09d}Z"
    return seconds + nanos / 1e9, text
