"""Turning a request into a read plan, and every mistake in it into a named error.

A ``Plan`` lists the output columns in the order the caller asked for them (a feature list
in its own order, a feature service in its definition order) and groups the feature views
by their join keys: views on the same entity share one Redis hash per entity, so a request
reads one ``HMGET`` per entity and group, all in one pipeline. Plans depend only on the
registry snapshot and the request's names, so they are cached on the snapshot.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from featurestore.errors import (
    DuplicateFeatureError,
    EntityTypeError,
    InvalidRequestError,
    MissingJoinKeyError,
    TooManyEntitiesError,
    TooManyFeaturesError,
    UnknownFeatureError,
    UnknownFeatureServiceError,
)
from featurestore.online.registry import RegistrySnapshot, ViewInfo
from featurestore.online.resp import hmget_fields
from featurestore.redis_layout import KeyEncoder
from featurestore.value_types import ValueType

__all__ = ["Column", "KeyGroup", "Plan", "coerce_entity", "make_plan", "validate_entities"]

MAX_FEATURES = 1000  # feature refs per request (FEATURESTORE_MAX_FEATURES in the API)
_MAX_CACHED_PLANS = 1024
_INT_TYPES = (ValueType.INT32, ValueType.INT64, ValueType.UNIX_TIMESTAMP)
_TYPE_NAMES = {
    ValueType.STRING: "string",
    ValueType.INT32: "int32",
    ValueType.INT64: "int64",
    ValueType.UNIX_TIMESTAMP: "int64",
}
_DECIMAL = re.compile(r"[-+]?[0-9]{1,20}")
_INT32_RANGE = (-(2**31), 2**31 - 1)
_INT64_RANGE = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class KeyGroup:
    """Feature views sharing one set of join keys, hence one Redis hash per entity."""

    join_keys: tuple[str, ...]
    key_types: tuple[ValueType, ...]
    encoder: KeyEncoder
    fields: tuple[bytes, ...]  # the HMGET fields: every feature's, then every view's _ts
    views: tuple[ViewInfo, ...]  # views[i]'s timestamp is at fields[ts_offset + i]
    ts_offset: int
    hmget_head: bytes  # RESP bytes of "HMGET" before the key ...
    hmget_fields: bytes  # ... and of the fields after it


@dataclass(frozen=True)
class Column:
    name: str  # the output name (``feature`` or ``view__feature``)
    group: int  # index into Plan.groups
    field_index: int  # index of the value in the group's HMGET reply
    view_index: int  # index of the view in the group (for its timestamp and TTL)


@dataclass(frozen=True)
class Plan:
    columns: tuple[Column, ...]
    groups: tuple[KeyGroup, ...]
    join_keys: dict[str, ValueType]  # every join key the features need
    feature_service: str | None


def make_plan(
    snapshot: RegistrySnapshot,
    features: Sequence[str] | None,
    feature_service: str | None,
    full_feature_names: bool,
    max_features: int | None = MAX_FEATURES,
) -> Plan:
    """The read plan of a request (cached per registry snapshot). Its work is linear in
    the number of features asked for, which ``max_features`` bounds."""
    if feature_service is not None and features:
        raise InvalidRequestError("give either 'features' or 'feature_service', not both")
    if features is not None and max_features is not None and len(features) > max_features:
        raise TooManyFeaturesError(len(features), max_features)
    cache_key = (tuple(features or ()), feature_service, full_feature_names)
    plan: Plan | None = snapshot.plans.get(cache_key)
    if plan is None:
        plan = _make_plan(snapshot, features, feature_service, full_feature_names)
        if len(snapshot.plans) >= _MAX_CACHED_PLANS:
            snapshot.plans.clear()
        snapshot.plans[cache_key] = plan
    return plan


def _make_plan(
    snapshot: RegistrySnapshot,
    features: Sequence[str] | None,
    feature_service: str | None,
    full_feature_names: bool,
) -> Plan:
    wanted: list[tuple[str, str, str]] = []  # (view, feature, alias for full names)
    if feature_service is not None:
        projections = snapshot.services.get(feature_service)
        if projections is None:
            raise UnknownFeatureServiceError(feature_service, known=list(snapshot.services))
        for projection in projections:
            if projection.view in snapshot.unsupported_views:
                raise InvalidRequestError(
                    f"feature service {feature_service!r} uses {projection.view!r}: "
                    f"{snapshot.unsupported_views[projection.view]}"
                )
            view = snapshot.views.get(projection.view)
            missing = [f for f in projection.features if view is None or f not in view.features]
            if missing:
                raise InvalidRequestError(
                    f"feature service {feature_service!r} refers to "
                    f"{', '.join(f'{projection.view}:{f}' for f in missing)}, "
                    "which the registry does not have (run feast apply)"
                )
            for feature in projection.features:
                wanted.append((projection.view, feature, projection.alias))
    else:
        if not features:
            raise InvalidRequestError(
                "give 'features' (a list of 'view:feature') or 'feature_service'"
            )
        counts = Counter(ref for ref in features if isinstance(ref, str))
        duplicates = sorted(ref for ref, n in counts.items() if n > 1)
        if duplicates:
            raise DuplicateFeatureError(duplicates)
        unknown: list[str] = []
        for ref in features:
            if not isinstance(ref, str):
                raise InvalidRequestError(f"a feature must be 'view:feature', got {ref!r}")
            view_name, _, feature = ref.partition(":")
            if view_name in snapshot.unsupported_views:
                raise InvalidRequestError(f"{ref!r}: {snapshot.unsupported_views[view_name]}")
            view = snapshot.views.get(view_name)
            if view is None or feature not in view.features:
                unknown.append(ref)
            else:
                wanted.append((view_name, feature, view_name))
        if unknown:
            raise UnknownFeatureError(unknown, known_views=sorted(snapshot.views))
    names = [
        f"{alias}__{feature}" if full_feature_names else feature for _, feature, alias in wanted
    ]
    clashes = sorted(name for name, n in Counter(names).items() if n > 1)
    if clashes:
        raise DuplicateFeatureError(
            [f"{n} (use full_feature_names)" if not full_feature_names else n for n in clashes]
        )
    return _group(snapshot, wanted, names, feature_service)


def _group(
    snapshot: RegistrySnapshot,
    wanted: list[tuple[str, str, str]],
    names: list[str],
    feature_service: str | None,
) -> Plan:
    by_keys: dict[tuple[str, ...], list[str]] = {}  # join keys -> view names, first-seen order
    for view_name, _, _ in wanted:
        seen = by_keys.setdefault(snapshot.views[view_name].join_keys, [])
        if view_name not in seen:
            seen.append(view_name)
    group_of_keys = {keys: i for i, keys in enumerate(by_keys)}
    feature_fields: dict[tuple[str, ...], list[bytes]] = {keys: [] for keys in by_keys}
    positions: list[tuple[int, int, int]] = []
    for view_name, feature, _ in wanted:
        view = snapshot.views[view_name]
        fields = feature_fields[view.join_keys]
        positions.append(
            (group_of_keys[view.join_keys], len(fields), by_keys[view.join_keys].index(view_name))
        )
        fields.append(view.features[feature].field)
    groups: list[KeyGroup] = []
    join_keys: dict[str, ValueType] = {}
    for keys, view_names in by_keys.items():
        views = tuple(snapshot.views[name] for name in view_names)
        types = views[0].key_types
        for key, value_type in zip(keys, types, strict=True):
            join_keys[key] = value_type
        fields = feature_fields[keys]
        all_fields = (*fields, *(view.ts_field for view in views))
        head, packed = hmget_fields(all_fields)
        groups.append(
            KeyGroup(
                join_keys=keys,
                key_types=types,
                encoder=KeyEncoder(snapshot.project, keys, types),
                fields=all_fields,
                views=views,
                ts_offset=len(fields),
                hmget_head=head,
                hmget_fields=packed,
            )
        )
    columns = tuple(
        Column(name, group, index, view_index)
        for name, (group, index, view_index) in zip(names, positions, strict=True)
    )
    return Plan(columns, tuple(groups), join_keys, feature_service)


def validate_entities(
    entities: Any, join_keys: Mapping[str, ValueType], max_entities: int | None = None
) -> tuple[dict[str, list[Any]], int]:
    """Check the entity columns; return them (request order) and the number of entities.

    Every join key the features need must be there with values of its type; extra columns
    are echoed back, as Feast does. All columns must have the same length.
    """
    if not isinstance(entities, Mapping) or not entities:
        raise InvalidRequestError("'entities' must map each join key to a list of values")
    missing = [key for key in join_keys if key not in entities]
    if missing:
        raise MissingJoinKeyError(missing)
    columns: dict[str, list[Any]] = {}
    for key, values in entities.items():
        if not isinstance(values, list | tuple):
            raise InvalidRequestError(f"entity {key!r} must be a list of values")
        columns[str(key)] = list(values)
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        sizes = ", ".join(f"{key}: {len(values)}" for key, values in columns.items())
        raise InvalidRequestError(f"every entity key must have the same number of values ({sizes})")
    count = lengths.pop()
    if count == 0:
        raise InvalidRequestError("no entity values given")
    if max_entities is not None and count > max_entities:
        raise TooManyEntitiesError(count, max_entities)
    for key, value_type in join_keys.items():
        columns[key] = [coerce_entity(key, value_type, value) for value in columns[key]]
    return columns, count


def coerce_entity(key: str, value_type: ValueType, value: Any) -> Any:
    """The value as its join key's type, for lookups and writes alike. Integer keys also
    take decimal strings ("42"), as Feast does (its CLI sends every entity value as a
    string); "abc", 1.5, true, null and integers outside the type's range are errors
    (orjson reads integers past 64 bits as floats, so 2**64 is refused as a float)."""
    if value_type == ValueType.STRING:
        if isinstance(value, str):
            return value
    elif value_type in _INT_TYPES:
        if isinstance(value, str) and _DECIMAL.fullmatch(value):
            value = int(value)
        low, high = _INT32_RANGE if value_type == ValueType.INT32 else _INT64_RANGE
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
    else:
        raise InvalidRequestError(
            f"entity {key!r} has type {value_type.name}, which this server cannot look up"
        )
    raise EntityTypeError(key, _TYPE_NAMES.get(value_type, value_type.name.lower()), value)
