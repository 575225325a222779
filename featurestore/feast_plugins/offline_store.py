"""Feast's offline store, with the point-in-time join replaced by ours.

Named in ``feature_store.yaml``::

    offline_store:
      type: featurestore.feast_plugins.offline_store.DuckDBAsofOfflineStore

``get_historical_features`` runs ``featurestore.offline.retrieve`` (one DuckDB ASOF
join per feature view, entity frame pushed in as Arrow), or on the spark engine
``featurestore.spark.training.retrieve`` (the same semantics as a Spark plan). The
engine is ``engine: duckdb | spark`` (and ``spark_master``) under ``offline_store``
when the YAML names one, else the project's (``featurestore.engine``: its project file,
``FEATURESTORE_ENGINE``, or the engine a training helper was given, ``use_engine``).
Everything else (the pulls the materialization engines use, ``offline_write_batch``,
logging, monitoring) is Feast's DuckDB store, called unchanged (imported on first use:
it brings ibis, ~0.3 s of every command's start-up otherwise). Feast loads the config class
``DuckDBAsofOfflineStoreConfig`` from this module by name.

Differences from Feast's DuckDB store, each on purpose:
- relative source paths resolve against the repo, not the current directory;
- nanosecond-precision entity timestamps are accepted (Feast raises ArrowInvalid);
- an entity frame may also be a pyarrow Table or a Parquet path (``pathlib.Path``);
  a ``str`` is SQL over the project's raw sources and feature tables;
- rows come back in the entity frame's order (Feast's order is arbitrary);
- ``join_strategy: asof | range | auto`` (default ``auto``) picks the join's phase 1.
Requests it does not handle (no entity frame, ``filter_by_created_timestamp``,
substrait on-demand views) go to Feast's implementation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from feast.feature_view import FeatureView
from feast.infra.offline_stores.offline_store import OfflineStore, RetrievalJob
from feast.infra.registry.base_registry import BaseRegistry
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from pydantic import StrictStr

from featurestore.engine import EngineConfig, check_master, engine_from_env
from featurestore.offline import EntityInput, retrieve, view_spec
from featurestore.offline.join import Strategy
from featurestore.project import Project

TYPE_NAME = "featurestore.feast_plugins.offline_store.DuckDBAsofOfflineStore"


if TYPE_CHECKING:
    from feast.infra.offline_stores.duckdb import DuckDBOfflineStore


def _feast_duckdb() -> type[DuckDBOfflineStore]:
    """Feast's DuckDB store, imported when first used: it imports ibis (~0.3 s), which
    neither our joins nor our materialization engine need."""
    from feast.infra.offline_stores.duckdb import DuckDBOfflineStore

    return DuckDBOfflineStore


def _delegate(name: str) -> Any:
    """A static method that calls Feast's DuckDB store's ``name``, imported on first use."""

    def method(*args: Any, **kwargs: Any) -> Any:
        return getattr(_feast_duckdb(), name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    return staticmethod(method)


class DuckDBAsofOfflineStoreConfig(FeastConfigBaseModel):
    """Feast's ``DuckDBOfflineStoreConfig`` (same fields), plus ``join_strategy``."""

    type: StrictStr = TYPE_NAME
    staging_location: str | None = None
    staging_location_endpoint_override: str | None = None
    # Phase 1 of the join per view (``featurestore.offline.join``): ``auto`` decides
    # from the entity frame; ``asof`` for tables with a key far hotter than the rest.
    join_strategy: Literal["auto", "asof", "range"] = "auto"
    # The batch engine of the joins; unset: the project's (featurestore.engine).
    engine: Literal["duckdb", "spark"] | None = None
    # The Spark master URL on the spark engine; unset: the project's spark.master.
    spark_master: str | None = None


_project_engine: ContextVar[EngineConfig | None] = ContextVar("project_engine", default=None)


@contextmanager
def use_engine(engine: EngineConfig) -> Iterator[None]:
    """Within the block, a retrieval whose ``feature_store.yaml`` names no engine runs on
    ``engine`` (a project's, with a command's ``--engine`` applied) instead of the one
    read from the repo's project file. Scoped to the calling thread or task."""
    token = _project_engine.set(engine)
    try:
        yield
    finally:
        _project_engine.reset(token)


def offline_engine(config: RepoConfig, project: Project | None) -> EngineConfig:
    """The engine a retrieval runs on: the YAML's ``engine`` and ``spark_master`` over
    the project's engine (``use_engine``'s, else ``project``'s, else the environment's)."""
    engine = _project_engine.get()
    if engine is None:
        engine = project.engine if project is not None else engine_from_env(os.environ)
    offline = config.offline_store
    named = getattr(offline, "engine", None)
    if named is not None:
        engine = replace(engine, name=named)
    master = getattr(offline, "spark_master", None)
    if master is not None:
        where = "feature_store.yaml: offline_store.spark_master"
        engine = replace(engine, spark=replace(engine.spark, master=check_master(master, where)))
    return engine


class DuckDBAsofOfflineStore(OfflineStore):
    supports_filter_by_created_timestamp = True

    # Everything but the point-in-time join is Feast's DuckDB store, unchanged.
    pull_latest_from_table_or_query = _delegate("pull_latest_from_table_or_query")
    pull_all_from_table_or_query = _delegate("pull_all_from_table_or_query")
    offline_write_batch = _delegate("offline_write_batch")
    write_logged_features = _delegate("write_logged_features")
    compute_monitoring_metrics = _delegate("compute_monitoring_metrics")
    get_monitoring_max_timestamp = _delegate("get_monitoring_max_timestamp")
    ensure_monitoring_tables = _delegate("ensure_monitoring_tables")
    save_monitoring_metrics = _delegate("save_monitoring_metrics")
    query_monitoring_metrics = _delegate("query_monitoring_metrics")
    clear_monitoring_baseline = _delegate("clear_monitoring_baseline")

    @staticmethod
    def get_historical_features(
        config: RepoConfig,
        feature_views: list[FeatureView],
        feature_refs: list[str],
        entity_df: EntityInput | None,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        filter_by_created_timestamp: bool = False,
        **kwargs: Any,
    ) -> RetrievalJob:
        odfvs = OnDemandFeatureView.get_requested_odfvs(feature_refs, project, registry)
        if (
            entity_df is None
            or filter_by_created_timestamp
            or any(odfv.mode == "substrait" for odfv in odfvs)
        ):
            return _feast_duckdb().get_historical_features(
                config,
                feature_views,
                feature_refs,
                entity_df,
                registry,
                project,
                full_feature_names,
                filter_by_created_timestamp,
                **kwargs,
            )
        repo_path = Path(config.repo_path) if config.repo_path else None
        views = [
            view_spec(view, feature_refs, full_feature_names, repo_path)
            for view in feature_views
            if isinstance(view, FeatureView)
        ]
        # A SQL entity frame sees the project's raw sources and feature tables.
        settings = Project.for_repo(repo_path) if repo_path else None
        strategy: Strategy = getattr(config.offline_store, "join_strategy", "auto")
        engine = offline_engine(config, settings)
        if engine.is_spark:
            from featurestore.spark.session import spark_session
            from featurestore.spark.training import retrieve as retrieve_on_spark

            return retrieve_on_spark(
                spark_session(engine.spark),
                views,
                entity_df,
                project=settings,
                feature_refs=feature_refs,
                full_feature_names=full_feature_names,
                on_demand_feature_views=odfvs,
                repo_path=repo_path,
                strategy=strategy,
            )
        return retrieve(
            views,
            entity_df,
            project=settings,
            feature_refs=feature_refs,
            full_feature_names=full_feature_names,
            on_demand_feature_views=odfvs,
            repo_path=repo_path,
            strategy=strategy,
        )
