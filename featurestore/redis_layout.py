"""Feast's Redis layout, computed in bulk: keys and hash field names.

Feast's Redis online store keeps one hash per entity key and project:

- key: the entity key serialized (version 3: u32le number of join keys; per join key,
  sorted by name, u32le STRING tag, u32le length, the name; then per value, in the same
  order, u32le value type tag, u32le length, the value bytes), followed by the project name;
- one field per feature: the 4 little-endian bytes of the unsigned murmur3 32-bit hash of
  ``"{feature_view}:{feature}"``, holding a serialized ``feast.types.Value``;
- one field per feature view: ``_ts:{feature_view}``, holding a serialized
  ``google.protobuf.Timestamp`` of the row's event time.

These functions produce exactly those bytes (tests compare them with Feast's own code)
without building a protobuf per entity.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import mmh3

from featurestore.value_types import ValueType

SUPPORTED_KEY_TYPES = (
    ValueType.STRING,
    ValueType.BYTES,
    ValueType.INT32,
    ValueType.INT64,
    ValueType.UNIX_TIMESTAMP,
)
_U32 = struct.Struct("<I")


@lru_cache(maxsize=4096)
def feature_field(feature_view: str, feature: str) -> bytes:
    """The hash field of one feature: murmur3_32 of ``view:feature``, 4 bytes little-endian."""
    return _U32.pack(mmh3.hash(f"{feature_view}:{feature}", signed=False))


def ts_field(feature_view: str) -> bytes:
    """The hash field holding a feature view's event timestamp."""
    return f"_ts:{feature_view}".encode()


def _value_bytes(value_type: ValueType, value: Any) -> bytes:
    if value_type == ValueType.STRING:
        return str(value).encode("utf8")
    if value_type == ValueType.BYTES:
        return bytes(value)
    if value_type == ValueType.INT32:
        return struct.pack("<i", int(value))
    if value_type in (ValueType.INT64, ValueType.UNIX_TIMESTAMP):
        return struct.pack("<q", int(value))
    raise ValueError(f"entity keys of type {value_type.name} are not supported by Feast")


class KeyEncoder:
    """Builds Redis keys for one set of join keys (any order) in one project."""

    def __init__(
        self, project: str, join_keys: Sequence[str], value_types: Sequence[ValueType]
    ) -> None:
        if len(join_keys) != len(value_types):
            raise ValueError("one value type per join key")
        for value_type in value_types:
            if value_type not in SUPPORTED_KEY_TYPES:
                raise ValueError(f"entity keys of type {value_type.name} are not supported")
        # Feast sorts (join key, value) pairs by join key when there is more than one.
        self.order = sorted(range(len(join_keys)), key=lambda i: join_keys[i])
        self.value_types = [value_types[i] for i in self.order]
        names = [join_keys[i].encode("utf8") for i in self.order]
        head = [_U32.pack(len(names))]
        for name in names:
            head += [_U32.pack(ValueType.STRING.value), _U32.pack(len(name)), name]
        self.prefix = b"".join(head)
        self.suffix = project.encode("utf8")
        self.tags = [_U32.pack(t.value) for t in self.value_types]

    def key(self, values: Sequence[Any]) -> bytes:
        """The key of one entity, ``values`` in the order of the ``join_keys`` given."""
        parts = [self.prefix]
        for position, tag, value_type in zip(self.order, self.tags, self.value_types, strict=True):
            data = _value_bytes(value_type, values[position])
            parts += [tag, _U32.pack(len(data)), data]
        parts.append(self.suffix)
        return b"".join(parts)

    def keys(self, columns: Sequence[Sequence[Any]]) -> list[bytes]:
        """Keys of many entities, given as one column of values per join key."""
        return [self.key(row) for row in zip(*columns, strict=True)]
