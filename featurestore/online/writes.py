"""Writes through the feature server (``/push``, ``/write-to-online-store``), done by Feast.

Writes are not the hot path: they go through vanilla Feast, so the Redis bytes are exactly
Feast's. What this adds is input checking. Frames come from JSON (timestamps as strings),
and Feast's conversions fail in ways that name nothing the client sent (``"['price'] not
in index"``, ``NaTType does not support utctimetuple``), write a value converted to
something else (``1.5`` into an ``Int64`` feature, ``{"a": 1}`` into a ``String`` one)
or crash (a string into a ``Float64`` feature). So every column a target view needs is
checked here before Feast sees the frame, against the view's schema:

- join keys as lookups take them (``plan.coerce_entity``: the key's type, decimal
  strings for integer keys, no null, integers within the type's range);
- the source's timestamp column: ISO 8601 strings, no null;
- features by type: numbers (not booleans) for floats, integers within range (or decimal
  strings) for integers and Unix timestamps (seconds), strings, booleans, lists of those
  for arrays, null for a missing value; ``Bytes`` cannot come from JSON, so only null.

A mistake is a ``RequestError`` naming the column, the row and the value. What Feast
still refuses after that is answered with our own message, never the library's text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from feast import FeatureStore, FeatureView
from feast.data_source import PushMode, PushSource
from feast.errors import FeastObjectNotFoundException, FeatureViewNotFoundException
from feast.value_type import ValueType

from featurestore.errors import InvalidRequestError, RequestError, UnknownObjectError
from featurestore.online.plan import coerce_entity

__all__ = ["PUSH_MODES", "push", "write_to_online_store"]

logger = logging.getLogger(__name__)

PUSH_MODES = {
    "online": PushMode.ONLINE,
    "offline": PushMode.OFFLINE,
    "online_and_offline": PushMode.ONLINE_AND_OFFLINE,
}

_DECIMAL = re.compile(r"[-+]?[0-9]{1,20}")
_RANGES = {
    ValueType.INT32: (-(2**31), 2**31 - 1),
    ValueType.INT64: (-(2**63), 2**63 - 1),
    ValueType.UNIX_TIMESTAMP: (-(2**63), 2**63 - 1),
}
_SCALARS = {
    ValueType.FLOAT: "numbers",
    ValueType.DOUBLE: "numbers",
    ValueType.INT32: "int32 values",
    ValueType.INT64: "int64 values",
    ValueType.UNIX_TIMESTAMP: "Unix timestamps in seconds",
    ValueType.STRING: "strings",
    ValueType.BOOL: "true or false",
}
_LISTS = {ValueType[f"{name}_LIST"]: name for name in (t.name for t in _SCALARS)}


class _Refused(Exception):
    """A value that does not fit its column's type."""


@dataclass(frozen=True)
class _Target:
    """What one feature view needs from a frame: its columns, by their name in the frame."""

    name: str
    join_keys: dict[str, ValueType]
    timestamps: tuple[str, ...]  # the event timestamp, then the created one if any
    features: dict[str, ValueType]


def _target(view: FeatureView) -> _Target:
    source = view.batch_source
    renamed = {new: old for old, new in (source.field_mapping or {}).items()} if source else {}
    timestamps = (source.timestamp_field, source.created_timestamp_column) if source else ()
    return _Target(
        name=view.name,
        join_keys={c.name: c.dtype.to_value_type() for c in view.entity_columns},
        timestamps=tuple(name for name in timestamps if name),
        features={renamed.get(f.name, f.name): f.dtype.to_value_type() for f in view.features},
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _scalar(value_type: ValueType, value: Any) -> Any:
    """The value as Feast writes it for a scalar type, or ``_Refused``."""
    if value_type in (ValueType.FLOAT, ValueType.DOUBLE):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif value_type in _RANGES:
        if isinstance(value, str) and _DECIMAL.fullmatch(value):
            value = int(value)
        low, high = _RANGES[value_type]
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
    elif value_type == ValueType.STRING:
        if isinstance(value, str):
            return value
    elif value_type == ValueType.BOOL and isinstance(value, bool):
        return value
    raise _Refused


def _feature(value_type: ValueType, value: Any) -> Any:
    if value is None:
        return None
    if value_type in _SCALARS:
        return _scalar(value_type, value)
    if value_type in _LISTS:
        if isinstance(value, list):
            element = ValueType[_LISTS[value_type]]
            return [_scalar(element, item) for item in value]
        raise _Refused
    if value_type == ValueType.BYTES:
        raise _Refused
    return value  # a type JSON has no form for: Feast decides


def _expects(value_type: ValueType) -> str:
    if value_type in _LISTS:
        return f"lists of {_SCALARS[ValueType[_LISTS[value_type]]]} (or null)"
    if value_type == ValueType.BYTES:
        return "null (Bytes values cannot be sent as JSON)"
    return f"{_SCALARS.get(value_type, value_type.name.lower())} (or null)"


def _columns(columns: Any) -> dict[str, list[Any]]:
    if not isinstance(columns, Mapping) or not columns:
        raise InvalidRequestError("'df' must map column names to lists of values")
    if not all(isinstance(values, list) for values in columns.values()):
        raise InvalidRequestError("every column of 'df' must be a list of values")
    if len({len(values) for values in columns.values()}) != 1:
        sizes = ", ".join(f"{name}: {len(values)}" for name, values in columns.items())
        raise InvalidRequestError(f"every column of 'df' must have the same length ({sizes})")
    return dict(columns)


def _timestamps(name: str, values: list[Any]) -> pd.Series:
    for row, value in enumerate(values):
        if not isinstance(value, str):
            raise InvalidRequestError(
                f"column {name!r}: expects ISO 8601 timestamps, got {_short(value)} (row {row})"
            )
    try:
        return pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        for row, value in enumerate(values):
            try:
                pd.to_datetime(value, utc=True, format="ISO8601")
            except (ValueError, TypeError, OverflowError):
                raise InvalidRequestError(
                    f"column {name!r}: expects ISO 8601 timestamps, got {_short(value)} (row {row})"
                ) from None
        raise InvalidRequestError(f"column {name!r}: expects ISO 8601 timestamps") from None


def _frame(columns: Any, targets: Sequence[_Target]) -> pd.DataFrame:
    """The frame Feast is given: every column the targets need, checked and converted;
    other columns as sent (Feast ignores them)."""
    checked = _columns(columns)
    frame: dict[str, Any] = {
        name: pd.Series(values, dtype=object) for name, values in checked.items()
    }
    for target in targets:
        needed = [*target.join_keys, *target.timestamps, *target.features]
        missing = [name for name in dict.fromkeys(needed) if name not in checked]
        if missing:
            raise InvalidRequestError(
                f"'df' lacks column(s) {', '.join(missing)} of feature view {target.name!r}"
            )
        for key, key_type in target.join_keys.items():
            values = [coerce_entity(key, key_type, value) for value in checked[key]]
            frame[key] = pd.Series(values, dtype=object)
        for name in target.timestamps:
            frame[name] = _timestamps(name, checked[name])
        for name, value_type in target.features.items():
            frame[name] = pd.Series(_features(name, value_type, checked[name]), dtype=object)
    return pd.DataFrame(frame)


def _features(name: str, value_type: ValueType, values: list[Any]) -> list[Any]:
    converted = []
    for row, value in enumerate(values):
        try:
            converted.append(_feature(value_type, value))
        except _Refused:
            raise InvalidRequestError(
                f"column {name!r}: expects {_expects(value_type)}, got {_short(value)} (row {row})"
            ) from None
    return converted


def _refused(what: str, exc: Exception) -> InvalidRequestError:
    """Feast refused rows our checks passed: say so in our words, log Feast's."""
    logger.warning("Feast refused a write to %s: %r", what, exc)
    return InvalidRequestError(f"cannot write these rows to {what} (the server log has why)")


def write_to_online_store(
    store: FeatureStore, feature_view_name: str, columns: Mapping[str, Sequence[Any]]
) -> int:
    """Write rows of one feature view with Feast; the number of rows written."""
    try:
        view = store.get_feature_view(feature_view_name, allow_registry_cache=True)
    except FeatureViewNotFoundException:
        raise UnknownObjectError("feature view", feature_view_name) from None
    frame = _frame(columns, [_target(view)])
    try:
        store.write_to_online_store(feature_view_name, frame, allow_registry_cache=True)
    except RequestError:
        raise
    except (ValueError, KeyError, TypeError, AssertionError, ArithmeticError) as exc:
        raise _refused(f"feature view {feature_view_name!r}", exc) from None
    return len(frame)


def _push_targets(store: FeatureStore, push_source_name: str) -> list[_Target]:
    views = [*store.list_feature_views(allow_cache=True)]
    views += store.list_stream_feature_views(allow_cache=True)
    return [
        _target(view)
        for view in views
        if isinstance(view.stream_source, PushSource)
        and view.stream_source.name == push_source_name
    ]


def push(
    store: FeatureStore, push_source_name: str, columns: Mapping[str, Sequence[Any]], to: str
) -> int:
    """Push rows to the views fed by a push source; the number of rows pushed."""
    if to not in PUSH_MODES:
        raise InvalidRequestError(f"'to' must be one of {', '.join(PUSH_MODES)}, got {to!r}")
    try:
        source = store.get_data_source(push_source_name)
    except FeastObjectNotFoundException:
        raise UnknownObjectError("push source", push_source_name) from None
    if not isinstance(source, PushSource):
        raise UnknownObjectError("push source", push_source_name)
    frame = _frame(columns, _push_targets(store, push_source_name))
    try:
        store.push(push_source_name, frame, allow_registry_cache=True, to=PUSH_MODES[to])
    except FeastObjectNotFoundException:
        raise UnknownObjectError("push source", push_source_name) from None
    except RequestError:
        raise
    except (ValueError, KeyError, TypeError, AssertionError, ArithmeticError) as exc:
        raise _refused(f"push source {push_source_name!r}", exc) from None
    return len(frame)
