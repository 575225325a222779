"""Writes through the feature server (``/push``, ``/write-to-online-store``), done by Feast.

Writes are not the hot path: they go through vanilla Feast, so the Redis bytes are exactly
Feast's. What this adds is input checking: frames come from JSON (timestamps as strings),
and every mistake becomes a ``RequestError`` naming it instead of a bare 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from feast import FeatureStore
from feast.data_source import PushMode
from feast.errors import FeastObjectNotFoundException, FeatureViewNotFoundException

from featurestore.errors import InvalidRequestError, UnknownObjectError

__all__ = ["PUSH_MODES", "push", "write_to_online_store"]

PUSH_MODES = {
    "online": PushMode.ONLINE,
    "offline": PushMode.OFFLINE,
    "online_and_offline": PushMode.ONLINE_AND_OFFLINE,
}


def _frame(columns: Mapping[str, Sequence[Any]], timestamp_columns: Sequence[str]) -> pd.DataFrame:
    if not isinstance(columns, Mapping) or not columns:
        raise InvalidRequestError("'df' must map column names to lists of values")
    lengths = {len(values) for values in columns.values() if isinstance(values, list)}
    if len(lengths) != 1 or not all(isinstance(v, list) for v in columns.values()):
        raise InvalidRequestError("every column of 'df' must be a list of the same length")
    frame = pd.DataFrame(dict(columns))
    for name in timestamp_columns:
        if name and name in frame.columns:
            try:
                frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
            except (ValueError, TypeError) as exc:
                raise InvalidRequestError(f"column {name!r}: not timestamps ({exc})") from None
    return frame


def _check_columns(frame: pd.DataFrame, needed: Sequence[str]) -> None:
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise InvalidRequestError(f"'df' lacks column(s): {', '.join(missing)}")


def write_to_online_store(
    store: FeatureStore, feature_view_name: str, columns: Mapping[str, Sequence[Any]]
) -> int:
    """Write rows of one feature view with Feast; the number of rows written."""
    try:
        view = store.get_feature_view(feature_view_name, allow_registry_cache=True)
    except FeatureViewNotFoundException:
        raise UnknownObjectError("feature view", feature_view_name) from None
    source = view.batch_source
    ts_columns = [source.timestamp_field, source.created_timestamp_column] if source else []
    frame = _frame(columns, ts_columns)
    _check_columns(frame, [c.name for c in view.entity_columns] + ts_columns[:1])
    try:
        store.write_to_online_store(feature_view_name, frame, allow_registry_cache=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRequestError(f"cannot write to {feature_view_name!r}: {exc}") from None
    return len(frame)


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
    batch = getattr(source, "batch_source", None)
    ts_columns = [batch.timestamp_field, batch.created_timestamp_column] if batch else []
    frame = _frame(columns, ts_columns)
    try:
        store.push(push_source_name, frame, allow_registry_cache=True, to=PUSH_MODES[to])
    except FeastObjectNotFoundException:
        raise UnknownObjectError("push source", push_source_name) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRequestError(f"cannot push to {push_source_name!r}: {exc}") from None
    return len(frame)
