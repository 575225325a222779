"""The feature catalog: lineage from SQL job to model, freshness, and search.

catalog = load_catalog(open_store(settings))
catalog.feature("weather_hourly:temp").used_by   # the models using it
catalog.search("wind", entity="origin")
catalog.lineage("carrier_daily:cancel_rate_7d")

A long-running process keeps a ``CatalogCache`` instead: ``cache.get(registry_version)``
rebuilds only when the registry, a job file or a table's version changed, and scans each
table once per version (``stats``).

build.py   the catalog from the registry, the jobs and each table's statistics
cache.py   CatalogCache: the last catalog, kept while nothing it shows changed
stats.py   a table's version and statistics (newest event, rows), scanned once a version
jobs.py    the SQL jobs as the catalog shows them
model.py   the plain data the catalog is made of
search.py  search by name, tag, entity, description
codegen.py a new feature service module from catalog references
"""

from pathlib import Path

from feast import FeatureStore

from featurestore.catalog.build import Catalog, build_catalog
from featurestore.catalog.cache import CatalogCache
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
    "CatalogCache",
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
