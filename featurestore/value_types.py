"""Feast's value types, as our encoders, key builders and validators name them, without
importing Feast.

``ValueType`` has the members of ``feast.value_type.ValueType`` with the same numbers
(those of the ``feast.types.ValueType`` protobuf enum, which also tag the join keys in a
Redis key), and ``ValueType.of`` converts Feast's where a definition is read. The code a
Spark executor runs (the value and key encoders, the Redis writer) imports this instead
of Feast, whose ``import feast`` costs each fresh Python worker about 3.4 s;
``tests/featurestore/test_value_types.py`` holds the two enums equal.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class ValueType(Enum):
    """One of Feast's value types (a plain ``Enum``, as Feast's: never equal to an int)."""

    UNKNOWN = 0
    BYTES = 1
    STRING = 2
    INT32 = 3
    INT64 = 4
    DOUBLE = 5
    FLOAT = 6
    BOOL = 7
    UNIX_TIMESTAMP = 8
    BYTES_LIST = 11
    STRING_LIST = 12
    INT32_LIST = 13
    INT64_LIST = 14
    DOUBLE_LIST = 15
    FLOAT_LIST = 16
    BOOL_LIST = 17
    UNIX_TIMESTAMP_LIST = 18
    NULL = 19
    MAP = 20
    MAP_LIST = 21
    BYTES_SET = 22
    STRING_SET = 23
    INT32_SET = 24
    INT64_SET = 25
    DOUBLE_SET = 26
    FLOAT_SET = 27
    BOOL_SET = 28
    UNIX_TIMESTAMP_SET = 29
    PDF_BYTES = 30
    IMAGE_BYTES = 31
    JSON = 32
    JSON_LIST = 33
    STRUCT = 34
    STRUCT_LIST = 35
    UUID = 36
    TIME_UUID = 37
    UUID_LIST = 38
    TIME_UUID_LIST = 39
    UUID_SET = 40
    TIME_UUID_SET = 41
    VALUE_LIST = 42
    VALUE_SET = 43
    DECIMAL = 44
    DECIMAL_LIST = 45
    DECIMAL_SET = 46
    SCALAR_MAP = 47
    ZONED_TIMESTAMP = 48

    @classmethod
    def of(cls, feast_type: Any) -> ValueType:
        """Ours for Feast's ``feast.value_type.ValueType`` member ``feast_type``."""
        return cls(feast_type.value)
