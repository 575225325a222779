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

The lookups' own asyncio client (``featurestore.online.resp``) follows the same rule.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import NoBackoff
from redis.retry import Retry

from featurestore.settings import RedisAddress

__all__ = ["async_client_options", "client_options", "redis_client"]


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


def redis_client(address: RedisAddress, timeout: float) -> redis.Redis:
    """A client of ``address`` whose every call gives up after about ``timeout`` seconds."""
    return redis.Redis(**address.redis_kwargs(), decode_responses=False, **client_options(timeout))
