"""Feast's Redis online store, addressed through the project's online store URL.

``feature_store.yaml`` names ``featurestore.feast_plugins.redis_online_store.RedisOnlineStore``
as its online store type. The data layout is exactly Feast's; the differences are where
the connection comes from and how long a call may wait:

- when the YAML gives no ``connection_string``, it is ``FEATURESTORE_REDIS_URL``, else the
  ``online_store: redis_url`` of the project found from the current folder (``feast -c
  repo`` or ``cd repo && feast ...`` inside a project), else the local default; so the
  same repo works against the project's local Redis, a test's Redis on a free port, or a
  production Redis;
- a cluster or sentinel URL (``redis+cluster://``, ``redis+sentinel://``) becomes Feast's
  own settings for them: ``redis_type: redis_cluster`` or ``redis_sentinel`` (with
  ``sentinel_master``) and the nodes or sentinels in ``connection_string``; a YAML that
  gives its own ``connection_string`` keeps its own ``redis_type`` too;
- every call (writes, pushes, deletes on ``feast apply``, Feast's own reads) gives up
  after ``redis_timeout`` seconds (default ``FEATURESTORE_REDIS_TIMEOUT``) and never
  retries a timeout (``featurestore.redis_client``), whatever the ``redis_type``; Feast's
  clients wait forever on a frozen Redis and retry a refused one for seconds. The
  connection string's own settings (``socket_timeout=5``...) win.
"""

from __future__ import annotations

from typing import Any, Literal

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
from feast.infra.online_stores.redis import RedisOnlineStore as _FeastRedisOnlineStore
from feast.infra.online_stores.redis import (
    RedisOnlineStoreConfig as _FeastRedisOnlineStoreConfig,
)
from feast.infra.online_stores.redis import RedisType
from pydantic import Field, model_validator
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster

from featurestore.errors import ProjectNotFoundError
from featurestore.redis_client import (
    async_client_options,
    async_sentinel_options,
    client_options,
    cluster_options,
    sentinel_options,
)
from featurestore.settings import parse_redis_url, redis_timeout_from_env, redis_url_from_env

TYPE_NAME = "featurestore.feast_plugins.redis_online_store.RedisOnlineStore"


def _online_settings_from_env() -> dict[str, str]:
    """Feast's ``connection_string`` and ``redis_type`` (and ``sentinel_master``) of the
    project's Redis URL (``FEATURESTORE_REDIS_URL``, else the project's, else the default)."""
    from featurestore.project import Project

    try:
        url = Project.find().redis_url
    except ProjectNotFoundError:
        url = redis_url_from_env()
    return parse_redis_url(url).feast_online_settings()


class RedisOnlineStoreConfig(_FeastRedisOnlineStoreConfig):
    type: Literal["featurestore.feast_plugins.redis_online_store.RedisOnlineStore"] = TYPE_NAME  # type: ignore[assignment]
    redis_timeout: float = Field(default_factory=redis_timeout_from_env, gt=0)
    """Seconds a Redis call may wait to connect, send or be answered."""

    @model_validator(mode="before")
    @classmethod
    def _address_from_url(cls, data: Any) -> Any:
        """No ``connection_string`` in the YAML: the project's URL gives it, with its
        ``redis_type`` (and ``sentinel_master``) unless the YAML sets them."""
        if isinstance(data, dict) and "connection_string" not in data:
            data = {**_online_settings_from_env(), **data}
        return data


def _nodes_and_params(
    config: _FeastRedisOnlineStoreConfig, defaults: dict[str, Any]
) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """The connection string's ``host:port`` list, and its settings (``db=1``,
    ``socket_timeout=5``...), which win over ``defaults``."""
    nodes, params = _FeastRedisOnlineStore._parse_connection_string(config.connection_string)
    return [(node["host"], int(node["port"])) for node in nodes], {**defaults, **params}


def _options(config: _FeastRedisOnlineStoreConfig, defaults: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for a client of the single Redis the connection string names."""
    nodes, params = _nodes_and_params(config, defaults)
    return {**params, "host": nodes[0][0], "port": nodes[0][1]}


def redis_timeout(config: _FeastRedisOnlineStoreConfig) -> float:
    """The config's ``redis_timeout``; for Feast's own ``type: redis``, the environment's."""
    timeout = getattr(config, "redis_timeout", None)
    return float(timeout) if timeout else redis_timeout_from_env()


def feast_redis_client(config: _FeastRedisOnlineStoreConfig) -> redis.Redis:
    """A client of a single Redis (``redis_type: redis``), or of the master the sentinels
    name (``redis_sentinel``), with bounded calls."""
    timeout = redis_timeout(config)
    if config.redis_type == RedisType.redis_sentinel:
        nodes, params = _nodes_and_params(config, client_options(timeout))
        sentinel = redis.Sentinel(nodes, sentinel_kwargs=sentinel_options(timeout), **params)
        return sentinel.master_for(config.sentinel_master, redis_class=redis.Redis)
    return redis.Redis(**_options(config, client_options(timeout)))


def feast_cluster_client(config: _FeastRedisOnlineStoreConfig) -> RedisCluster:
    """A client of the cluster (``redis_type: redis_cluster``) with bounded calls."""
    nodes, params = _nodes_and_params(config, cluster_options(redis_timeout(config)))
    return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in nodes], **params)


class RedisOnlineStore(_FeastRedisOnlineStore):
    """Feast's Redis online store; same keys, fields and values; bounded calls."""

    def _get_client(self, online_store_config: _FeastRedisOnlineStoreConfig) -> Any:
        if not self._client:
            if online_store_config.redis_type == RedisType.redis_cluster:
                self._client = feast_cluster_client(online_store_config)
            else:
                self._client = feast_redis_client(online_store_config)
        return super()._get_client(online_store_config)

    async def _get_client_async(self, online_store_config: _FeastRedisOnlineStoreConfig) -> Any:
        if not self._client_async:
            timeout = redis_timeout(online_store_config)
            kind = online_store_config.redis_type
            if kind == RedisType.redis_cluster:
                nodes, params = _nodes_and_params(online_store_config, cluster_options(timeout))
                params["retry"] = redis.asyncio.retry.Retry(NoBackoff(), 0)
                startup = [redis.asyncio.cluster.ClusterNode(h, p) for h, p in nodes]
                self._client_async = redis.asyncio.RedisCluster(startup_nodes=startup, **params)
            elif kind == RedisType.redis_sentinel:
                options = async_client_options(timeout)
                nodes, params = _nodes_and_params(online_store_config, options)
                sentinel = redis.asyncio.Sentinel(
                    nodes, sentinel_kwargs=async_sentinel_options(timeout), **params
                )
                self._client_async = sentinel.master_for(
                    online_store_config.sentinel_master, redis_class=redis.asyncio.Redis
                )
            else:
                options = async_client_options(timeout)
                self._client_async = redis.asyncio.Redis(**_options(online_store_config, options))
        return await super()._get_client_async(online_store_config)
