"""Bulk decoding of Feast's Redis values equals Feast's own conversion, value by value."""

from __future__ import annotations

import math

from feast.feature_server_utils import _timestamp_to_str, _value_to_native
from feast.protos.feast.types.Value_pb2 import (
    BoolList,
    BytesList,
    DoubleList,
    Int64List,
    StringList,
    Value,
)
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore.online.codec import EPOCH, NULL_TIMESTAMP, decode_timestamp, decode_value

INT64 = st.integers(-(2**63), 2**63 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
DOUBLE = st.floats(allow_nan=True, allow_infinity=True)

VALUES = st.one_of(
    st.builds(lambda v: Value(double_val=v), DOUBLE),
    st.builds(lambda v: Value(float_val=v), st.floats(width=32)),
    st.builds(lambda v: Value(int64_val=v), INT64),
    st.builds(lambda v: Value(int32_val=v), INT32),
    st.builds(lambda v: Value(unix_timestamp_val=v), INT64),
    st.builds(lambda v: Value(string_val=v), TEXT),
    st.builds(lambda v: Value(bool_val=v), st.booleans()),
    st.builds(lambda v: Value(bytes_val=v), st.binary(max_size=40)),
    st.builds(lambda v: Value(double_list_val=DoubleList(val=v)), st.lists(DOUBLE, max_size=5)),
    st.builds(lambda v: Value(int64_list_val=Int64List(val=v)), st.lists(INT64, max_size=5)),
    st.builds(lambda v: Value(string_list_val=StringList(val=v)), st.lists(TEXT, max_size=5)),
    st.builds(lambda v: Value(bool_list_val=BoolList(val=v)), st.lists(st.booleans(), max_size=5)),
    st.builds(lambda v: Value(bytes_list_val=BytesList(val=v)), st.lists(st.binary(), max_size=3)),
    st.just(Value()),
    st.just(Value(null_val=0)),
)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


@settings(max_examples=50, deadline=None)
@given(VALUES)
def test_values_decode_as_feast_converts_them(value: Value) -> None:
    decoded, is_null = decode_value(value.SerializeToString())
    which = value.WhichOneof("val")
    if which in (None, "null_val"):
        assert (decoded, is_null) == (None, True)
    elif which == "unix_timestamp_val" and value.unix_timestamp_val == NULL_TIMESTAMP:
        # Feast writes int64 min for a missing timestamp and serves it as a number.
        assert (decoded, is_null) == (None, True)
        assert _value_to_native(value) == NULL_TIMESTAMP
    else:
        assert not is_null
        expected = _value_to_native(value)
        if isinstance(expected, list):
            assert len(decoded) == len(expected)
            assert all(_same(a, b) for a, b in zip(decoded, expected, strict=True))
        else:
            assert _same(decoded, expected)


def test_scalar_edge_cases() -> None:
    for value in (0.0, -0.0, float("inf"), float("-inf")):
        assert decode_value(Value(double_val=value).SerializeToString())[0] == _value_to_native(
            Value(double_val=value)
        )
    assert decode_value(Value(double_val=float("nan")).SerializeToString()) == ("NaN", False)
    assert decode_value(Value(int32_val=-1).SerializeToString()) == (-1, False)
    assert decode_value(Value(int64_val=0).SerializeToString()) == (0, False)
    assert decode_value(Value(string_val="").SerializeToString()) == ("", False)
    assert decode_value(Value(bool_val=False).SerializeToString()) == (False, False)


@settings(max_examples=50, deadline=None)
@given(st.integers(-62_135_596_800, 253_402_300_799), st.integers(0, 999_999_999))
def test_timestamps_format_as_feast_formats_them(seconds: int, nanos: int) -> None:
    ts = Timestamp(seconds=seconds, nanos=nanos)
    epoch_seconds, text = decode_timestamp(ts.SerializeToString())
    assert text == _timestamp_to_str(ts)
    assert abs(epoch_seconds - (seconds + nanos / 1e9)) < 1e-3


def test_zero_timestamp_is_the_epoch() -> None:
    assert decode_timestamp(Timestamp().SerializeToString()) == (0.0, EPOCH)
