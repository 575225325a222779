"""Feast's Redis online store, addressed through the project's online store URL.

``feature_store.yaml`` names ``featurestore.feast_plugins.redis_online_store.RedisOnlineStore``
as its online store type. The data layout is exactly Feast's; the differences are where
the connection comes from and how long a call may wait:

- when the YAML gives no ``connection_string``, it is ``FEATURESTORE_REDIS_URL``, else the
  ``online_store: redis_url`` of the project found from the current folder (``feast -c
  repo`` or ``cd repo && feast ...`` inside a project), else the local default; so the
  same repo works against the project's local Redis, a test's Redis on a free port, or a
  production Redis;
- every call (writes, pushes, deletes on ``feast apply``, Feast's own reads) gives up
  after ``redis_timeout`` seconds (default ``FEATURESTORE_REDIS_TIMEOUT``) and never
  retries a timeout (``featurestore.redis_client``); Feast's clients wait forever on a
  frozen Redis and retry a refused one for seconds. That holds for ``redis_type: redis``;
  Feast builds cluster and sentinel clients itself (give them ``socket_timeout=`` in the
  connection string).
"""

from __future__ import annotations

from typing import Any, Literal

import redis
import redis.asyncio
from feast.infra.online_stores.redis import RedisOnlineStore as _FeastRedisOnlineStore
from feast.infra.online_stores.redis import (
    RedisOnlineStoreConfig as _FeastRedisOnlineStoreConfig,
)
from feast.infra.online_stores.redis import RedisType
from pydantic import Field, StrictStr

from featurestore.errors import ProjectNotFoundError
from featurestore.redis_client import async_client_options, client_options
from featurestore.settings import parse_redis_url, redis_timeout_from_env, redis_url_from_env

TYPE_NAME = "featurestore.feast_plugins.redis_online_store.RedisOnlineStore"


def _connection_string_from_env() -> str:
    from featurestore.project import Project

    try:
        url = Project.find().redis_url
    except ProjectNotFoundError:
        url = redis_url_from_env()
    return parse_redis_url(url).feast_connection_string()


class RedisOnlineStoreConfig(_FeastRedisOnlineStoreConfig):
    type: Literal["featurestore.feast_plugins.redis_online_store.RedisOnlineStore"] = TYPE_NAME  # type: ignore[assignment]
    connection_string: StrictStr = Field(default_factory=_connection_string_from_env)
    redis_timeout: float = Field(default_factory=redis_timeout_from_env, gt=0)
    """Seconds a Redis call may wait to connect, send or be answered."""


def _options(config: _FeastRedisOnlineStoreConfig, defaults: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for a client of the single Redis the connection string names;
    the string's own settings (``db=1``, ``socket_timeout=5``...) win over ``defaults``."""
    nodes, params = _FeastRedisOnlineStore._parse_connection_string(config.connection_string)
    return {**defaults, "host": nodes[0]["host"], "port": int(nodes[0]["port"]), **params}


def redis_timeout(config: _FeastRedisOnlineStoreConfig) -> float:
    """The config's ``redis_timeout``; for Feast's own ``type: redis``, the environment's."""
    timeout = getattr(config, "redis_timeout", None)
    return float(timeout) if timeout else redis_timeout_from_env()


def feast_redis_client(config: _FeastRedisOnlineStoreConfig) -> redis.Redis:
    """A client of a single Redis (``redis_type: redis``) with bounded calls."""
    return redis.Redis(**_options(config, client_options(redis_timeout(config))))


class RedisOnlineStore(_FeastRedisOnlineStore):
    """Feast's Redis online store; same keys, fields and values; bounded calls."""

    def _get_client(self, online_store_config: _FeastRedisOnlineStoreConfig) -> Any:
        if not self._client and online_store_config.redis_type == RedisType.redis:
            self._client = feast_redis_client(online_store_config)
        return super()._get_client(online_store_config)

    async def _get_client_async(self, online_store_config: _FeastRedisOnlineStoreConfig) -> Any:
        if not self._client_async and online_store_config.redis_type == RedisType.redis:
            options = async_client_options(redis_timeout(online_store_config))
            self._client_async = redis.asyncio.Redis(**_options(online_store_config, options))
        return await super()._get_client_async(online_store_config)
