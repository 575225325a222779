"""What counts as a breaking change for the models (feature services)."""

from __future__ import annotations

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
