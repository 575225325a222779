"""What a write to a push source or a feature view needs, read once from the registry.

A ``PushPlan`` holds the ``WriteSchema`` the rows are checked against, the feature
views the rows go to online (``ViewTarget``: their Redis names and columns) and, for a
push source declared by a ``.push`` file (``featurestore.push.spec``), that declaration:
its rules are the schema's, and its table is where ``to: offline`` rows are folded.

The rules of a column come from the header that declares it: the ``.push`` file of a
push source, the job header of a job's view (``/write-to-online-store``); a view with
neither is checked by type only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from feast import FeatureStore, FeatureView
from feast.data_source import PushSource
from feast.errors import FeastObjectNotFoundException, FeatureViewNotFoundException

from featurestore.errors import InvalidRequestError, UnknownJobError, UnknownObjectError
from featurestore.job_spec import Column, Job, find_job
from featurestore.materialize.values import SUPPORTED_VALUE_TYPES
from featurestore.project import Project
from featurestore.push.spec import PushSpec, find_push
from featurestore.push.validate import ColumnSpec, WriteSchema
from featurestore.redis_layout import SUPPORTED_KEY_TYPES, feature_field, ts_field
from featurestore.value_types import ValueType


@dataclass(frozen=True)
class ViewTarget:
    """One feature view's online write: columns by their name in the rows."""

    view: str
    join_keys: tuple[tuple[str, ValueType], ...]
    timestamp: str
    features: tuple[tuple[str, ValueType, bytes], ...]  # (column, type, hash field)
    ts_field: bytes
    online: bool
    supported: bool  # every type is one our encoder writes; else Feast writes it


@dataclass(frozen=True)
class PushPlan:
    name: str  # the push source's or the feature view's name
    kind: str  # "push source" or "feature view"
    schema: WriteSchema
    views: tuple[ViewTarget, ...]
    spec: PushSpec | None  # a declared push source: rules, table, log
    feast_offline: bool = False  # a push source of Feast's own: Feast writes offline
    quarantine_table: str | None = None  # where bad rows go in quarantine mode

    @property
    def table(self) -> str | None:
        return self.spec.name if self.spec is not None else None


def _view_target(view: FeatureView) -> ViewTarget:
    source = view.batch_source
    renamed = {new: old for old, new in (source.field_mapping or {}).items()} if source else {}
    keys = tuple((c.name, ValueType.of(c.dtype.to_value_type())) for c in view.entity_columns)
    features = tuple(
        (
            renamed.get(f.name, f.name),
            ValueType.of(f.dtype.to_value_type()),
            feature_field(view.name, f.name),
        )
        for f in view.features
    )
    supported = all(t in SUPPORTED_KEY_TYPES for _, t in keys) and all(
        t in SUPPORTED_VALUE_TYPES for _, t, _ in features
    )
    return ViewTarget(
        view=view.name,
        join_keys=keys,
        timestamp=source.timestamp_field if source else "",
        features=features,
        ts_field=ts_field(view.name),
        online=bool(view.online),
        supported=supported and bool(keys),
    )


def _declared(view: FeatureView, project: Project | None) -> dict[str, Column]:
    """The header columns behind a view: its push declaration's or its job's."""
    if project is None:
        return {}
    try:
        if view.tags.get("push"):
            return find_push(view.tags["push"], project.jobs_dir).job.column_map
        if view.tags.get("job"):
            job: Job = find_job(view.tags["job"], project.jobs_dir)
            return job.column_map
    except (UnknownObjectError, UnknownJobError):
        return {}
    return {}


def _schema(
    target: str,
    views: Sequence[FeatureView],
    declared: dict[str, Column],
    spec: PushSpec | None,
    timestamp: str,
) -> WriteSchema:
    columns: dict[str, ColumnSpec] = {}
    if spec is not None:  # the declaration is the schema: every column it declares
        for column in spec.job.columns:
            role = _role(column.name, spec.job.entities, spec.job.timestamp)
            columns[column.name] = ColumnSpec(column.name, _value_type(column), role, column)
    for view in views:
        target_view = _view_target(view)
        for name, value_type in target_view.join_keys:
            columns.setdefault(name, ColumnSpec(name, value_type, "key", declared.get(name)))
        if target_view.timestamp:
            columns.setdefault(
                target_view.timestamp,
                ColumnSpec(target_view.timestamp, ValueType.UNIX_TIMESTAMP, "timestamp"),
            )
        for name, value_type, _ in target_view.features:
            columns.setdefault(name, ColumnSpec(name, value_type, "feature", declared.get(name)))
    if timestamp and timestamp not in columns:
        columns[timestamp] = ColumnSpec(timestamp, ValueType.UNIX_TIMESTAMP, "timestamp")
    if spec is not None:  # the declaration's order (the table's)
        ordered = tuple(columns.values())
        return WriteSchema(target, ordered, spec.ints_for_floats, spec.future_tolerance)
    roles = ("key", "timestamp", "feature")
    return WriteSchema(target, tuple(sorted(columns.values(), key=lambda c: roles.index(c.role))))


def _role(name: str, entities: Sequence[str], timestamp: str) -> str:
    if name in entities:
        return "key"
    return "timestamp" if name == timestamp else "feature"


def _value_type(column: Column) -> ValueType:
    import feast.types

    return ValueType.of(getattr(feast.types, column.feast_type).to_value_type())


def push_plan(store: FeatureStore, project: Project | None, name: str) -> PushPlan:
    """The plan of a push through the push source ``name`` (blocking: reads the registry)."""
    try:
        source = store.get_data_source(name)
    except FeastObjectNotFoundException:
        raise UnknownObjectError("push source", name) from None
    if not isinstance(source, PushSource):
        raise UnknownObjectError("push source", name)
    views = [*store.list_feature_views(allow_cache=True)]
    views += store.list_stream_feature_views(allow_cache=True)
    fed = [
        v for v in views if isinstance(v.stream_source, PushSource) and v.stream_source.name == name
    ]
    spec = None
    if project is not None:
        tagged = {v.tags["push"] for v in fed if v.tags.get("push")}
        candidates = tagged or {name.removesuffix("_push")}
        for table in sorted(candidates):
            try:
                found = find_push(table, project.jobs_dir)
            except UnknownObjectError:
                continue
            if found.source_name == name:
                spec = found
                break
    declared: dict[str, Column] = spec.job.column_map if spec is not None else {}
    for view in fed:
        declared = {**_declared(view, project), **declared}
    timestamp = source.batch_source.timestamp_field if source.batch_source else ""
    schema = _schema(f"push source {name!r}", fed, declared, spec, timestamp)
    targets = tuple(_view_target(v) for v in fed)
    return PushPlan(
        name,
        "push source",
        schema,
        targets,
        spec,
        feast_offline=spec is None,
        quarantine_table=spec.name if spec is not None else None,
    )


def view_plan(store: FeatureStore, project: Project | None, name: str) -> PushPlan:
    """The plan of ``/write-to-online-store`` for the feature view ``name``."""
    try:
        view = store.get_feature_view(name, allow_registry_cache=True)
    except FeatureViewNotFoundException:
        raise UnknownObjectError("feature view", name) from None
    target = _view_target(view)
    if not target.join_keys:
        raise InvalidRequestError(f"feature view {name!r} has no entities to write under")
    schema = _schema(f"feature view {name!r}", [view], _declared(view, project), None, "")
    job = view.tags.get("job") or None
    return PushPlan(name, "feature view", schema, (target,), None, quarantine_table=job)
