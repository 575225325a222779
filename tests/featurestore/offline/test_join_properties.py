"""The DuckDB ASOF join equals the brute-force oracle on random tables and frames.

Each example also picks the join's phase-1 strategy (``asof``, ``range`` for the
views with a TTL, or ``auto``). Small domains on purpose: few keys and minute
timestamps make equal timestamps, rows exactly at the TTL, duplicate entity rows,
created-timestamp ties and misses common. Three views with different entities: a
single key with a created timestamp, a composite key, and a key renamed by
``field_mapping`` and a join key map.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore.offline import ViewSpec, retrieve
from featurestore.offline.join import Strategy
from tests.featurestore.offline.oracle import OracleView, point_in_time

BASE = datetime(2024, 3, 10, 5, 0, tzinfo=UTC)  # a DST change in New York
MINUTES = st.integers(min_value=0, max_value=30)
TTLS = st.sampled_from([None, timedelta(0), timedelta(minutes=5), timedelta(minutes=12)])


def _minute(m: int | None) -> datetime | None:
    return None if m is None else BASE + timedelta(minutes=m)


def _unique(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for row in rows:
        k = tuple(row[c] for c in key)
        if k not in seen:
            seen.add(k)
            out.append(row)
    return out


view_a_rows = st.lists(
    st.fixed_dictionaries(
        {
            "k1": st.one_of(st.none(), st.integers(1, 3)),
            "event_ts": MINUTES.map(_minute),
            "created": st.one_of(st.none(), MINUTES.map(_minute)),
            "fa": st.one_of(st.none(), st.floats(-5, 5, allow_nan=False)),
            "ga": st.one_of(st.none(), st.sampled_from(["p", "q", "r"])),
        }
    ),
    max_size=25,
).map(lambda rows: _unique(rows, ("k1", "event_ts", "created")))

view_b_rows = st.lists(
    st.fixed_dictionaries(
        {
            "k1": st.integers(1, 3),
            "k2": st.sampled_from(["x", "y"]),
            "ts": MINUTES.map(_minute),
            "fb": st.one_of(st.none(), st.integers(-100, 100)),
        }
    ),
    max_size=25,
).map(lambda rows: _unique(rows, ("k1", "k2", "ts")))

view_c_rows = st.lists(
    st.fixed_dictionaries(
        {
            "raw_id": st.sampled_from(["u", "v", "w"]),
            "ts": MINUTES.map(_minute),
            "raw_h": st.floats(0, 1, allow_nan=False),
        }
    ),
    max_size=25,
).map(lambda rows: _unique(rows, ("raw_id", "ts")))

entity_rows = st.lists(
    st.fixed_dictionaries(
        {
            "k1": st.one_of(st.none(), st.integers(1, 4)),
            "k2": st.sampled_from(["x", "y"]),
            "k3": st.sampled_from(["u", "v", "z"]),
            "minute": st.one_of(MINUTES, MINUTES),
            "nanos": st.sampled_from([0, 0, 1, 999]),
        }
    ),
    max_size=30,
)


def _write(table: pa.Table, path: Path, partitioned: bool) -> str:
    if not partitioned or table.num_rows == 0:  # an empty dataset writes no file
        pq.write_table(table, path.with_suffix(".parquet"))
        return str(path.with_suffix(".parquet"))
    parts = pa.array([f"p{i % 2}" for i in range(table.num_rows)], pa.string())
    pq.write_to_dataset(table.append_column("part", parts), path, partition_cols=["part"])
    return str(path)


def _entity_table(rows: list[dict[str, Any]], tz: str, unit: str) -> pa.Table:
    stamps = [
        int((_minute(r["minute"]) - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
        * 1000
        + (r["nanos"] if unit == "ns" else 0)
        for r in rows
    ]
    ns = pa.array(stamps, pa.timestamp("ns", tz="UTC"))
    if tz == "naive":
        ns = ns.cast(pa.timestamp("ns"))
    elif tz != "UTC":
        ns = ns.cast(pa.timestamp("ns", tz=tz))
    ts = ns if unit == "ns" else ns.cast(pa.timestamp("us", tz=ns.type.tz))
    return pa.table(
        {
            "k1": pa.array([r["k1"] for r in rows], pa.int64()),
            "k2": pa.array([r["k2"] for r in rows], pa.string()),
            "k3": pa.array([r["k3"] for r in rows], pa.string()),
            "event_timestamp": ts,
            "label": pa.array(range(len(rows)), pa.int64()),
        }
    )


@settings(max_examples=40, deadline=None)
@given(
    a=view_a_rows,
    b=view_b_rows,
    c=view_c_rows,
    entities=entity_rows,
    ttls=st.tuples(TTLS, TTLS, TTLS),
    full_names=st.booleans(),
    partitioned=st.booleans(),
    tz=st.sampled_from(["UTC", "naive", "America/New_York"]),
    unit=st.sampled_from(["us", "ns"]),
    form=st.sampled_from(["arrow", "pandas", "parquet"]),
    strategy=st.sampled_from(["auto", "asof", "range"]),
)
def test_join_equals_oracle(
    a: list[dict[str, Any]],
    b: list[dict[str, Any]],
    c: list[dict[str, Any]],
    entities: list[dict[str, Any]],
    ttls: tuple[timedelta | None, ...],
    full_names: bool,
    partitioned: bool,
    tz: str,
    unit: str,
    form: str,
    strategy: Strategy,
) -> None:
    def name(view: str, feature: str) -> str:
        return f"{view}__{feature}" if full_names else feature

    schema_a = pa.schema(
        [("k1", pa.int64()), ("event_ts", pa.timestamp("us", tz="UTC")),
         ("created", pa.timestamp("us", tz="UTC")), ("fa", pa.float64()), ("ga", pa.string())]
    )  # fmt: skip
    schema_b = pa.schema(
        [("k1", pa.int64()), ("k2", pa.string()), ("ts", pa.timestamp("us")), ("fb", pa.int64())]
    )
    schema_c = pa.schema(
        [("raw_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("raw_h", pa.float64())]
    )
    b_naive = [{**r, "ts": r["ts"].replace(tzinfo=None)} for r in b]
    entity_table = _entity_table(entities, tz, unit)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = [
            _write(pa.Table.from_pylist(rows, schema), folder / name_, partitioned)
            for rows, schema, name_ in ((a, schema_a, "a"), (b_naive, schema_b, "b"),
                                        (c, schema_c, "c"))
        ]  # fmt: skip
        specs = [
            ViewSpec("a", paths[0], {"k1": "k1"}, {"fa": name("a", "fa"), "ga": name("a", "ga")},
                     "event_ts", "created", ttls[0]),
            ViewSpec("b", paths[1], {"k1": "k1", "k2": "k2"}, {"fb": name("b", "fb")}, "ts",
                     None, ttls[1]),
            ViewSpec("c", paths[2], {"id": "k3"}, {"h": name("c", "h")}, "ts", None, ttls[2],
                     field_mapping={"raw_h": "h", "raw_id": "id"}),
        ]  # fmt: skip
        entity_input: Any = entity_table
        if form == "pandas":
            entity_input = entity_table.to_pandas()
        elif form == "parquet":
            entity_input = folder / "entities.parquet"
            pq.write_table(entity_table, entity_input)
        got = retrieve(specs, entity_input, strategy=strategy).to_arrow().to_pylist()

    expected = point_in_time(
        entity_table.to_pylist(),
        "event_timestamp",
        [
            OracleView(a, {"k1": "k1"}, {"fa": name("a", "fa"), "ga": name("a", "ga")},
                       "event_ts", "created", ttls[0]),
            OracleView(b, {"k1": "k1", "k2": "k2"}, {"fb": name("b", "fb")}, "ts", None,
                       ttls[1]),
            OracleView(c, {"raw_id": "k3"}, {"raw_h": name("c", "h")}, "ts", None, ttls[2]),
        ],
    )  # fmt: skip
    assert [r["label"] for r in got] == list(range(len(entities)))  # every row once, in order
    assert got == expected
