"""What to materialize for one feature view: its source, columns, types and Redis names.

Built from Feast's own definitions, with Feast's rules: the source columns are the
feature, join key and timestamp names run backwards through the source's
``field_mapping`` (``feast.utils._get_column_names``), the written names are the
feature view's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from featurestore.errors import MaterializationError, UnsupportedViewError
from featurestore.materialize.values import SUPPORTED_VALUE_TYPES
from featurestore.redis_layout import SUPPORTED_KEY_TYPES

if TYPE_CHECKING:
    from feast import Entity, FeatureView
from featurestore.value_types import ValueType


@dataclass(frozen=True)
class Column:
    source: str  # the column in the Parquet source
    name: str  # the name Feast writes it under
    value_type: ValueType


@dataclass(frozen=True)
class ViewPlan:
    project: str
    view: str
    source_path: str
    join_keys: tuple[Column, ...]
    features: tuple[Column, ...]
    timestamp_column: str
    created_column: str | None
    # Fed by a push source: its table exists once pushed rows are compacted
    # (featurestore.push.compact); until then there is nothing to materialize.
    pushed: bool = False

    @classmethod
    def from_feature_view(
        cls,
        project: str,
        view: FeatureView,
        entities: Sequence[Entity],
        repo_path: Path | None = None,
    ) -> ViewPlan:
        # Feast is imported here, not above: a plan travels to Spark's executors, which
        # should not pay ``import feast`` (see featurestore.value_types).
        from feast import FileSource, PushSource
        from feast.utils import _get_column_names

        source = view.batch_source
        if not isinstance(source, FileSource):
            raise UnsupportedViewError(view.name, "its batch source is not a file source")
        if getattr(view, "feature_transformation", None) or getattr(view, "aggregations", None):
            raise UnsupportedViewError(view.name, "it has a transformation or aggregations")
        key_columns, feature_columns, ts_column, created_column = _get_column_names(
            view, list(entities)
        )
        reverse = {v: k for k, v in (source.field_mapping or {}).items()}
        key_types = {c.name: ValueType.of(c.dtype.to_value_type()) for c in view.entity_columns}
        join_keys = []
        for source_name in key_columns:
            name = source.field_mapping.get(source_name, source_name)
            value_type = key_types.get(name)
            if value_type not in SUPPORTED_KEY_TYPES:
                raise UnsupportedViewError(view.name, f"join key {name!r} has type {value_type}")
            join_keys.append(Column(source_name, name, value_type))
        if not join_keys:
            raise UnsupportedViewError(view.name, "it has no entity join keys")
        features = []
        for feature in view.features:
            value_type = ValueType.of(feature.dtype.to_value_type())
            if value_type not in SUPPORTED_VALUE_TYPES:
                raise UnsupportedViewError(
                    view.name, f"feature {feature.name!r} has type {value_type.name}"
                )
            features.append(
                Column(reverse.get(feature.name, feature.name), feature.name, value_type)
            )
        del feature_columns  # same names as ``features``, already reverse-mapped above
        return cls(
            project=project,
            view=view.name,
            source_path=_resolve(source.path, repo_path),
            join_keys=tuple(join_keys),
            features=tuple(features),
            timestamp_column=ts_column,
            created_column=created_column or None,
            pushed=isinstance(view.stream_source, PushSource),
        )


def _resolve(path: str, repo_path: Path | None) -> str:
    # Relative paths are the repo's, as Feast's file offline store reads them (its DuckDB
    # store reads them against the working directory instead; see FEAST-NOTES.md).
    if "://" in path:
        raise MaterializationError(f"source {path!r} is not a local path")
    if repo_path is not None and not Path(path).is_absolute():
        return str(repo_path / path)
    return path
