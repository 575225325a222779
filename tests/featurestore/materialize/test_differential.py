"""The proof of sameness: vanilla Feast's engine and ours write byte-identical Redis.

Each example generates feature tables (every scalar type, nulls, NaN, duplicate and
tied event times, created timestamps, late-arriving rows, composite keys, several views
on one entity), materializes the same windows with Feast's ``local`` engine into one
Redis database and with ours into another, and compares every key, field and value.

Named Feast bug kept out of the comparison: a null UNIX_TIMESTAMP feature, which Feast
writes as ``unix_timestamp_val = -2**63`` and we write as an empty (null) ``Value``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Bool, Bytes, Float32, Float64, Int32, Int64, String, UnixTimestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurestore.redis_server import LocalRedis
from tests.featurestore.materialize.helpers import assert_same_contents, dump, flush, make_store

pytestmark = pytest.mark.redis

FEAST_DB, OUR_DB = 2, 3
T0 = datetime(2024, 3, 1, tzinfo=UTC)
FEAST_NULL_TIMESTAMP = b"@" + b"\x80" * 9 + b"\x01"  # unix_timestamp_val = -2**63

# feast dtype, arrow type, value strategy (without nulls)
TYPES: dict[str, tuple[Any, pa.DataType, st.SearchStrategy[Any]]] = {
    "int32": (Int32, pa.int32(), st.integers(-(2**31), 2**31 - 1)),
    "int64": (Int64, pa.int64(), st.integers(-(2**40), 2**40)),
    "float32": (Float32, pa.float32(), st.floats(width=32, allow_infinity=False)),
    "float64": (Float64, pa.float64(), st.floats(allow_infinity=False)),
    "bool": (Bool, pa.bool_(), st.booleans()),
    "string": (String, pa.string(), st.text(max_size=8)),
    "bytes": (Bytes, pa.binary(), st.binary(min_size=1, max_size=8)),
    "unix_timestamp": (
        UnixTimestamp,
        pa.timestamp("us", tz="UTC"),
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)).map(
            lambda d: d.replace(tzinfo=UTC)
        ),
    ),
}
KEYS: dict[str, tuple[ValueType, pa.DataType, st.SearchStrategy[Any]]] = {
    "int64": (ValueType.INT64, pa.int64(), st.integers(-3, 3)),
    "string": (ValueType.STRING, pa.string(), st.sampled_from(["", "a", "JFK", "ñ"])),
    "int32": (ValueType.INT32, pa.int32(), st.integers(0, 3)),
}


@dataclass
class Dataset:
    key_types: list[str]
    views: list[tuple[str, list[str], pa.Table]]  # name, feature types, table
    created: bool
    windows: list[tuple[datetime, datetime]]
    late: list[pa.Table] | None = None  # rows that arrive, per view, after the first run


@st.composite
def datasets(draw: st.DrawFn) -> Dataset:
    key_types = draw(st.lists(st.sampled_from(list(KEYS)), min_size=1, max_size=2))
    created = draw(st.booleans())
    views = []
    late = []
    for v in range(draw(st.integers(1, 2))):
        features = draw(st.lists(st.sampled_from(list(TYPES)), min_size=1, max_size=4))
        rows: list[dict[str, Any]] = []
        first: list[dict[str, Any]] = []
        # Rows of one entity with equal event and created times are exact duplicates:
        # Feast's pick among them depends on its sort, not on any rule.
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        count = draw(st.integers(1, 12))
        late_count = draw(st.integers(0, 6))
        for n in range(count + late_count):
            if n == count:
                first, rows = rows, []
            row: dict[str, Any] = {f"k{i}": draw(KEYS[t][2]) for i, t in enumerate(key_types)}
            if (first or rows) and draw(st.booleans()):  # an event time seen before
                row["event_timestamp"] = draw(st.sampled_from(first + rows))["event_timestamp"]
            else:
                row["event_timestamp"] = T0 + timedelta(hours=draw(st.integers(0, 48)))
            if created:
                row["created"] = draw(
                    st.one_of(st.none(), st.integers(0, 3).map(lambda h: T0 + timedelta(hours=h)))
                )
            for j, t in enumerate(features):
                row[f"f{j}"] = draw(st.one_of(st.none(), TYPES[t][2]))
            identity = tuple(v for k, v in row.items() if not k.startswith("f"))
            row = dict(seen.setdefault(identity, row))
            rows.append(row)
            if draw(st.integers(0, 4)) == 0:
                rows.append(dict(row))  # an exact duplicate row
        schema = [(f"k{i}", KEYS[t][1]) for i, t in enumerate(key_types)]
        schema.append(("event_timestamp", pa.timestamp("us", tz="UTC")))
        if created:
            schema.append(("created", pa.timestamp("us", tz="UTC")))
        schema += [(f"f{j}", TYPES[t][1]) for j, t in enumerate(features)]
        if not late_count:
            first, rows = rows, []
        views.append((f"view{v}", features, pa.Table.from_pylist(first, schema=pa.schema(schema))))
        late.append(pa.Table.from_pylist(rows, schema=pa.schema(schema)))
    # Two windows: the second overlaps or precedes the first (late-arriving rows).
    windows = []
    for _ in range(draw(st.integers(1, 2))):
        a, b = sorted(draw(st.lists(st.integers(0, 48), min_size=2, max_size=2)))
        windows.append((T0 + timedelta(hours=a), T0 + timedelta(hours=b)))
    return Dataset(key_types, views, created, windows, late)


def _objects(tmp: Path, data: Dataset) -> list[Any]:
    join_keys = [f"k{i}" for i in range(len(data.key_types))]
    entities = [
        Entity(name=f"e{i}", join_keys=[k], value_type=KEYS[t][0])
        for i, (k, t) in enumerate(zip(join_keys, data.key_types, strict=True))
    ]
    objects: list[Any] = list(entities)
    for name, features, table in data.views:
        path = tmp / f"{name}.parquet"
        pq.write_table(table, path)
        objects.append(
            FeatureView(
                name=name,
                entities=entities,
                ttl=timedelta(days=1),
                schema=[
                    *[
                        Field(name=k, dtype=_key_dtype(t))
                        for k, t in zip(join_keys, data.key_types, strict=True)
                    ],
                    *[Field(name=f"f{j}", dtype=TYPES[t][0]) for j, t in enumerate(features)],
                ],
                source=FileSource(
                    path=str(path),
                    timestamp_field="event_timestamp",
                    created_timestamp_column="created" if data.created else "",
                ),
            )
        )
    return objects


def _key_dtype(key_type: str) -> Any:
    return {"int64": Int64, "string": String, "int32": Int32}[key_type]


def normalised(db: dict[bytes, dict[bytes, bytes]]) -> dict[bytes, dict[bytes, bytes]]:
    return {
        key: {f: (b"" if v == FEAST_NULL_TIMESTAMP else v) for f, v in fields.items()}
        for key, fields in db.items()
    }


def assert_same(port: int) -> None:
    assert_same_contents(normalised(dump(port, FEAST_DB)), dump(port, OUR_DB))


def materialize_side_by_side(
    data: Dataset,
    tmp: Path,
    expected: FeatureStore,
    actual: FeatureStore,
    check: Callable[[], None],
) -> None:
    """Materialize ``data``'s windows with both stores, then again after its late rows
    joined the files (the last window, then everything: newer rows overwrite, older ones
    are skipped), calling ``check`` after each step."""
    for start, end in data.windows:
        expected.materialize(start, end)
        actual.materialize(start, end)
        check()
    if data.late and any(t.num_rows for t in data.late):
        for (name, _, table), late in zip(data.views, data.late, strict=True):
            pq.write_table(pa.concat_tables([table, late]), tmp / f"{name}.parquet")
        start, end = data.windows[-1]
        for begin in (start, T0):
            expected.materialize(begin, end)
            actual.materialize(begin, end)
            check()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=datasets())
def test_generated_datasets_are_written_byte_for_byte_like_feast(
    data: Dataset, redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("diff")
    flush(redis_server.port, FEAST_DB, OUR_DB)
    objects = _objects(tmp, data)
    feast = make_store(tmp, redis_server.port, FEAST_DB, "local", objects)
    ours = make_store(tmp, redis_server.port, OUR_DB, "ours", objects, batch_size=3)
    materialize_side_by_side(data, tmp, feast, ours, lambda: assert_same(redis_server.port))


def test_a_null_unix_timestamp_is_the_named_feast_bug(
    redis_server: LocalRedis, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "k0": pa.array([1, 2], pa.int64()),
            "event_timestamp": pa.array([T0, T0], pa.timestamp("us", tz="UTC")),
            "f0": pa.array([T0, None], pa.timestamp("us", tz="UTC")),
        }
    )
    data = Dataset(["int64"], [("view0", ["unix_timestamp"], table)], False, [(T0, T0)])
    flush(redis_server.port, FEAST_DB, OUR_DB)
    objects = _objects(tmp_path, data)
    make_store(tmp_path, redis_server.port, FEAST_DB, "local", objects).materialize(T0, T0)
    make_store(tmp_path, redis_server.port, OUR_DB, "ours", objects).materialize(T0, T0)
    feast_values = sorted(v for h in dump(redis_server.port, FEAST_DB).values() for v in h.values())
    our_values = sorted(v for h in dump(redis_server.port, OUR_DB).values() for v in h.values())
    assert FEAST_NULL_TIMESTAMP in feast_values
    assert FEAST_NULL_TIMESTAMP not in our_values
    assert b"" in our_values
    assert_same(redis_server.port)


def test_rows_on_both_window_bounds_are_included(redis_server: LocalRedis, tmp_path: Path) -> None:
    stamps = [T0 - timedelta(microseconds=1), T0, T0 + timedelta(hours=1),
              T0 + timedelta(hours=1, microseconds=1)]  # fmt: skip
    table = pa.table(
        {
            "k0": pa.array([1, 2, 3, 4], pa.int64()),
            "event_timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
            "f0": pa.array([1, 2, 3, 4], pa.int64()),
        }
    )
    data = Dataset(["int64"], [("view0", ["int64"], table)], False, [])
    flush(redis_server.port, FEAST_DB, OUR_DB)
    objects = _objects(tmp_path, data)
    end = T0 + timedelta(hours=1)
    make_store(tmp_path, redis_server.port, FEAST_DB, "local", objects).materialize(T0, end)
    make_store(tmp_path, redis_server.port, OUR_DB, "ours", objects).materialize(T0, end)
    assert len(dump(redis_server.port, OUR_DB)) == 2
    assert_same(redis_server.port)


NANOSECOND_TIMES = [
    "2024-03-01 00:00:00.123456789",
    "2024-03-01 00:00:00.123456999",
    "2024-03-01 05:00:00.000000001",
]


def test_pandas_frames_with_nanosecond_times_match(
    redis_server: LocalRedis, tmp_path: Path
) -> None:
    """A table written by pandas (nanosecond timestamps, sub-microsecond digits)."""
    frame = pd.DataFrame(
        {
            "k0": [1, 1, 2],
            "event_timestamp": pd.to_datetime(NANOSECOND_TIMES, utc=True),
            "f0": [1.5, 2.5, None],
        }
    )
    table = pa.Table.from_pandas(frame, preserve_index=False)
    data = Dataset(["int64"], [("view0", ["float64"], table)], False, [])
    flush(redis_server.port, FEAST_DB, OUR_DB)
    objects = _objects(tmp_path, data)
    end = T0 + timedelta(days=1)
    make_store(tmp_path, redis_server.port, FEAST_DB, "local", objects).materialize(T0, end)
    make_store(tmp_path, redis_server.port, OUR_DB, "ours", objects).materialize(T0, end)
    assert_same(redis_server.port)


def test_key_ttl_and_skip_dedup_match_feast(redis_server: LocalRedis, tmp_path: Path) -> None:
    """Feast's ``key_ttl_seconds`` (every written key expires) and ``skip_dedup``."""
    table = pa.table(
        {
            "k0": pa.array([1, 2, 2], pa.int64()),
            "event_timestamp": pa.array(
                [T0, T0, T0 + timedelta(hours=1)], pa.timestamp("us", tz="UTC")
            ),
            "f0": pa.array([1.5, 2.5, 3.5]),
        }
    )
    data = Dataset(["int64"], [("view0", ["float64"], table)], False, [])
    objects = _objects(tmp_path, data)
    end = T0 + timedelta(days=1)
    for online in ({"key_ttl_seconds": 3600}, {"skip_dedup": True}):
        flush(redis_server.port, FEAST_DB, OUR_DB)
        feast = make_store(tmp_path, redis_server.port, FEAST_DB, "local", objects, **online)
        ours = make_store(tmp_path, redis_server.port, OUR_DB, "ours", objects, **online)
        for start in (T0 + timedelta(hours=1), T0):  # the second run rewrites older rows
            feast.materialize(start, end)
            ours.materialize(start, end)
            assert_same(redis_server.port)
        client = redis.Redis(port=redis_server.port, db=OUR_DB)
        ttls = [client.ttl(key) for key in client.scan_iter()]
        client.close()
        if "key_ttl_seconds" in online:
            assert ttls and all(0 < t <= 3600 for t in ttls)
        else:
            assert ttls and all(t == -1 for t in ttls)


HOSTILE = [
    "\r\n*1\r\n$8\r\nFLUSHALL\r\n",
    "a\r\n*3\r\n$3\r\nDEL\r\n",
    "'; DROP TABLE x; --",
    "\x00",
]


def test_hostile_strings_are_written_byte_for_byte_like_feast(
    redis_server: LocalRedis, tmp_path: Path
) -> None:
    """Our engine packs RESP itself (``featurestore.materialize.resp``): keys and values
    with RESP's own delimiters must arrive as the bytes they are, as one key each."""
    table = pa.table(
        {
            "k0": pa.array(HOSTILE, pa.string()),
            "event_timestamp": pa.array([T0] * len(HOSTILE), pa.timestamp("us", tz="UTC")),
            "f0": pa.array(list(reversed(HOSTILE)), pa.string()),
        }
    )
    data = Dataset(["string"], [("view0", ["string"], table)], False, [(T0, T0)])
    flush(redis_server.port, FEAST_DB, OUR_DB)
    for db in (FEAST_DB, OUR_DB):
        redis.Redis(port=redis_server.port, db=db).hset("sentinel", "f", "kept")
    objects = _objects(tmp_path, data)
    make_store(tmp_path, redis_server.port, FEAST_DB, "local", objects).materialize(T0, T0)
    make_store(tmp_path, redis_server.port, OUR_DB, "ours", objects).materialize(T0, T0)
    ours = dump(redis_server.port, OUR_DB)
    assert len(ours) == len(HOSTILE) + 1
    assert ours[b"sentinel"] == {b"f": b"kept"}
    assert_same(redis_server.port)
