"""The feature catalog: lineage from SQL job to model, freshness, and search.

catalog = load_catalog(open_store(settings))
catalog.feature("weather_hourly:temp").used_by   # the models using it
catalog.search("wind", entity="origin")
catalog.lineage("carrier_daily:cancel_rate_7d")
"""

from pathlib import Path

from feast import FeatureStore

from featurestore.catalog.build import Catalog, build_catalog
from featurestore.catalog.codegen import feature_service_module
from featurestore.catalog.jobs import load_jobs
from featurestore.catalog.model import (
    EntityInfo,
    FeatureInfo,
    Freshness,
    JobInfo,
    ServiceInfo,
    ViewInfo,
)
from featurestore.catalog.search import SearchHit
from featurestore.project import Project


def load_catalog(store: FeatureStore, project: Project | None = None) -> Catalog:
    """The catalog of a store's registry, with the project's SQL jobs (the project of the
    store's repo by default); paths are shown relative to the project folder."""
    project = project or Project.for_repo(Path(store.repo_path))
    return build_catalog(store, load_jobs(project), project)


__all__ = [
    "Catalog",
    "EntityInfo",
    "FeatureInfo",
    "Freshness",
    "JobInfo",
    "SearchHit",
    "ServiceInfo",
    "ViewInfo",
    "build_catalog",
    "feature_service_module",
    "load_catalog",
]
