"""Every redis-py client the library opens: each call waits a bounded time, and only once.

redis-py 7's defaults suit a caller that would rather wait than fail: no socket timeout
(a call to a frozen Redis waits until it resumes, however long), and three retries with
exponential backoff (about 1 s, 2 s, 4 s, jittered) on a connection error *or* a timeout
(a refused port fails after ~7 s, and a timeout would be paid four times). Feast's Redis
online store builds its clients with those defaults. Ours instead:

- connecting, sending and each reply wait at most ``timeout`` seconds
  (``FEATURESTORE_REDIS_TIMEOUT``, ``featurestore.settings.redis_timeout_from_env``);
- a dropped connection (a pooled socket the server closed) is retried once, at once;
  a timeout is never retried, so a call fails in about ``timeout``, not a multiple of it.

A cluster client (``redis.RedisCluster``) retries nothing: a failed call fails at once
(after redis-py has re-read the cluster's slot map, so the next call goes to a promoted
replica), and MOVED / ASK redirections are followed as redis-py does. A sentinel
client is a ``redis.Redis`` whose connections go to the master the sentinels name,
asked again at each new connection (after a failover).

The lookups' own asyncio clients (``featurestore.online``) follow the same rules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeAlias

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from featurestore.errors import ConfigError
from featurestore.settings import RedisAddress

__all__ = [
    "LazyCluster",
    "OnlineClient",
    "async_client_options",
    "async_sentinel_options",
    "client_options",
    "cluster_client",
    "cluster_options",
    "online_client",
    "redis_client",
    "sentinel_client",
    "sentinel_options",
]


class LazyCluster:
    """A ``redis.RedisCluster`` made at its first use, and made again at the next use when
    that failed. redis-py's reads the slot map in its constructor and raises when no
    node answers; this one can be built while the cluster is down (an API starts, and
    answers 503 until it is back, as it does for one Redis). Every attribute is the
    cluster client's; a failed construction is a ``redis.ConnectionError``."""

    def __init__(self, factory: Callable[[], RedisCluster]) -> None:
        self._factory = factory
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()

    def get(self) -> RedisCluster:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    try:
                        self._client = self._factory()
                    except redis.exceptions.RedisClusterException as exc:
                        raise redis.ConnectionError(str(exc)) from exc
                client = self._client
        return client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


OnlineClient: TypeAlias = redis.Redis | RedisCluster | LazyCluster
"""A client of the online store: one Redis (maybe through sentinels) or a cluster."""


def client_options(timeout: float) -> dict[str, Any]:
    """``redis.Redis`` keyword arguments: ``timeout`` per call, no retry of a timeout."""
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    }


def async_client_options(timeout: float) -> dict[str, Any]:
    """The same for ``redis.asyncio.Redis``."""
    retry = redis.asyncio.retry.Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": retry}


def cluster_options(timeout: float) -> dict[str, Any]:
    """``redis.RedisCluster`` keyword arguments: ``timeout`` per call, no retry, and a slot
    map that may miss slots (a master that failed and has no replica yet)."""
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "require_full_coverage": False,
    }


def sentinel_options(timeout: float) -> dict[str, Any]:
    """``redis.Sentinel``'s ``sentinel_kwargs``: each sentinel is asked within ``timeout``,
    and one that refuses is passed over at once (redis-py's default retries with back-off
    spend ~6 s on a sentinel that is down before asking the next)."""
    return client_options(timeout)


def async_sentinel_options(timeout: float) -> dict[str, Any]:
    """The same for ``redis.asyncio.Sentinel``."""
    return async_client_options(timeout)


def redis_client(address: RedisAddress, timeout: float) -> redis.Redis:
    """A client of ``address`` whose every call gives up after about ``timeout`` seconds:
    one Redis, or the master of a sentinel address. A cluster needs ``online_client``."""
    if address.is_sentinel:
        return sentinel_client(address, timeout)
    if address.is_cluster:
        raise ConfigError(
            "this command works on a single Redis, and the Redis URL names a Redis Cluster"
        )
    return redis.Redis(**address.redis_kwargs(), decode_responses=False, **client_options(timeout))


def cluster_client(address: RedisAddress, timeout: float) -> LazyCluster:
    """A client of the cluster whose nodes ``address`` lists (any one that answers),
    connected at its first use."""
    nodes = [ClusterNode(host, port) for host, port in address.nodes]
    kwargs = {**address.connection_kwargs(), **cluster_options(timeout)}
    return LazyCluster(lambda: RedisCluster(startup_nodes=nodes, **kwargs))


def sentinel_client(address: RedisAddress, timeout: float) -> redis.Redis:
    """A client of the master the sentinels of ``address`` name, found again after a
    failover (at each new connection)."""
    assert address.master_name is not None
    sentinel = Sentinel(
        list(address.nodes),
        sentinel_kwargs=sentinel_options(timeout),
        **address.connection_kwargs(),
        **client_options(timeout),
    )
    return sentinel.master_for(address.master_name, redis_class=redis.Redis)


def online_client(address: RedisAddress, timeout: float) -> OnlineClient:
    """A client of whatever ``address`` names: one Redis, a sentinel's master, a cluster."""
    if address.is_cluster:
        return cluster_client(address, timeout)
    return redis_client(address, timeout)
