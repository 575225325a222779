"""Value, key and timestamp bytes equal Feast's own serialization, for every scalar type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore.materialize.keys import encode_keys
from featurestore.materialize.timestamps import epoch_micros, stored_nanos, timestamp_bytes
from featurestore.materialize.values import encode_values
from featurestore.redis_layout import KeyEncoder
from featurestore.value_types import ValueType as Ours

SETTINGS = settings(max_examples=40, deadline=None)
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
TIMES = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def feast_bytes(values: list[object], value_type: ValueType, numpy_dtype: str) -> list[bytes]:
    """Feast's conversion of the exact values (numpy object array, nulls as None)."""
    exact = pa.array(values, type=_ARROW[numpy_dtype]).to_pylist()
    array = np.empty(len(exact), dtype=object)
    array[:] = exact
    return [v.SerializeToString() for v in python_values_to_proto_values(array, value_type)]


_ARROW = {
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "binary": pa.binary(),
}


def ours(values: list[object], value_type: ValueType, arrow: str) -> list[bytes]:
    column = pa.array(values, type=_ARROW[arrow])
    return encode_values(column, Ours.of(value_type)).to_pylist()


@SETTINGS
@given(st.lists(st.one_of(st.none(), INT32), min_size=1))
def test_int32(values: list[int | None]) -> None:
    assert ours(values, ValueType.INT32, "int32") == feast_bytes(values, ValueType.INT32, "int32")


@SETTINGS
@given(st.lists(st.one_of(st.none(), INT64), min_size=1))
def test_int64(values: list[int | None]) -> None:
    assert ours(values, ValueType.INT64, "int64") == feast_bytes(values, ValueType.INT64, "int64")


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.floats(width=64)), min_size=1))
def test_double_with_nan_and_null(values: list[float | None]) -> None:
    assert ours(values, ValueType.DOUBLE, "float64") == feast_bytes(
        values, ValueType.DOUBLE, "float64"
    )


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.floats(width=32)), min_size=1))
def test_float(values: list[float | None]) -> None:
    assert ours(values, ValueType.FLOAT, "float32") == feast_bytes(
        values, ValueType.FLOAT, "float32"
    )


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=False, width=64)), min_size=1))
def test_float_declared_over_a_double_column_rounds_like_protobuf(
    values: list[float | None],
) -> None:
    assume_finite = [v for v in values if v is None or abs(v) < 3e38]
    if not assume_finite:
        return
    assert ours(assume_finite, ValueType.FLOAT, "float64") == feast_bytes(
        assume_finite, ValueType.FLOAT, "float64"
    )


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.booleans()), min_size=1))
def test_bool(values: list[bool | None]) -> None:
    assert ours(values, ValueType.BOOL, "bool") == feast_bytes(values, ValueType.BOOL, "bool")


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.text()), min_size=1))
def test_string(values: list[str | None]) -> None:
    assert ours(values, ValueType.STRING, "string") == feast_bytes(
        values, ValueType.STRING, "string"
    )


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.binary(max_size=300)), min_size=1))
def test_bytes(values: list[bytes | None]) -> None:
    if not any(values):
        return  # Feast quirk, see the next test
    assert ours(values, ValueType.BYTES, "binary") == feast_bytes(values, ValueType.BYTES, "binary")


def test_a_batch_of_only_empty_bytes_stays_bytes_where_feast_writes_nulls() -> None:
    """Feast quirk: when no BYTES value of a batch is non-empty, it infers nothing and
    writes every value as null; an empty byte string is still a value."""
    assert feast_bytes([b"", None], ValueType.BYTES, "binary") == [b"", b""]
    assert feast_bytes([b"", b"x"], ValueType.BYTES, "binary")[0] == b"\n\x00"
    assert ours([b"", None], ValueType.BYTES, "binary") == [b"\n\x00", b""]


@SETTINGS
@given(st.lists(st.one_of(st.none(), INT64.filter(lambda v: abs(v) < 2**53)), min_size=1))
def test_int64_feature_from_a_float_column(values: list[int | None]) -> None:
    """Feast's pandas step turns a nullable integer column into float64 before encoding."""
    floats = [None if v is None else float(v) for v in values]
    assert ours(floats, ValueType.INT64, "float64") == feast_bytes(
        floats, ValueType.INT64, "float64"
    )


@SETTINGS
@given(st.lists(TIMES, min_size=1))
def test_unix_timestamp(values: list[datetime]) -> None:
    column = pa.array(values, type=pa.timestamp("us", tz="UTC"))
    expected = python_values_to_proto_values(
        column.to_numpy(zero_copy_only=False), ValueType.UNIX_TIMESTAMP
    )
    got = encode_values(column, Ours.UNIX_TIMESTAMP).to_pylist()
    assert got == [v.SerializeToString() for v in expected]


def test_null_unix_timestamp_is_an_empty_value_where_feast_writes_int64_min() -> None:
    """Feast bug: a null UNIX_TIMESTAMP becomes unix_timestamp_val=-2**63, not a null."""
    column = pa.array([datetime(2013, 1, 1, tzinfo=UTC), None], type=pa.timestamp("us", "UTC"))
    feast = python_values_to_proto_values(
        column.to_numpy(zero_copy_only=False), ValueType.UNIX_TIMESTAMP
    )
    assert feast[1].unix_timestamp_val == -(2**63)
    got = encode_values(column, Ours.UNIX_TIMESTAMP).to_pylist()
    assert got == [feast[0].SerializeToString(), b""]


@SETTINGS
@given(st.lists(TIMES, min_size=1), st.sampled_from(["us", "ns", "ms", "s"]))
def test_event_timestamp_bytes(values: list[datetime], unit: str) -> None:
    column = pa.array(values, type=pa.timestamp("us", tz="UTC")).cast(
        pa.timestamp(unit, "UTC"), safe=False
    )
    got = timestamp_bytes(epoch_micros(column)).to_pylist()
    expected = []
    for value in column.to_pylist():
        stamp = Timestamp()
        stamp.FromDatetime(value)
        expected.append(stamp.SerializeToString())
    assert got == expected
    assert [stored_nanos(b) for b in got] == [
        Timestamp.FromString(b).seconds * 10**9 + Timestamp.FromString(b).nanos for b in got
    ]


def test_sub_microsecond_event_times_are_truncated_like_feast() -> None:
    base = np.datetime64("2013-05-01T12:00:00.123456789", "ns").astype(np.int64)
    column = pa.array([base, base - 86_400 * 10**9]).cast(pa.timestamp("ns", "UTC"))
    got = timestamp_bytes(epoch_micros(column)).to_pylist()
    import pandas as pd

    expected = []
    for value in pd.to_datetime(column.to_numpy(zero_copy_only=False)):
        stamp = Timestamp()
        stamp.FromDatetime(value.to_pydatetime(warn=False).replace(tzinfo=UTC))
        expected.append(stamp.SerializeToString())
    assert got == expected


KEY_TYPES = {
    ValueType.STRING: (st.text(max_size=20), pa.string(), "string_val"),
    ValueType.BYTES: (st.binary(max_size=20), pa.binary(), "bytes_val"),
    ValueType.INT32: (INT32, pa.int32(), "int32_val"),
    ValueType.INT64: (INT64, pa.int64(), "int64_val"),
}


@SETTINGS
@given(st.data())
def test_keys_equal_feast(data: st.DataObject) -> None:
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.Value_pb2 import Value

    names = data.draw(st.lists(st.sampled_from(["a", "b", "zz", "id"]), min_size=1, unique=True))
    types = [data.draw(st.sampled_from(list(KEY_TYPES))) for _ in names]
    rows = data.draw(st.integers(1, 8))
    columns = [data.draw(st.lists(KEY_TYPES[t][0], min_size=rows, max_size=rows)) for t in types]
    encoder = KeyEncoder("proj", names, [Ours.of(t) for t in types])
    got = encode_keys(
        encoder, [pa.array(c, type=KEY_TYPES[t][1]) for c, t in zip(columns, types, strict=True)]
    ).to_pylist()
    expected = []
    for row in zip(*columns, strict=True):
        values = [Value(**{KEY_TYPES[t][2]: v}) for t, v in zip(types, row, strict=True)]
        key = EntityKey(join_keys=names, entity_values=values)
        expected.append(_redis_key("proj", key, entity_key_serialization_version=3))
    assert got == expected


@pytest.mark.parametrize("value_type", [Ours.INT32_LIST, Ours.JSON])
def test_unsupported_types_are_refused(value_type: Ours) -> None:
    with pytest.raises(ValueError, match="not supported"):
        encode_values(pa.array([1]), value_type)


def test_day_boundaries() -> None:
    start = datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    values = [start + timedelta(microseconds=i) for i in range(3)]
    column = pa.array(values, type=pa.timestamp("us", "UTC"))
    got = timestamp_bytes(epoch_micros(column)).to_pylist()
    for value, raw in zip(values, got, strict=True):
        stamp = Timestamp()
        stamp.FromDatetime(value)
        assert raw == stamp.SerializeToString()
