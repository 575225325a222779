"""The manifest written beside a training set, so it can be reproduced later.

It records the feature service, its feature references, the label query, the time
window and row count of the result, and a hash of the definitions that produced it:
a canonical JSON of the service, its feature views (schema, TTL, entities, source)
and their entities. Registry timestamps are left out, so re-applying unchanged
definitions keeps the hash; any change to what the join reads changes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feast import FeatureService, FeatureStore

MANIFEST_SUFFIX = ".manifest.json"


@dataclass(frozen=True)
class Manifest:
    feature_service: str
    project: str
    features: list[str]
    label_sql: str
    window_start: str | None
    window_end: str | None
    row_count: int
    definitions_sha256: str
    output: str
    created_at: str

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, path: Path) -> Manifest:
        return cls(**json.loads(path.read_text()))


def manifest_path(output: Path) -> Path:
    """``train.parquet`` -> ``train.manifest.json``."""
    return output.with_name(output.stem + MANIFEST_SUFFIX)


def definitions(store: FeatureStore, service: FeatureService) -> dict[str, Any]:
    """The service's definitions as plain, canonical data."""
    views = []
    entity_names: set[str] = set()
    for projection in service.feature_view_projections:
        view = store.get_feature_view(projection.name)
        entity_names.update(view.entities)
        source = view.batch_source
        views.append(
            {
                "name": view.name,
                "alias": projection.name_alias,
                "selected": sorted(f.name for f in projection.features),
                "schema": sorted((f.name, str(f.dtype)) for f in view.features),
                "entities": sorted(view.entities),
                "ttl_seconds": view.ttl.total_seconds() if view.ttl else None,
                "source": {
                    "path": getattr(source, "path", None),
                    "timestamp_field": source.timestamp_field if source else None,
                    "created_timestamp_column": source.created_timestamp_column if source else None,
                    "field_mapping": dict(sorted((source.field_mapping or {}).items()))
                    if source
                    else {},
                },
            }
        )
    entities = []
    for name in sorted(entity_names):
        entity = store.get_entity(name)
        entities.append({"name": name, "join_key": entity.join_key, "type": str(entity.value_type)})
    return {"feature_service": service.name, "views": views, "entities": entities}


def definitions_hash(store: FeatureStore, service: FeatureService) -> str:
    canonical = json.dumps(definitions(store, service), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def build_manifest(
    store: FeatureStore,
    service: FeatureService,
    *,
    features: list[str],
    label_sql: str,
    window: tuple[datetime | None, datetime | None],
    row_count: int,
    output: Path,
) -> Manifest:
    def iso(ts: datetime | None) -> str | None:
        return ts.astimezone(UTC).isoformat() if ts else None

    return Manifest(
        feature_service=service.name,
        project=store.project,
        features=features,
        label_sql=label_sql,
        window_start=iso(window[0]),
        window_end=iso(window[1]),
        row_count=row_count,
        definitions_sha256=definitions_hash(store, service),
        output=output.name,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
