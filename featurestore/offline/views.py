"""What the point-in-time join needs to know about one feature view.

``ViewSpec`` is plain data (no Feast objects), so the join can be tested and
benchmarked on generated tables without a registry; ``view_spec`` builds one from
a Feast ``FeatureView`` and the requested feature references.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from feast import FeatureView
from feast.infra.offline_stores.file_source import FileSource

from featurestore.errors import InvalidRequestError, UnknownFeatureError


@dataclass(frozen=True)
class ViewSpec:
    """One feature view's side of the join.

    ``join_keys`` maps the feature table's join key column (after ``field_mapping``)
    to the entity frame column it matches. ``features`` maps each feature column of
    the table to its name in the output (``view__feature`` with full feature names).
    ``ttl`` of ``None`` or zero means no age limit (Feast's rule).
    """

    name: str
    path: str
    join_keys: Mapping[str, str]
    features: Mapping[str, str]
    timestamp_field: str
    created_timestamp_column: str | None = None
    ttl: timedelta | None = None
    field_mapping: Mapping[str, str] = field(default_factory=dict)

    def source_column(self, column: str) -> str:
        """The table's own name of a (possibly renamed) join key or feature column."""
        for source, target in self.field_mapping.items():
            if target == column:
                return source
        return column

    @property
    def has_ttl(self) -> bool:
        return self.ttl is not None and self.ttl > timedelta(0)


def source_path(source: FileSource, repo_path: Path | str | None) -> str:
    """A file source's path, relative paths resolved against the repo.

    Feast's DuckDB store resolves them against the current directory instead, so a
    repo with relative paths only works when run from inside it.
    """
    path = source.path
    if "://" in path or repo_path is None or Path(path).is_absolute():
        return path
    return str(Path(repo_path) / path)


def view_spec(
    view: FeatureView,
    feature_refs: Sequence[str],
    full_feature_names: bool,
    repo_path: Path | str | None,
) -> ViewSpec:
    """The join's view of ``view`` for the requested ``view:feature`` references."""
    source = view.batch_source
    if not isinstance(source, FileSource):
        kind = type(source).__name__
        raise InvalidRequestError(
            f"feature view {view.name!r} reads a {kind}; this offline store reads Parquet files"
        )
    prefix = f"{view.projection.name_to_use()}:"
    wanted = [ref.split(":", 1)[1] for ref in feature_refs if ref.startswith(prefix)]
    known = {f.name for f in view.features}
    unknown = [f"{view.name}:{name}" for name in wanted if name not in known]
    if unknown:
        raise UnknownFeatureError(unknown, known_views=[view.name])
    label = view.projection.name_alias or view.name
    features = {name: f"{label}__{name}" if full_feature_names else name for name in wanted}
    join_keys = view.projection.join_key_map or {e.name: e.name for e in view.entity_columns}
    return ViewSpec(
        name=view.name,
        path=source_path(source, repo_path),
        join_keys=dict(join_keys),
        features=features,
        timestamp_field=source.timestamp_field,
        created_timestamp_column=source.created_timestamp_column or None,
        ttl=view.ttl,
        field_mapping=dict(source.field_mapping or {}),
    )
