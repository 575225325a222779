"""The plan on a real repo shows every change apply writes, and nothing else.

A module added to a copy of the demo repo defines one object of each kind apply
writes (entity, data source, feature view, feature service); each step edits one
attribute of it, then the plan must name that change, not call it breaking, and be
empty once the change is applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from featurestore.apply import apply, plan_apply
from featurestore.plan import Plan
from featurestore.project import Project
from tests.conftest import copy_project

pytestmark = pytest.mark.slow

ROUTES = """
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64, String

from entities import aircraft

route = Entity(
    name="route",
    join_keys=[{join_key!r}],
    value_type=ValueType.{value_type},
    description={entity_description!r},
    tags={entity_tags!r},
    owner={entity_owner!r},
)
route_source = FileSource(
    name="route_source",
    path={path!r},
    timestamp_field={timestamp_field!r},
    description={source_description!r},
)
route_stats = FeatureView(
    name="route_stats",
    entities={entities},
    ttl=timedelta(hours={ttl_hours}),
    schema=[
        Field(name={join_key!r}, dtype={key_dtype}),
        Field(name="tailnum", dtype=String),
        Field(name="distance", dtype=Float64,
              description={feature_description!r}, tags={feature_tags!r}),
    ],
    source=route_source,
    online={online},
    offline={offline},
    description={view_description!r},
    owner={view_owner!r},
    tags={view_tags!r},
)
route_model = FeatureService(
    name="route_model",
    features=[route_stats[["distance"]]],
    description={service_description!r},
    owner={service_owner!r},
    tags={service_tags!r},
)
"""

START: dict[str, Any] = {
    "join_key": "route_id", "value_type": "STRING", "key_dtype": "String",
    "entity_description": "A route", "entity_tags": {"team": "a"}, "entity_owner": "a@x",
    "path": "/data/routes.parquet", "timestamp_field": "event_timestamp",
    "source_description": "Routes", "entities": "[route]", "ttl_hours": 3,
    "feature_description": "Miles", "feature_tags": {}, "online": True, "offline": False,
    "view_description": "Route", "view_owner": "a@x", "view_tags": {"team": "a"},
    "service_description": "Routes model", "service_owner": "a@x", "service_tags": {},
}  # fmt: skip

# (edits, object, name, a part of the change's detail)
STEPS: list[tuple[dict[str, Any], str, str, str]] = [
    ({"ttl_hours": 4}, "feature_view", "route_stats", "ttl 3:00:00 -> 4:00:00"),
    ({"view_tags": {"team": "a", "tier": "1"}}, "feature_view", "route_stats", "tags +tier=1"),
    ({"view_tags": {"team": "b"}}, "feature_view", "route_stats", "tags -tier ~team=a->b"),
    ({"view_owner": "b@x"}, "feature_view", "route_stats", "owner 'a@x' -> 'b@x'"),
    ({"view_description": "Stat"}, "feature_view", "route_stats", "description 'Route' -> 'Stat'"),
    ({"online": False}, "feature_view", "route_stats", "online True -> False"),
    ({"offline": True}, "feature_view", "route_stats", "offline False -> True"),
    ({"path": "/data/routes2.parquet"}, "feature_view", "route_stats",
     "source path '/data/routes.parquet' -> '/data/routes2.parquet'"),
    ({"path": "/data/routes3.parquet"}, "data_source", "route_source",
     "path '/data/routes2.parquet' -> '/data/routes3.parquet'"),
    ({"timestamp_field": "ts"}, "feature_view", "route_stats",
     "source timestamp_field 'event_timestamp' -> 'ts'"),
    ({"source_description": "All routes"}, "data_source", "route_source",
     "description 'Routes' -> 'All routes'"),
    ({"entities": "[route, aircraft]"}, "feature_view", "route_stats", "entities +aircraft"),
    ({"entities": "[]"}, "feature_view", "route_stats", "entities -route -aircraft"),
    ({"entities": "[route]"}, "feature_view", "route_stats", "entities +route"),
    ({"feature_description": "Miles flown"}, "feature", "route_stats:distance",
     "description 'Miles' -> 'Miles flown'"),
    ({"feature_tags": {"unit": "mi"}}, "feature", "route_stats:distance", "tags +unit=mi"),
    ({"join_key": "route_key"}, "entity", "route", "join_key 'route_id' -> 'route_key'"),
    ({"value_type": "INT64", "key_dtype": "Int64"}, "entity", "route",
     "value_type STRING -> INT64"),
    ({"entity_description": "A pair"}, "entity", "route", "description 'A route' -> 'A pair'"),
    ({"entity_tags": {}}, "entity", "route", "tags -team"),
    ({"entity_owner": "b@x"}, "entity", "route", "owner 'a@x' -> 'b@x'"),
    ({"service_description": "Model"}, "feature_service", "route_model",
     "description 'Routes model' -> 'Model'"),
    ({"service_owner": "b@x"}, "feature_service", "route_model", "owner 'a@x' -> 'b@x'"),
    ({"service_tags": {"label": "late"}}, "feature_service", "route_model", "tags +label=late"),
    # The service embeds a copy of its view: a change to the view shows there too.
    ({"feature_description": "Distance"}, "feature_service", "route_model",
     "projection of route_stats changed"),
]  # fmt: skip


def _names(result: Plan) -> list[str]:
    return [c.name for c in result.changes]


@pytest.fixture
def routes(tmp_path: Path) -> tuple[Project, Path]:
    settings = Project.for_repo(copy_project(tmp_path), redis_url="redis://127.0.0.1:1/0")
    module = settings.repo_path / "routes.py"
    module.write_text(ROUTES.format(**START))
    first = plan_apply(settings)
    assert "__dummy" not in _names(first)
    assert {("add", "data_source", "route_source"), ("add", "entity", "route")} <= {
        (c.kind, c.object, c.name) for c in first.changes
    }
    apply(settings)
    assert plan_apply(settings).changes == []
    return settings, module


@pytest.mark.parametrize("steps", [STEPS], ids=["each attribute in turn"])
def test_every_attribute_apply_writes_shows_in_the_plan(
    routes: tuple[Project, Path], steps: list[tuple[dict[str, Any], str, str, str]]
) -> None:
    settings, module = routes
    params = dict(START)
    for edits, obj, name, detail in steps:
        params.update(edits)
        module.write_text(ROUTES.format(**params))
        result = plan_apply(settings)
        shown = {(c.object, c.name): c.detail for c in result.changes if c.kind == "change"}
        assert detail in shown.get((obj, name), ""), (edits, result.changes)
        assert not result.breaking, (edits, result.breaking)
        assert "__dummy" not in _names(result) and "__dummy" not in str(shown)
        apply(settings)
        assert plan_apply(settings).changes == [], edits
