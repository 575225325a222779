"""Settings of a feature store project, read from the environment.

A project is a checkout with ``feature_repo/`` (the Feast repo) and ``data/``
(raw inputs, feature tables, the registry and the local Redis files) side by side.

Environment variables:
    FEATURESTORE_REPO_PATH   the Feast repo (default: ``feature_repo/`` of this checkout)
    FEATURESTORE_REDIS_URL   the online store, ``redis://host:port/db``
                             (default ``redis://127.0.0.1:6399/0``, the local Redis
                             that ``featurestore redis start`` runs)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from featurestore.errors import ConfigError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6399/0"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    repo_path: Path
    redis_url: str

    @property
    def data_dir(self) -> Path:
        """The project's data directory, beside the Feast repo."""
        return self.repo_path.parent / "data"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        repo = Path(env.get("FEATURESTORE_REPO_PATH") or PROJECT_ROOT / "feature_repo")
        repo = repo.expanduser().resolve()
        if not (repo / "feature_store.yaml").is_file():
            raise ConfigError(f"no feature_store.yaml in {repo} (set FEATURESTORE_REPO_PATH)")
        url = env.get("FEATURESTORE_REDIS_URL") or DEFAULT_REDIS_URL
        parse_redis_url(url)
        return cls(repo_path=repo, redis_url=url)


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
            f"FEATURESTORE_REDIS_URL must look like redis://host:port/db, got {url!r}"
        )
    path = parsed.path.lstrip("/")
    try:
        db = int(path) if path else 0
        port = parsed.port or 6379
    except ValueError as exc:
        raise ConfigError(f"bad Redis URL {url!r}: {exc}") from None
    return RedisAddress(
        host=parsed.hostname,
        port=port,
        db=db,
        password=parsed.password,
        ssl=parsed.scheme == "rediss",
    )


def redis_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("FEATURESTORE_REDIS_URL") or DEFAULT_REDIS_URL
