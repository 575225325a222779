"""The feature catalog: lineage from SQL job to model, freshness, and search.

catalog = load_catalog(open_store(settings))
catalog.feature("weather_hourly:temp").used_by   # the models using it
catalog.search("wind", entity="origin")
catalog.lineage("carrier_daily:cancel_rate_7d")
"""

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


def load_catalog(store: FeatureStore) -> Catalog:
    """The catalog of a store's registry, with the project's SQL jobs."""
    return build_catalog(store, load_jobs())


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
