"""Our lookups against the Feast SDK on the same Redis bytes, over random data and requests.

Rows are written with vanilla Feast (``write_to_online_store``); each example then asks
both the Feast SDK (``store.get_online_features``, converted as ``feast serve`` converts
it) and ``OnlineLookup`` for a random list of features and entities, some never written.
Values and event times must be equal, name by name. The statuses are ours, checked against
what was written; Feast's are all PRESENT, which is its bug (see the README).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from feast.feature_server_utils import convert_response_to_dict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurestore.online import OnlineLookup
from featurestore.online.codec import NULL_TIMESTAMP
from featurestore.redis_layout import KeyEncoder, feature_field, ts_field
from featurestore.value_types import ValueType
from tests.online_repo import PROJECT, OnlineRepo, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis]

NOW = datetime.now(UTC).replace(microsecond=123456)
USER_FEATURES = [
    "f_double", "f_float", "f_int64", "f_int32", "f_string", "f_bool", "f_bytes", "f_ts",
    "f_doubles", "f_strings",
]  # fmt: skip
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
TYPES: dict[str, st.SearchStrategy[Any]] = {
    "f_double": st.floats(allow_nan=False, allow_infinity=False),
    "f_float": st.floats(width=32, allow_nan=False, allow_infinity=False),
    "f_int64": st.integers(-(2**62), 2**62),  # Feast fails to write values near 2**63
    "f_int32": st.integers(-(2**31), 2**31 - 1),
    "f_string": TEXT,
    "f_bool": st.booleans(),
    "f_bytes": st.binary(max_size=12),
    "f_ts": st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.replace(microsecond=0)),
    "f_doubles": st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=3),
    "f_strings": st.lists(TEXT, min_size=1, max_size=3),
}
AGES = st.sampled_from([timedelta(minutes=1), timedelta(hours=5), timedelta(days=3)])


@st.composite
def user_rows(draw: st.DrawFn) -> dict[int, dict[str, Any]]:
    ids = draw(st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=6, unique=True))
    rows = {}
    for user_id in ids:
        row: dict[str, Any] = {"event_timestamp": NOW - draw(AGES)}
        for name, strategy in TYPES.items():
            row[name] = draw(st.one_of(st.none(), strategy))
        rows[user_id] = row
    return rows


@pytest.fixture(scope="module")
def lookup(online_repo: OnlineRepo) -> Iterator[OnlineLookup]:  # noqa: F811
    ours = OnlineLookup.open(online_repo.settings)
    yield ours
    ours.close()


def _has_row(repo: OnlineRepo, user_id: int) -> bool:
    key = KeyEncoder(PROJECT, ["user_id"], [ValueType.INT64]).key([user_id])
    return bool(repo.redis.hexists(key, ts_field("user_stats")))


def _stored_empty(repo: OnlineRepo, user_id: int, feature: str) -> bool:
    """Feast wrote an empty ``Value`` (its null); it does so for a column of only b""."""
    key = KeyEncoder(PROJECT, ["user_id"], [ValueType.INT64]).key([user_id])
    return repo.redis.hget(key, feature_field("user_stats", feature)) == b""


def _by_name(document: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    names = document["metadata"]["feature_names"]
    return dict(zip(names, document["results"], strict=True))


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=user_rows(),
    features=st.lists(st.sampled_from(USER_FEATURES), min_size=1, unique=True),
    item_price=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    extra_ids=st.lists(st.integers(-(2**40), 2**40), max_size=3),
    with_item=st.booleans(),
    data=st.data(),
)
def test_values_equal_feast_sdk(
    online_repo: OnlineRepo,  # noqa: F811
    lookup: OnlineLookup,
    rows: dict[int, dict[str, Any]],
    features: list[str],
    item_price: float | None,
    extra_ids: list[int],
    with_item: bool,
    data: st.DataObject,
) -> None:
    online_repo.reset()
    columns: dict[str, list[Any]] = {"user_id": list(rows)}
    for name in ["event_timestamp", *USER_FEATURES]:
        columns[name] = [row[name] for row in rows.values()]
    online_repo.write("user_stats", columns)
    online_repo.write(
        "item_stats",
        {"item_id": ["i1"], "price": [item_price], "title": ["t"], "event_timestamp": [NOW]},
    )
    ids = data.draw(st.permutations(list(rows) + extra_ids))
    refs = [f"user_stats:{name}" for name in features]
    entities: dict[str, list[Any]] = {"user_id": ids}
    if with_item:
        refs.append("item_stats:price")
        entities["item_id"] = data.draw(
            st.lists(st.sampled_from(["i1", "i2"]), min_size=len(ids), max_size=len(ids))
        )

    feast = convert_response_to_dict(
        online_repo.store.get_online_features(
            features=refs,
            entity_rows=[
                dict(zip(entities, v, strict=True)) for v in zip(*entities.values(), strict=True)
            ],
        ).proto
    )
    ours = lookup.get_online_features(entities=entities, features=refs)

    # Request order kept: entity columns (as given), then the features as asked.
    assert ours["metadata"]["feature_names"] == [*entities, *(r.split(":")[1] for r in refs)]
    theirs, mine = _by_name(feast), _by_name(ours)
    assert set(theirs) == set(mine)
    for name in entities:
        assert mine[name] == theirs[name]
    for ref in refs:
        view, name = ref.split(":")
        for i, entity in enumerate(ids):
            value, status = mine[name]["values"][i], mine[name]["statuses"][i]
            feast_value = theirs[name]["values"][i]
            assert theirs[name]["statuses"][i] == "PRESENT"  # Feast: always PRESENT
            assert mine[name]["event_timestamps"][i] == theirs[name]["event_timestamps"][i]
            if view == "item_stats":
                written = entities["item_id"][i] == "i1"
                stored, age = (item_price, timedelta(0)) if written else (None, None)
                ttl = None  # item_stats has no TTL
            else:
                # Feast writes no row at all when every feature of it is null.
                written = entity in rows and _has_row(online_repo, entity)
                stored = rows[entity][name] if written else None
                if written and _stored_empty(online_repo, entity, name):
                    stored = None
                age = NOW - rows[entity]["event_timestamp"] if written else None
                ttl = timedelta(days=1)
            if not written:
                expected = "NOT_FOUND"
            elif ttl is not None and age is not None and age > ttl:
                expected = "OUTSIDE_MAX_AGE"
            elif stored is None:
                expected = "NULL_VALUE"
            else:
                expected = "PRESENT"
            assert status == expected, (name, entity)
            if name == "f_ts" and written and stored is None:
                # Feast stores a null timestamp as its NaT sentinel (int64 min) when the
                # column has other values, and serves it as a number; we serve null.
                assert value is None
                assert feast_value in (NULL_TIMESTAMP, None)
            else:
                assert value == feast_value, (name, entity)
