"""The online store's address: a ``redis://host:port/db`` URL and what it names.

The project file names it (``online_store: redis_url:``); ``FEATURESTORE_REDIS_URL``
wins over it. The default, ``redis://127.0.0.1:6399/0``, is the local Redis that
``featurestore redis start`` runs. ``FEATURESTORE_REDIS_TIMEOUT`` (seconds, default 1.0)
bounds every Redis call of every path: lookups, writes, materialization, the CLI's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from featurestore.errors import ConfigError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6399/0"
DEFAULT_REDIS_TIMEOUT = 1.0


@dataclass(frozen=True)
class RedisAddress:
    host: str
    port: int
    db: int
    password: str | None
    ssl: bool

    @property
    def is_local(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1")

    def feast_connection_string(self) -> str:
        """The same address in the ``host:port,db=N,...`` form Feast's Redis store expects."""
        parts = [f"{self.host}:{self.port}", f"db={self.db}"]
        if self.password:
            parts.append(f"password={self.password}")
        if self.ssl:
            parts.append("ssl=true")
        return ",".join(parts)


def parse_redis_url(url: str) -> RedisAddress:
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        raise ConfigError(
            "the Redis URL (online_store.redis_url in featurestore.yaml, or "
            f"FEATURESTORE_REDIS_URL) must look like redis://host:port/db, got "
            f"{_safe_url(url)!r}"
        )
    path = parsed.path.lstrip("/")
    try:
        db = int(path) if path else 0
        port = parsed.port or 6379
    except ValueError as exc:
        from featurestore.raw.urls import scrub

        raise ConfigError(f"bad Redis URL {_safe_url(url)!r}: {scrub(str(exc), url)}") from None
    return RedisAddress(
        host=parsed.hostname,
        port=port,
        db=db,
        password=parsed.password,
        ssl=parsed.scheme == "rediss",
    )


def _safe_url(url: str) -> str:
    """The URL as it may be shown (its password as ``***``), by the one masking helper
    that raw sources' URLs use; imported only when an error is shown."""
    from featurestore.raw.urls import safe_url

    return safe_url(url)


def redis_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("FEATURESTORE_REDIS_URL") or DEFAULT_REDIS_URL


def redis_timeout_from_env(environ: Mapping[str, str] | None = None) -> float:
    """``FEATURESTORE_REDIS_TIMEOUT``: the seconds any Redis call may wait (connect or reply)."""
    env = os.environ if environ is None else environ
    raw = env.get("FEATURESTORE_REDIS_TIMEOUT") or ""
    if not raw:
        return DEFAULT_REDIS_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise ConfigError(f"FEATURESTORE_REDIS_TIMEOUT must be a positive number, got {raw!r}")
    return value
