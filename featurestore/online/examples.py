"""Example lookups made from a project's own registry and feature tables.

The OpenAPI page and ``featurestore demo lookup`` show requests a caller could send to
this project: a feature service of the registry, its join keys, and for each key the
entity of the newest row in a feature table that has it (a typed placeholder when no
table holds rows yet). Nothing here knows any particular data set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
from feast import FeatureStore, FeatureView

from featurestore import sql
from featurestore.errors import ConfigError, UnknownFeatureServiceError
from featurestore.value_types import ValueType

_PLACEHOLDER = {ValueType.STRING: "id", ValueType.INT64: 1, ValueType.INT32: 1}


@dataclass(frozen=True)
class ExampleLookup:
    feature_service: str
    features: list[str]  # view:feature of the service, in its order
    entities: dict[str, list[Any]]  # join key -> one value


def example_lookup(store: FeatureStore, feature_service: str | None = None) -> ExampleLookup:
    """A lookup of ``feature_service`` (default: the first one, by name) for one entity."""
    registry, project = store.registry, store.project
    services = {s.name: s for s in registry.list_feature_services(project, allow_cache=True)}
    if not services:
        raise ConfigError("the registry has no feature service yet: run featurestore apply")
    name = feature_service or sorted(services)[0]
    if name not in services:
        raise UnknownFeatureServiceError(name, known=list(services))
    service = services[name]
    views = {v.name: v for v in registry.list_feature_views(project, allow_cache=True)}
    entity_types = {
        e.join_key: ValueType.of(e.value_type)
        for e in registry.list_entities(project, allow_cache=True)
    }
    used = [views[p.name] for p in service.feature_view_projections if p.name in views]
    projections = service.feature_view_projections
    features = [f"{p.name_to_use()}:{f.name}" for p in projections for f in p.features]
    entities: dict[str, list[Any]] = {}
    for view in used:
        missing = [key for key in view.join_keys if key not in entities]
        if not missing:
            continue
        row = _newest_keys(view)
        for key in missing:
            value = row.get(key) if row else None
            if value is None:
                value = _PLACEHOLDER.get(entity_types.get(key, ValueType.STRING), "id")
            entities[key] = [value]
    return ExampleLookup(feature_service=name, features=features, entities=entities)


def _newest_keys(view: FeatureView) -> dict[str, Any] | None:
    """The join keys of the newest row in the view's file source, if it has rows."""
    source = view.batch_source
    path = getattr(source, "path", None)
    timestamp = getattr(source, "timestamp_field", None)
    if not path or not timestamp:
        return None
    keys = [sql.ident(column.name) for column in view.entity_columns]
    con = sql.connect()
    try:
        row = con.execute(
            f"SELECT {', '.join(keys)} FROM {sql.parquet_scan(path)} "
            f"WHERE {' AND '.join(f'{k} IS NOT NULL' for k in keys)} "
            f"ORDER BY {sql.ident(timestamp)} DESC LIMIT 1"
        ).fetchone()
    except duckdb.Error:
        return None  # no table yet, or not readable: the caller uses placeholders
    finally:
        con.close()
    if row is None:
        return None
    return dict(zip([c.name for c in view.entity_columns], row, strict=True))
