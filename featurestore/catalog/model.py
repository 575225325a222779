"""What the catalog knows: jobs, tables, sources, views, features and the models using them.

Lineage runs job -> feature table -> source -> feature view -> features -> feature
services (one per model). Everything here is plain data, ready for JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Freshness:
    """How current a feature table is: its newest event, and how far it is materialized."""

    latest_event: datetime | None
    rows: int | None
    materialized_until: datetime | None


@dataclass(frozen=True)
class JobInfo:
    name: str
    path: str
    description: str
    grain: str = "day"
    upstream: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeatureInfo:
    view: str
    name: str
    dtype: str
    description: str
    tags: dict[str, str]
    owner: str
    entities: list[str]
    join_keys: list[str]
    job: str | None
    table: str
    source: str
    freshness: Freshness
    used_by: list[str]

    @property
    def ref(self) -> str:
        return f"{self.view}:{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, **asdict(self)}


@dataclass(frozen=True)
class ViewInfo:
    name: str
    description: str
    owner: str
    tags: dict[str, str]
    entities: list[str]
    join_keys: list[str]
    ttl_seconds: float | None
    source: str
    table: str
    timestamp_field: str
    job: JobInfo | None
    freshness: Freshness
    features: list[str]
    used_by: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    description: str
    owner: str
    tags: dict[str, str]
    features: list[str]
    views: list[str]
    join_keys: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EntityInfo:
    name: str
    join_key: str
    value_type: str
    description: str
    views: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
