"""Our Redis keys and fields are byte-for-byte Feast's."""

from __future__ import annotations

from feast.infra.online_stores.helpers import _mmh3, _redis_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from feast.value_type import ValueType
from hypothesis import given
from hypothesis import strategies as st

from featurestore.redis_layout import KeyEncoder, feature_field, ts_field
from featurestore.value_types import ValueType as Ours

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
_VALUES = {
    ValueType.STRING: (st.text(max_size=20), "string_val"),
    ValueType.INT64: (st.integers(-(2**63), 2**63 - 1), "int64_val"),
    ValueType.INT32: (st.integers(-(2**31), 2**31 - 1), "int32_val"),
    ValueType.BYTES: (st.binary(max_size=20), "bytes_val"),
    ValueType.UNIX_TIMESTAMP: (st.integers(0, 2**40), "unix_timestamp_val"),
}


@st.composite
def _entity(draw: st.DrawFn) -> tuple[list[str], list[ValueType], list[object]]:
    keys = draw(st.lists(_names, min_size=1, max_size=3, unique=True))
    types = [draw(st.sampled_from(list(_VALUES))) for _ in keys]
    values = [draw(_VALUES[t][0]) for t in types]
    return keys, types, values


@given(_entity(), _names)
def test_keys_equal_feasts(entity: tuple, project: str) -> None:
    keys, types, values = entity
    proto = EntityKey(
        join_keys=keys,
        entity_values=[Value(**{_VALUES[t][1]: v}) for t, v in zip(types, values, strict=True)],
    )
    expected = _redis_key(project, proto, entity_key_serialization_version=3)
    assert KeyEncoder(project, keys, [Ours.of(t) for t in types]).key(values) == expected


@given(_names, _names)
def test_fields_equal_feasts(view: str, feature: str) -> None:
    assert feature_field(view, feature) == _mmh3(f"{view}:{feature}")
    assert ts_field(view) == f"_ts:{view}".encode()


def test_bulk_keys_take_columns() -> None:
    encoder = KeyEncoder("flights", ["origin", "carrier"], [Ours.STRING, Ours.STRING])
    assert encoder.keys([["JFK", "EWR"], ["B6", "UA"]]) == [
        encoder.key(["JFK", "B6"]),
        encoder.key(["EWR", "UA"]),
    ]
