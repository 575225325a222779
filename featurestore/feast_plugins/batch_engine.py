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
versioned online names) and online stores other than a single Redis go to Feast's
``local`` engine unchanged.
"""

from __future__ import annotations

from typing import Any, Literal

import redis
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
from featurestore.feast_plugins.redis_online_store import feast_redis_client
from featurestore.materialize import DuckDBOptions, MaterializeOptions, ViewPlan, materialize_view
from featurestore.materialize.engine import DEFAULT_BATCH_SIZE

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

    def _redis_client(self) -> redis.Redis | None:
        online = self.repo_config.online_store
        if not isinstance(self.online_store, FeastRedisOnlineStore):
            return None
        if not isinstance(online, RedisOnlineStoreConfig) or online.redis_type != RedisType.redis:
            return None
        return feast_redis_client(online)

    def _materialize_one(
        self, registry: BaseRegistry, task: MaterializationTask, **kwargs: Any
    ) -> MaterializationJob:
        view = task.feature_view
        job_id = f"{view.name}-{task.start_time}-{task.end_time}"
        versioned = self.repo_config.registry.enable_online_feature_view_versioning
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
