"""Feast's Redis online store, addressed through the project's online store URL.

``feature_store.yaml`` names ``featurestore.feast_plugins.redis_online_store.RedisOnlineStore``
as its online store type. The data layout is exactly Feast's; the only difference is where
the connection comes from: when the YAML gives no ``connection_string``, it is
``FEATURESTORE_REDIS_URL``, else the ``online_store: redis_url`` of the project found from
the current folder (``feast -c repo`` or ``cd repo && feast ...`` inside a project), else the
local default; so the same repo works against the project's local Redis, a test's Redis
on a free port, or a production Redis.
"""

from __future__ import annotations

from typing import Literal

from feast.infra.online_stores.redis import RedisOnlineStore as _FeastRedisOnlineStore
from feast.infra.online_stores.redis import (
    RedisOnlineStoreConfig as _FeastRedisOnlineStoreConfig,
)
from pydantic import Field, StrictStr

from featurestore.errors import ProjectNotFoundError
from featurestore.settings import parse_redis_url, redis_url_from_env

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


class RedisOnlineStore(_FeastRedisOnlineStore):
    """Feast's Redis online store; same keys, fields and values."""
