"""Online feature lookups in the wire format of Feast's feature server.

``OnlineLookup.get_online_features`` validates a request against the registry first, so
that every mistake a caller can make (unknown feature or feature service, duplicate
names, a missing join key, a value of the wrong type) is a ``RequestError`` naming the
problem, then reads Redis through Feast and answers with the column-major JSON document
``feast serve`` returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from feast import FeatureService, FeatureStore, FeatureView
from feast.feature_server_utils import convert_response_to_dict
from feast.value_type import ValueType

from featurestore.errors import (
    DuplicateFeatureError,
    EntityTypeError,
    InvalidRequestError,
    MissingJoinKeyError,
    UnknownFeatureError,
    UnknownFeatureServiceError,
)

_INT_TYPES = {ValueType.INT32, ValueType.INT64, ValueType.UNIX_TIMESTAMP}
_TYPE_NAMES = {
    ValueType.STRING: "string",
    ValueType.INT32: "int32",
    ValueType.INT64: "int64",
    ValueType.UNIX_TIMESTAMP: "int64",
    ValueType.BYTES: "bytes",
    ValueType.BOOL: "bool",
}


@dataclass(frozen=True)
class ResolvedRequest:
    """A validated request: the feature references and the join keys they need."""

    features: list[str] | FeatureService
    feature_refs: list[str]
    join_keys: dict[str, ValueType]


class OnlineLookup:
    """Answers ``/get-online-features`` requests for one Feast repo."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store

    def resolve(
        self, features: Sequence[str] | None, feature_service: str | None
    ) -> ResolvedRequest:
        if feature_service and features:
            raise InvalidRequestError("give either 'features' or 'feature_service', not both")
        views = {fv.name: fv for fv in self.store.list_feature_views(allow_cache=True)}
        if feature_service:
            service = self._feature_service(feature_service)
            refs = [
                f"{projection.name_to_use()}:{feature.name}"
                for projection in service.feature_view_projections
                for feature in projection.features
            ]
            needed = [views[p.name] for p in service.feature_view_projections if p.name in views]
            return ResolvedRequest(service, refs, self._join_keys(needed))
        if not features:
            raise InvalidRequestError(
                "give 'features' (a list of 'view:feature') or 'feature_service'"
            )
        refs = list(features)
        duplicates = sorted({ref for ref in refs if refs.count(ref) > 1})
        if duplicates:
            raise DuplicateFeatureError(duplicates)
        unknown: list[str] = []
        needed_views: dict[str, FeatureView] = {}
        for ref in refs:
            view_name, _, feature = ref.partition(":")
            view = views.get(view_name)
            if not feature or view is None or feature not in {f.name for f in view.features}:
                unknown.append(ref)
            else:
                needed_views[view_name] = view
        if unknown:
            raise UnknownFeatureError(unknown, known_views=sorted(views))
        return ResolvedRequest(refs, refs, self._join_keys(list(needed_views.values())))

    def _feature_service(self, name: str) -> FeatureService:
        registry = self.store.registry
        services = {
            s.name: s for s in registry.list_feature_services(self.store.project, allow_cache=True)
        }
        if name not in services:
            raise UnknownFeatureServiceError(name, known=list(services))
        return services[name]

    def _join_keys(self, views: Sequence[FeatureView]) -> dict[str, ValueType]:
        types = {
            entity.join_key: entity.value_type
            for entity in self.store.list_entities(allow_cache=True)
        }
        keys: dict[str, ValueType] = {}
        for view in views:
            for column in view.entity_columns:
                keys[column.name] = types.get(column.name, ValueType.UNKNOWN)
        return keys

    def get_online_features(
        self,
        entities: Mapping[str, Sequence[Any]],
        features: Sequence[str] | None = None,
        feature_service: str | None = None,
        full_feature_names: bool = False,
    ) -> dict[str, Any]:
        request = self.resolve(features, feature_service)
        rows = validate_entities(entities, request.join_keys)
        response = self.store.get_online_features(
            features=request.features,
            entity_rows=[
                dict(zip(rows, values, strict=True)) for values in zip(*rows.values(), strict=True)
            ],
            full_feature_names=full_feature_names,
        )
        return convert_response_to_dict(response.proto)


def validate_entities(
    entities: Mapping[str, Sequence[Any]], join_keys: Mapping[str, ValueType]
) -> dict[str, list[Any]]:
    """Check entity columns: all join keys, no stray keys, equal lengths, right types."""
    if not isinstance(entities, Mapping) or not entities:
        raise InvalidRequestError("'entities' must map each join key to a list of values")
    missing = [key for key in join_keys if key not in entities]
    if missing:
        raise MissingJoinKeyError(missing)
    extra = sorted(set(entities) - set(join_keys))
    if extra:
        raise InvalidRequestError(
            f"unexpected entity key(s) {', '.join(extra)}; "
            f"these features need {', '.join(join_keys)}"
        )
    columns: dict[str, list[Any]] = {}
    for key, value_type in join_keys.items():
        values = entities[key]
        if not isinstance(values, list | tuple):
            raise InvalidRequestError(f"entity {key!r} must be a list of values")
        for value in values:
            _check_type(key, value_type, value)
        columns[key] = list(values)
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise InvalidRequestError("every entity key must have the same number of values")
    if lengths == {0}:
        raise InvalidRequestError("no entity values given")
    return columns


def _check_type(key: str, value_type: ValueType, value: Any) -> None:
    if value_type in _INT_TYPES:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif value_type == ValueType.STRING:
        ok = isinstance(value, str)
    elif value_type == ValueType.BOOL:
        ok = isinstance(value, bool)
    else:
        ok = value is not None
    if not ok:
        raise EntityTypeError(key, _TYPE_NAMES.get(value_type, value_type.name.lower()), value)
