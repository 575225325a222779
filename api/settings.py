"""The HTTP service's settings, read from the environment once, by ``create_app``.

FEATURESTORE_API_KEYS              comma-separated bearer tokens, each ``[read:|write:]KEY``
                                   or ``[read:|write:]sha256:HEX`` (``api.keys``); unset: no auth
FEATURESTORE_CORS_ORIGINS          comma-separated allowed origins; unset: CORS off
FEATURESTORE_MAX_BODY_BYTES        largest request body (default 1048576)
FEATURESTORE_MAX_ENTITIES          most entities per lookup (default 1000)
FEATURESTORE_MAX_FEATURES          most feature refs per lookup (default 1000)
FEATURESTORE_REDIS_TIMEOUT         seconds before a Redis call fails with 503 (default 1.0)
FEATURESTORE_WRITE_THREADS         threads for /push and /write-to-online-store (default 8)
FEATURESTORE_REGISTRY_REFRESH      seconds between background registry refreshes (default 5)
FEATURESTORE_API_WORKERS           worker processes of ``featurestore serve`` (default 1)
FEATURESTORE_HEADER_TIMEOUT        seconds to receive a request's head, then 408 (default 10)
FEATURESTORE_BODY_TIMEOUT          seconds to receive a request's body, then 408 (default 10)
FEATURESTORE_MAX_CONNECTIONS_PER_CLIENT  open connections per client IP and worker (default 256)
FEATURESTORE_STALE_HEADER          1: online answers name the requested feature views past their
                                   freshness objective in ``x-featurestore-stale`` (default 0)
FEATURESTORE_PUSH_COMPACT_SECONDS  seconds between background compactions of the push logs
                                   (default 30; 0: never)
FEATURESTORE_PUSH_STREAMS          ``stream=push_source,...``: Redis Streams to consume
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from api.keys import parse_api_keys
from featurestore.errors import ConfigError
from featurestore.settings import redis_timeout_from_env

T = TypeVar("T", int, float)


_ZERO_MEANS_OFF = {"FEATURESTORE_REGISTRY_REFRESH", "FEATURESTORE_PUSH_COMPACT_SECONDS"}


def _number(env: Mapping[str, str], name: str, default: T, kind: Callable[[str], T]) -> T:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0 or (value == 0 and name not in _ZERO_MEANS_OFF):
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be 1 or 0, got {env[name]!r}")


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


@dataclass(frozen=True)
class ApiSettings:
    api_keys: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1_048_576
    max_entities: int = 1000
    max_features: int = 1000
    redis_timeout: float = 1.0
    write_threads: int = 8
    registry_refresh_seconds: float = 5.0
    workers: int = 1
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_connections_per_client: int = 256
    stale_header: bool = False
    push_compact_seconds: float = 30.0
    push_streams: str = ""  # stream=push_source,... (featurestore.push.stream)

    def __post_init__(self) -> None:
        parse_api_keys(self.api_keys)  # a malformed entry stops the start-up, by position

    def __repr__(self) -> str:  # never print the keys
        keys = f"<{len(self.api_keys)} keys>"
        return (
            f"ApiSettings(api_keys={keys}, cors_origins={self.cors_origins}, "
            f"max_body_bytes={self.max_body_bytes}, max_entities={self.max_entities}, "
            f"max_features={self.max_features}, "
            f"redis_timeout={self.redis_timeout}, write_threads={self.write_threads}, "
            f"registry_refresh_seconds={self.registry_refresh_seconds}, workers={self.workers}, "
            f"header_timeout={self.header_timeout}, body_timeout={self.body_timeout}, "
            f"max_connections_per_client={self.max_connections_per_client}, "
            f"stale_header={self.stale_header})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if environ is None else environ
        return cls(
            api_keys=_list(env, "FEATURESTORE_API_KEYS"),
            cors_origins=_list(env, "FEATURESTORE_CORS_ORIGINS"),
            max_body_bytes=_number(env, "FEATURESTORE_MAX_BODY_BYTES", 1_048_576, int),
            max_entities=_number(env, "FEATURESTORE_MAX_ENTITIES", 1000, int),
            max_features=_number(env, "FEATURESTORE_MAX_FEATURES", 1000, int),
            redis_timeout=redis_timeout_from_env(env),
            write_threads=_number(env, "FEATURESTORE_WRITE_THREADS", 8, int),
            push_compact_seconds=_number(env, "FEATURESTORE_PUSH_COMPACT_SECONDS", 30.0, float),
            push_streams=env.get("FEATURESTORE_PUSH_STREAMS", ""),
            registry_refresh_seconds=_number(env, "FEATURESTORE_REGISTRY_REFRESH", 5.0, float),
            workers=_number(env, "FEATURESTORE_API_WORKERS", 1, int),
            header_timeout=_number(env, "FEATURESTORE_HEADER_TIMEOUT", 10.0, float),
            body_timeout=_number(env, "FEATURESTORE_BODY_TIMEOUT", 10.0, float),
            max_connections_per_client=_number(
                env, "FEATURESTORE_MAX_CONNECTIONS_PER_CLIENT", 256, int
            ),
            stale_header=_flag(env, "FEATURESTORE_STALE_HEADER"),
        )
