"""Read plans and entity validation, on a registry snapshot built by hand (no Redis)."""

from __future__ import annotations

import pytest

from featurestore.errors import (
    DuplicateFeatureError,
    EntityTypeError,
    InvalidRequestError,
    MissingJoinKeyError,
    TooManyEntitiesError,
    UnknownFeatureError,
    UnknownFeatureServiceError,
)
from featurestore.online.plan import make_plan, validate_entities
from featurestore.online.registry import FeatureInfo, Projection, RegistrySnapshot, ViewInfo
from featurestore.redis_layout import KeyEncoder, feature_field, ts_field
from featurestore.value_types import ValueType


def _view(
    name: str, keys: tuple[str, ...], features: list[str], ttl: float | None = 60
) -> ViewInfo:
    types = tuple(ValueType.INT64 if k == "user_id" else ValueType.STRING for k in keys)
    return ViewInfo(
        name=name,
        join_keys=keys,
        key_types=types,
        ttl_seconds=ttl,
        features={f: FeatureInfo(f, feature_field(name, f)) for f in features},
        ts_field=ts_field(name),
    )


@pytest.fixture
def snapshot() -> RegistrySnapshot:
    views = {
        "a": _view("a", ("user_id",), ["x", "y", "shared"]),
        "b": _view("b", ("user_id",), ["z", "shared"]),
        "c": _view("c", ("item_id",), ["w"]),
    }
    services = {
        "model": (Projection("c", "c", ("w",)), Projection("a", "a", ("y", "x"))),
        "broken": (Projection("gone", "gone", ("q",)),),
    }
    types = {"user_id": ValueType.INT64, "item_id": ValueType.STRING}
    return RegistrySnapshot("p", views, services, types, {"odfv": "on-demand views not served"})


def test_columns_keep_request_order_and_views_share_a_group(snapshot: RegistrySnapshot) -> None:
    plan = make_plan(snapshot, ["b:z", "c:w", "a:x"], None, False)
    assert [c.name for c in plan.columns] == ["z", "w", "x"]
    assert len(plan.groups) == 2  # a and b share user_id: one HMGET per entity
    user_group = plan.groups[0]
    assert [v.name for v in user_group.views] == ["b", "a"]
    assert user_group.fields == (
        feature_field("b", "z"),
        feature_field("a", "x"),
        ts_field("b"),
        ts_field("a"),
    )
    assert user_group.encoder.key([5]) == KeyEncoder("p", ["user_id"], [ValueType.INT64]).key([5])
    assert plan.join_keys == {"user_id": ValueType.INT64, "item_id": ValueType.STRING}


def test_feature_service_order_and_full_names(snapshot: RegistrySnapshot) -> None:
    plan = make_plan(snapshot, None, "model", True)
    assert [c.name for c in plan.columns] == ["c__w", "a__y", "a__x"]
    assert plan.feature_service == "model"


def test_plans_are_cached_per_snapshot(snapshot: RegistrySnapshot) -> None:
    assert make_plan(snapshot, ["a:x"], None, False) is make_plan(snapshot, ["a:x"], None, False)


@pytest.mark.parametrize(
    ("features", "service", "full", "error", "text"),
    [
        (["a:x", "a:x"], None, False, DuplicateFeatureError, "a:x"),
        (["a:shared", "b:shared"], None, False, DuplicateFeatureError, "full_feature_names"),
        (["a:nope", "zz:x", "x"], None, False, UnknownFeatureError, "'zz:x'"),
        (["odfv:f"], None, False, InvalidRequestError, "on-demand"),
        (None, "nope", False, UnknownFeatureServiceError, "model"),
        (None, "broken", False, InvalidRequestError, "gone:q"),
        (["a:x"], "model", False, InvalidRequestError, "not both"),
        ([], None, False, InvalidRequestError, "feature_service"),
    ],
)
def test_mistakes_are_named(
    snapshot: RegistrySnapshot,
    features: list[str] | None,
    service: str | None,
    full: bool,
    error: type[Exception],
    text: str,
) -> None:
    with pytest.raises(error, match=text):
        make_plan(snapshot, features, service, full)


def test_full_names_resolve_clashes(snapshot: RegistrySnapshot) -> None:
    plan = make_plan(snapshot, ["a:shared", "b:shared"], None, True)
    assert [c.name for c in plan.columns] == ["a__shared", "b__shared"]


KEYS = {"user_id": ValueType.INT64, "item_id": ValueType.STRING}


def test_entities_are_checked_and_coerced() -> None:
    columns, count = validate_entities(
        {"item_id": ["i"] * 3, "user_id": [1, "42", "-7"], "extra": [1, 2, 3]}, KEYS
    )
    assert count == 3
    assert columns == {"item_id": ["i"] * 3, "user_id": [1, 42, -7], "extra": [1, 2, 3]}
    assert list(columns) == ["item_id", "user_id", "extra"]  # request order, echoed


@pytest.mark.parametrize(
    ("entities", "error", "text"),
    [
        ({"user_id": [1]}, MissingJoinKeyError, "item_id"),
        ({"user_id": ["abc"], "item_id": ["i"]}, EntityTypeError, "'user_id' expects int64"),
        ({"user_id": [True], "item_id": ["i"]}, EntityTypeError, "True"),
        ({"user_id": [2**63], "item_id": ["i"]}, EntityTypeError, "int64"),
        ({"user_id": [1.5], "item_id": ["i"]}, EntityTypeError, "1.5"),
        ({"user_id": [1], "item_id": [3]}, EntityTypeError, "'item_id' expects string"),
        ({"user_id": [1, 2], "item_id": ["i"]}, InvalidRequestError, "same number"),
        ({"user_id": [], "item_id": []}, InvalidRequestError, "no entity values"),
        ({"user_id": 1, "item_id": ["i"]}, InvalidRequestError, "list"),
        ([], InvalidRequestError, "map each join key"),
        ({"user_id": list(range(11)), "item_id": ["i"] * 11}, TooManyEntitiesError, "limit is 10"),
    ],
)
def test_bad_entities_are_named(entities: object, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        validate_entities(entities, KEYS, max_entities=10)
