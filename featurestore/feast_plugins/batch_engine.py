"""Our Feast batch engine: ``feast materialize`` into Redis through ``featurestore.materialize``.

``feature_store.yaml`` names it under ``batch_engine``::

    batch_engine:
      type: featurestore.feast_plugins.batch_engine.RedisBatchEngine
      batch_size: 20000          # entities per round trip (bounds memory)

Feast calls ``materialize`` once per feature view and records the materialized interval
(what ``materialize-incremental`` starts from) only when the returned job succeeded, so
a failed write never advances it.

It writes through a client of its own (``feast_redis_client``: every call bounded by the
online store's ``redis_timeout``, else ``FEATURESTORE_REDIS_TIMEOUT``), whatever client
Feast's online store would build, so a frozen Redis fails the run instead of hanging it.

Views it cannot write itself (a non-file source, a transformation, aggregations,
versioned online names) and online stores other than Redis (one, a sentinel's master,
or a cluster) go to Feast's ``local`` engine unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from feast import FeatureView
from feast.infra.common.materialization_job import (
    MaterializationJob,
    MaterializationJobStatus,
    MaterializationTask,
)
from feast.infra.compute_engines.base import ComputeEngine
from feast.infra.compute_engines.local.compute import LocalComputeEngine
from feast.infra.compute_engines.local.job import LocalMaterializationJob
from feast.infra.online_stores.redis import RedisOnlineStore as FeastRedisOnlineStore
from feast.infra.online_stores.redis import RedisOnlineStoreConfig, RedisType
from feast.infra.registry.base_registry import BaseRegistry
from feast.repo_config import FeastConfigBaseModel
from pydantic import Field, StrictBool, StrictStr

from featurestore.errors import UnsupportedViewError
from featurestore.feast_plugins.redis_online_store import feast_cluster_client, feast_redis_client
from featurestore.materialize import DuckDBOptions, MaterializeOptions, ViewPlan, materialize_view
from featurestore.materialize.engine import DEFAULT_BATCH_SIZE
from featurestore.project import Project
from featurestore.redis_client import OnlineClient
from featurestore.settings import parse_redis_url, redis_timeout_from_env

TYPE_NAME = "featurestore.feast_plugins.batch_engine.RedisBatchEngine"


class RedisBatchEngineConfig(FeastConfigBaseModel):
    type: Literal["featurestore.feast_plugins.batch_engine.RedisBatchEngine"] = (
        "featurestore.feast_plugins.batch_engine.RedisBatchEngine"
    )
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, gt=0)
    """Entities per batch: one HMGET and one HSET round trip each; bounds memory."""
    duckdb_memory_limit: StrictStr = "512MB"
    """DuckDB's memory cap; the latest-row aggregate holds one row per entity."""
    duckdb_threads: int = Field(default=2, gt=0)
    engine: Literal["duckdb", "spark"] | None = None
    """Where the latest rows are computed; default: the project's engine (featurestore.yaml)."""
    spark_master: StrictStr | None = None
    """The Spark master URL; default: the project's (``spark.master``)."""
    progress: StrictBool = True
    """A live progress line per feature view on stderr, and its summary."""


class RedisBatchEngine(ComputeEngine):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            repo_config=kwargs["repo_config"],
            offline_store=kwargs["offline_store"],
            online_store=kwargs["online_store"],
        )
        self._fallback: LocalComputeEngine | None = None
        self._project_cache: Project | None = None

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to prepare: the Redis layout needs no schema."""

    def teardown_infra(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to tear down (the online store deletes its own keys)."""

    @property
    def config(self) -> RedisBatchEngineConfig:
        engine = self.repo_config.batch_engine
        return engine if isinstance(engine, RedisBatchEngineConfig) else RedisBatchEngineConfig()

    def options(self) -> MaterializeOptions:
        config = self.config
        online = self.repo_config.online_store
        return MaterializeOptions(
            batch_size=config.batch_size,
            key_ttl_seconds=getattr(online, "key_ttl_seconds", None),
            skip_dedup=bool(getattr(online, "skip_dedup", False)),
            duckdb=DuckDBOptions(
                memory_limit=config.duckdb_memory_limit, threads=config.duckdb_threads
            ),
            progress=config.progress,
        )

    def _local(self) -> LocalComputeEngine:
        if self._fallback is None:
            self._fallback = LocalComputeEngine(
                repo_config=self.repo_config,
                offline_store=self.offline_store,
                online_store=self.online_store,
            )
        return self._fallback

    def _redis_client(self) -> OnlineClient | None:
        """Our writer's client of the online store's Redis: one Redis, a sentinel's
        master or a cluster (written one pipeline per master)."""
        online = self.repo_config.online_store
        if not isinstance(self.online_store, FeastRedisOnlineStore):
            return None
        if not isinstance(online, RedisOnlineStoreConfig):
            return None
        if online.redis_type == RedisType.redis_cluster:
            return feast_cluster_client(online)
        return feast_redis_client(online)

    def _materialize_one(
        self, registry: BaseRegistry, task: MaterializationTask, **kwargs: Any
    ) -> MaterializationJob:
        view = task.feature_view
        job_id = f"{view.name}-{task.start_time}-{task.end_time}"
        versioned = self.repo_config.registry.enable_online_feature_view_versioning
        if not versioned and isinstance(view, FeatureView) and self._project().engine.is_spark:
            return self._on_spark(registry, task, view, job_id, **kwargs)
        client = None if versioned or not isinstance(view, FeatureView) else self._redis_client()
        if client is None or not isinstance(view, FeatureView):
            return self._local()._materialize_one(registry, task, **kwargs)
        try:
            entities = [registry.get_entity(name, task.project) for name in view.entities]
            try:
                plan = ViewPlan.from_feature_view(
                    task.project, view, entities, self.repo_config.repo_path
                )
            except UnsupportedViewError:
                return self._local()._materialize_one(registry, task, **kwargs)
            materialize_view(plan, client, task.start_time, task.end_time, self.options())
        except Exception as exc:
            return LocalMaterializationJob(job_id, MaterializationJobStatus.ERROR, error=exc)
        finally:
            client.close()
        return LocalMaterializationJob(job_id, MaterializationJobStatus.SUCCEEDED)

    def _project(self) -> Project:
        """The project of this repo, with the engine this config names (if it does)."""
        if self._project_cache is None:
            config = self.config
            project = Project.for_repo(Path(self.repo_config.repo_path or "."))
            self._project_cache = project.with_engine(config.engine, config.spark_master)
        return self._project_cache

    def _redis_url(self, project: Project) -> str:
        """The URL of the Redis this repo's online store writes to: the project's (with
        its TLS files) when the online store was configured from it, else one built
        from the connection string of the YAML."""
        online = self.repo_config.online_store
        address = parse_redis_url(project.redis_url)
        if not isinstance(online, RedisOnlineStoreConfig):
            return project.redis_url
        settings = address.feast_online_settings()
        if online.connection_string == settings.get("connection_string"):
            return project.redis_url
        return redis_url_of(online)

    def _on_spark(
        self,
        registry: BaseRegistry,
        task: MaterializationTask,
        view: FeatureView,
        job_id: str,
        **kwargs: Any,
    ) -> MaterializationJob:
        """The view's latest rows on Spark, written by its executors to the project's Redis
        (``featurestore.spark.materialize``); the same views fall back to Feast."""
        from featurestore.spark.materialize import materialize_view as on_spark

        project = self._project()
        try:
            entities = [registry.get_entity(name, task.project) for name in view.entities]
            try:
                plan = ViewPlan.from_feature_view(
                    task.project, view, entities, self.repo_config.repo_path
                )
            except UnsupportedViewError:
                return self._local()._materialize_one(registry, task, **kwargs)
            on_spark(
                plan,
                self._redis_url(project),
                task.start_time,
                task.end_time,
                project.engine.spark,
                self.options(),
                timeout=redis_timeout_from_env(),
            )
        except Exception as exc:
            return LocalMaterializationJob(job_id, MaterializationJobStatus.ERROR, error=exc)
        return LocalMaterializationJob(job_id, MaterializationJobStatus.SUCCEEDED)


def redis_url_of(online: RedisOnlineStoreConfig) -> str:
    """Our URL for Feast's Redis settings (``connection_string``, ``redis_type``)."""
    from urllib.parse import quote

    nodes, params = FeastRedisOnlineStore._parse_connection_string(online.connection_string)
    hosts = ",".join(f"{node['host']}:{node['port']}" for node in nodes)
    tls = str(params.get("ssl", "false")).lower() == "true"
    password = params.get("password")
    user = params.get("username") or ""
    auth = f"{quote(str(user), safe='')}:{quote(str(password), safe='')}@" if password else ""
    db = int(params.get("db", 0))
    scheme = "rediss" if tls else "redis"
    if online.redis_type == RedisType.redis_cluster:
        return f"{scheme}+cluster://{auth}{hosts}/0"
    if online.redis_type == RedisType.redis_sentinel:
        return f"{scheme}+sentinel://{auth}{hosts}/{online.sentinel_master}/{db}"
    return f"{scheme}://{auth}{hosts.split(',')[0]}/{db}"
