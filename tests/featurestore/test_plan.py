"""What counts as a breaking change for the models (feature services), and how changes read."""

from __future__ import annotations

from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource
from feast.feature_view import DUMMY_ENTITY
from feast.infra.registry.registry import FeastObjectType
from feast.types import Float64, String

from featurestore.plan import Snapshot, describe_breaking, plan

CURRENT = Snapshot(
    views={
        "weather": {"temp": "Float64", "wind": "Float64"},
        "carrier": {"delay": "Float64", "flights": "Int64"},
    },
    services={
        "delay_model": {"weather": ["temp", "wind"], "carrier": ["delay"]},
        "cancel_model": {"weather": ["wind"], "carrier": ["flights"]},
    },
    entities={"airport": "origin", "airline": "carrier"},
)


def _with(**changes: object) -> Snapshot:
    return Snapshot(**{**CURRENT.__dict__, **changes})  # type: ignore[arg-type]


def test_no_changes() -> None:
    assert plan(CURRENT, CURRENT).changes == []


def test_adding_features_views_and_services_is_safe() -> None:
    desired = _with(
        views={**CURRENT.views, "weather": {**CURRENT.views["weather"], "gust": "Float64"},
               "plane": {"seats": "Int64"}},
        services={**CURRENT.services, "fleet_model": {"plane": ["seats"]}},
    )  # fmt: skip
    result = plan(CURRENT, desired)
    assert not result.breaking
    assert {(c.kind, c.object, c.name) for c in result.changes} == {
        ("add", "feature", "weather:gust"),
        ("add", "feature_view", "plane"),
        ("add", "feature_service", "fleet_model"),
    }


def test_removing_a_used_feature_names_every_model_using_it() -> None:
    desired = _with(views={**CURRENT.views, "weather": {"temp": "Float64"}})
    result = plan(CURRENT, desired)
    assert describe_breaking(result) == [
        "removes feature weather:wind, used by cancel_model, delay_model"
    ]
    assert result.affected_services == ["cancel_model", "delay_model"]


def test_retyping_a_used_feature_is_breaking() -> None:
    desired = _with(views={**CURRENT.views, "carrier": {"delay": "Float64", "flights": "Float64"}})
    (change,) = plan(CURRENT, desired).breaking
    assert (change.kind, change.name, change.detail) == (
        "retype",
        "carrier:flights",
        "Int64 -> Float64",
    )
    assert change.affected_services == ("cancel_model",)


def test_removing_an_unused_feature_is_safe() -> None:
    current = _with(
        views={**CURRENT.views, "weather": {**CURRENT.views["weather"], "dewp": "Float64"}}
    )
    result = plan(current, CURRENT)
    assert [(c.kind, c.name, c.breaking) for c in result.changes] == [
        ("remove", "weather:dewp", False)
    ]


def test_removing_a_used_view_is_breaking() -> None:
    desired = _with(views={"weather": CURRENT.views["weather"]})
    (change,) = plan(CURRENT, desired).breaking
    assert (change.object, change.name) == ("feature_view", "carrier")
    assert change.affected_services == ("cancel_model", "delay_model")


def test_dropping_a_feature_from_its_service_in_the_same_apply_is_still_refused() -> None:
    """Retiring a feature takes two applies: first the services, then the feature."""
    desired = _with(
        views={**CURRENT.views, "carrier": {"delay": "Float64"}},
        services={**CURRENT.services, "cancel_model": {"weather": ["wind"]}},
    )
    assert [c.name for c in plan(CURRENT, desired).breaking] == ["carrier:flights"]
    step_one = _with(services={**CURRENT.services, "cancel_model": {"weather": ["wind"]}})
    assert not plan(CURRENT, step_one).breaking
    assert not plan(step_one, desired).breaking


def _view(entities: list[Entity], ttl_hours: int = 3) -> FeatureView:
    source = FileSource(name="s", path="/t.parquet", timestamp_field="ts")
    schema = [Field(name="a", dtype=String), Field(name="b", dtype=String)]
    schema.append(Field(name="x", dtype=Float64))
    return FeatureView(
        name="v", entities=entities, ttl=timedelta(hours=ttl_hours), schema=schema, source=source
    )


def _snapshot(*objects: Entity | FeatureView) -> Snapshot:
    return Snapshot.of(
        {
            FeastObjectType.ENTITY: [o for o in objects if isinstance(o, Entity)],
            FeastObjectType.FEATURE_VIEW: [o for o in objects if isinstance(o, FeatureView)],
        }
    )


def test_a_field_without_a_readable_detail_is_named() -> None:
    a, b = Entity(name="a", join_keys=["a"]), Entity(name="b", join_keys=["b"])
    result = plan(_snapshot(a, b, _view([a, b])), _snapshot(a, b, _view([b, a], ttl_hours=4)))
    assert [(c.kind, c.name, c.detail) for c in result.changes] == [
        ("change", "v", "ttl 3:00:00 -> 4:00:00; spec changed (entities)")
    ]


def test_feasts_dummy_entity_is_never_listed() -> None:
    a = Entity(name="a", join_keys=["a"])
    result = plan(_snapshot(a, _view([a])), _snapshot(a, _view([]), DUMMY_ENTITY))
    assert [(c.kind, c.object, c.name, c.detail) for c in result.changes] == [
        ("change", "feature_view", "v", "entities -a; entity_columns -a"),
        ("add", "feature", "v:a", "String"),
    ]
