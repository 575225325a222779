"""Building the catalog from the Feast registry, the feature tables and the SQL jobs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from feast import FeatureStore, FeatureView

from featurestore.catalog.model import (
    EntityInfo,
    FeatureInfo,
    Freshness,
    JobInfo,
    ServiceInfo,
    ViewInfo,
)
from featurestore.catalog.search import SearchHit, search
from featurestore.catalog.stats import UNKNOWN, TableStats, read_stats
from featurestore.errors import (
    UnknownFeatureError,
    UnknownFeatureServiceError,
    UnknownObjectError,
)
from featurestore.project import Project

TableStatsFn = Callable[[str, str], TableStats]  # (table path, timestamp field) -> stats


@dataclass(frozen=True)
class Catalog:
    views: dict[str, ViewInfo]
    features: dict[str, FeatureInfo]
    services: dict[str, ServiceInfo]
    entities: dict[str, EntityInfo]

    def feature(self, ref: str) -> FeatureInfo:
        if ref not in self.features:
            raise UnknownFeatureError([ref], known_views=sorted(self.views))
        return self.features[ref]

    def service(self, name: str) -> ServiceInfo:
        if name not in self.services:
            raise UnknownFeatureServiceError(name, known=list(self.services))
        return self.services[name]

    def view(self, name: str) -> ViewInfo:
        if name not in self.views:
            raise UnknownObjectError("feature view", name)
        return self.views[name]

    def search(
        self, text: str = "", *, tag: str | None = None, entity: str | None = None
    ) -> list[SearchHit]:
        return search(self.features.values(), text, tag=tag, entity=entity)

    def lineage(self, ref: str) -> dict[str, object]:
        """The chain job -> table -> source -> view -> feature -> feature services."""
        feature = self.feature(ref)
        view = self.views[feature.view]
        return {
            "job": view.job.name if view.job else None,
            "job_file": view.job.path if view.job else None,
            "upstream_jobs": list(view.job.upstream) if view.job else [],
            "table": view.table,
            "source": view.source,
            "feature_view": view.name,
            "feature": feature.ref,
            "feature_services": feature.used_by,
        }


def _freshness(
    view: FeatureView, table: str, timestamp_field: str, table_stats: TableStatsFn
) -> Freshness:
    intervals = [end for _, end in view.materialization_intervals]
    materialized = max(intervals) if intervals else None
    stats = table_stats(table, timestamp_field) if table else UNKNOWN
    return Freshness(
        latest_event=stats.latest_event, rows=stats.rows, materialized_until=materialized
    )


def build_catalog(
    store: FeatureStore,
    jobs: Mapping[str, JobInfo] | None = None,
    project: Project | None = None,
    table_stats: TableStatsFn = read_stats,
) -> Catalog:
    """Read the registry (cached) and each view's table; ``jobs`` maps job name to job.
    With ``project``, table paths are shown relative to its folder. ``table_stats`` gives
    a table's statistics (by default it scans the table: ``catalog.cache`` scans once per
    table version)."""
    jobs = jobs or {}
    shown = project.relative if project is not None else str
    registry, name = store.registry, store.project
    feature_views = registry.list_feature_views(name, allow_cache=True)
    feature_services = registry.list_feature_services(name, allow_cache=True)
    entities = registry.list_entities(name, allow_cache=True)
    join_key_of = {e.name: e.join_key for e in entities}

    used_by: dict[str, list[str]] = {}
    services: dict[str, ServiceInfo] = {}
    for service in sorted(feature_services, key=lambda s: s.name):
        refs = [f"{p.name}:{f.name}" for p in service.feature_view_projections for f in p.features]
        for ref in refs:
            used_by.setdefault(ref, []).append(service.name)
        views_used = [p.name for p in service.feature_view_projections]
        keys = sorted(
            {
                join_key_of.get(e, e)
                for v in feature_views
                if v.name in views_used
                for e in v.entities
            }
        )
        services[service.name] = ServiceInfo(
            name=service.name,
            description=service.description,
            owner=service.owner,
            tags=dict(service.tags),
            features=refs,
            views=views_used,
            join_keys=keys,
        )

    views: dict[str, ViewInfo] = {}
    features: dict[str, FeatureInfo] = {}
    for view in sorted(feature_views, key=lambda v: v.name):
        source = view.batch_source
        table = str(getattr(source, "path", "") or "")
        timestamp_field = source.timestamp_field if source else ""
        job_name = view.tags.get("job")
        job = jobs.get(job_name) if job_name else None
        freshness = _freshness(view, table, timestamp_field, table_stats)
        keys = [join_key_of.get(e, e) for e in view.entities]
        view_users = sorted(
            {s for f in view.features for s in used_by.get(f"{view.name}:{f.name}", [])}
        )
        views[view.name] = ViewInfo(
            name=view.name,
            description=view.description,
            owner=view.owner,
            tags=dict(view.tags),
            entities=list(view.entities),
            join_keys=keys,
            ttl_seconds=view.ttl.total_seconds() if view.ttl else None,
            source=source.name if source else "",
            table=shown(table) if table else "",
            timestamp_field=timestamp_field,
            job=job,
            freshness=freshness,
            features=[f.name for f in view.features],
            used_by=view_users,
        )
        for field_ in view.features:
            ref = f"{view.name}:{field_.name}"
            features[ref] = FeatureInfo(
                view=view.name,
                name=field_.name,
                dtype=str(field_.dtype),
                description=field_.description,
                tags={**view.tags, **field_.tags},
                owner=view.owner,
                entities=list(view.entities),
                join_keys=keys,
                job=job.name if job else job_name,
                table=shown(table) if table else "",
                source=source.name if source else "",
                freshness=freshness,
                used_by=used_by.get(ref, []),
            )

    entity_infos = {
        e.name: EntityInfo(
            name=e.name,
            join_key=e.join_key,
            value_type=e.value_type.name,
            description=e.description,
            views=sorted(v.name for v in feature_views if e.name in v.entities),
        )
        for e in entities
    }
    return Catalog(views=views, features=features, services=services, entities=entity_infos)
