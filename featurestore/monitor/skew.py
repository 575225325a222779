"""Training/serving skew as a number: the vectors the API served, against what a training
set of the same requests would have had.

``skew_report(project, store, feature_service, start, end)``:

1. reads the service's logged requests served in ``[start, end)``
   (``featurestore.monitor.serving_log``; every logged request when no window is given);
2. builds an entity frame from them: each served entity's join keys, and
   ``event_timestamp`` = the moment it was served;
3. replays it through the service's training join (``featurestore.training.training_job``:
   the DuckDB point-in-time join a training set of the service gets, TTLs included);
4. per feature reports ``served`` (logged entity rows), ``differing`` (of those, the
   rows whose served value is not the training value) and ``distance``: the drift score
   between the training values (reference) and the served ones (current),
   ``featurestore.monitor.metrics.compare_values``, by the feature's drift rule.

When two values are the same:

- the training value is first turned into what the API would answer for it: the bytes
  the materializer writes for the feature's type (``featurestore.materialize.values``,
  equal to Feast's ``Value`` conversion: a Float32 feature rounded to float32, a NaN made
  null, a float fed to an integer feature truncated), decoded by the API's codec. A
  Float32 value is thus equal to the served one exactly when the online store holds the
  training value; nothing else is rounded. Types the materializer does not write (lists)
  go through Feast's own ``python_values_to_proto_values``;
- two nulls are equal. ``NOT_FOUND`` (no online row for the entity) and ``NULL_VALUE``
  serve a null: equal to a training null (the join found no row either, or a row past the
  view's TTL), different from a training value (the online store lacks what training has);
- ``OUTSIDE_MAX_AGE`` serves the stale value itself, and that is what is compared: a
  training set never has it (the join nulls rows past the TTL), so stale serving counts
  as skew. ``FeatureSkew.statuses`` counts each status, to tell the cases apart.

The window's logged rows and their training join are held in memory (Arrow), a few
hundred bytes per served entity. The monitor only reads: the log, the feature tables;
never Redis.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from featurestore.errors import FeatureStoreError, NoDataError
from featurestore.monitor.config import MonitorConfig
from featurestore.monitor.metrics import compare_values
from featurestore.monitor.model import FeatureSkew, Kind, Score, SkewReport, Window
from featurestore.monitor.serving_log import LoggedTable, answered, read_log

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore

    from featurestore.project import Project

__all__ = ["skew_report"]

_NUMERIC = {"INT32", "INT64", "FLOAT", "DOUBLE", "UNIX_TIMESTAMP"}
_CATEGORICAL = {"STRING", "BOOL"}
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _no_vectors(feature_service: str, start: datetime | None, end: datetime | None) -> NoDataError:
    return NoDataError(
        f"no served vectors logged for feature service {feature_service!r} "
        f"{_describe(start, end)}; the API logs a sample of its answers when "
        "monitor.serving_log.sample_rate in featurestore.yaml (or "
        "FEATURESTORE_SERVING_LOG_RATE) is above 0"
    )


@dataclass(frozen=True)
class _Feature:
    view: str
    feature: str
    column: str  # its column in the training join (full feature names)
    value_type: str  # Feast's ValueType name

    @property
    def ref(self) -> str:
        return f"{self.view}:{self.feature}"


def skew_report(
    project: Project,
    store: FeatureStore,
    feature_service: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> SkewReport:
    """Per feature of ``feature_service``: logged served values against a point-in-time
    join of the same requests (see the module's docstring for what counts as equal)."""
    from featurestore.training import get_feature_service

    service = get_feature_service(store, feature_service)
    start, end = _utc(start), _utc(end)
    tables = read_log(project.layout.serving_log, feature_service, start, end)
    if not tables:
        raise _no_vectors(feature_service, start, end)
    features = _features(service)
    served_at = pa.chunked_array([t.table["served_at"] for t in tables]).combine_chunks()
    training = _replay(store, feature_service, tables, served_at, _join_keys(store, service))
    first, last = min(served_at.to_pylist()), max(served_at.to_pylist())
    window = Window(
        start or first,
        end or last + timedelta(microseconds=1),
        f"served {_describe(start, end)}",
    )
    requests = sum(len(set(t.table["request"].to_pylist())) for t in tables)
    results = [_compare(f, tables, training[f.column], project.monitor) for f in features]
    return SkewReport(feature_service, window, requests, results)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _describe(start: datetime | None, end: datetime | None) -> str:
    if start is None and end is None:
        return "at any time"
    if end is None:
        return f"since {start:%Y-%m-%dT%H:%M:%S%z}"
    if start is None:
        return f"before {end:%Y-%m-%dT%H:%M:%S%z}"
    return f"from {start:%Y-%m-%dT%H:%M:%S%z} to {end:%Y-%m-%dT%H:%M:%S%z}"


def _features(service: FeatureService) -> list[_Feature]:
    found = []
    for projection in service.feature_view_projections:
        label = projection.name_alias or projection.name
        for feature in projection.features:
            found.append(
                _Feature(
                    projection.name,
                    feature.name,
                    f"{label}__{feature.name}",
                    feature.dtype.to_value_type().name,
                )
            )
    return found


def _join_keys(store: FeatureStore, service: FeatureService) -> list[str]:
    keys: dict[str, None] = {}
    for projection in service.feature_view_projections:
        view = store.get_feature_view(projection.name, allow_registry_cache=True)
        mapped = projection.join_key_map or {}
        for key in view.join_keys:
            keys[mapped.get(key, key)] = None
    return list(keys)


def _replay(
    store: FeatureStore,
    feature_service: str,
    tables: Sequence[LoggedTable],
    served_at: pa.Array,
    join_keys: list[str],
) -> pa.Table:
    """The service's training join over the logged entities, one row per logged row."""
    import pandas as pd

    from featurestore.training import training_job

    frame = pd.DataFrame()
    for key in join_keys:
        parts = []
        for logged in tables:
            entities = logged.table["entities"].combine_chunks()
            if entities.type.get_field_index(key) < 0:
                raise FeatureStoreError(
                    f"{logged.path} has no join key {key!r}: the service's entities changed"
                )
            parts.append(entities.field(key))
        frame[key] = pa.chunked_array(parts).to_pandas()
    frame["event_timestamp"] = served_at.to_pandas().astype("datetime64[us, UTC]")
    job = training_job(store, feature_service, frame, full_feature_names=True)
    result = job.to_arrow()
    if result.num_rows != len(frame):
        raise FeatureStoreError(
            f"the training join returned {result.num_rows} rows for {len(frame)} entity rows"
        )
    return result


def _compare(
    feature: _Feature, tables: Sequence[LoggedTable], training: Any, config: MonitorConfig
) -> FeatureSkew:
    expected = _as_answered(training, feature.value_type)
    served: list[Any] = []
    reference: list[Any] = []  # the training values of the rows the feature was served in
    statuses: Counter[str] = Counter()
    offset = 0
    differing = 0
    for logged in tables:
        rows = logged.table.num_rows
        meta = next((f for f in logged.features if f.ref == feature.ref), None)
        if meta is not None:
            values = answered(
                logged.table["values"].combine_chunks().field(feature.ref),
                meta.value_type,
                meta.encoding,
            )
            statuses.update(
                logged.table["statuses"].combine_chunks().field(feature.ref).to_pylist()
            )
            trained = expected[offset : offset + rows]
            differing += sum(s != t for s, t in zip(values, trained, strict=True))
            served += values
            reference += trained
        offset += rows
    distance = _distance(feature, reference, served, config)
    return FeatureSkew(
        feature.view,
        feature.feature,
        served=len(served),
        differing=differing,
        distance=distance if served else None,
        statuses=dict(statuses),
    )


def _as_answered(column: pa.ChunkedArray | pa.Array, value_type: str) -> list[Any]:
    """Training values as the API would answer them once materialized."""
    from feast.type_map import python_values_to_proto_values
    from feast.value_type import ValueType as FeastValueType

    from featurestore.materialize.values import SUPPORTED_VALUE_TYPES, encode_values
    from featurestore.online.codec import decode_value
    from featurestore.value_types import ValueType

    kind = ValueType[value_type]
    if kind in SUPPORTED_VALUE_TYPES:
        encoded = encode_values(column, kind).to_pylist()
    else:
        protos = python_values_to_proto_values(column.to_pylist(), FeastValueType[value_type])
        encoded = [p.SerializeToString() for p in protos]
    out = []
    for data in encoded:
        value, is_null = decode_value(data or b"")
        out.append(None if is_null else value)
    return out


def _distance(
    feature: _Feature, reference: list[Any], current: list[Any], config: MonitorConfig
) -> Score:
    """The drift score of the served values against the training ones, by the
    feature's drift rule (``monitor.drift`` in the project file; ``auto`` by default)."""
    kind: Kind
    if feature.value_type in _NUMERIC:
        kind = "numeric"
        reference = [_number(v) for v in reference]
        current = [_number(v) for v in current]
    elif feature.value_type in _CATEGORICAL:
        kind = "categorical"
    else:
        return Score("", None, reason=f"no distance for {feature.value_type} features")
    rows = sum(v is not None for v in reference)
    method, _ = config.drift_rule(feature.view, feature.feature, kind).resolve(kind, rows)
    return compare_values(kind, reference, current, method)


def _number(value: Any) -> float | None:
    """An answered number (``"NaN"``, ``"Infinity"`` as the API spells them) as a float."""
    if value is None or isinstance(value, int | float):
        return value
    return _NON_FINITE[value]
