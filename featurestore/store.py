"""Opening the project's Feast ``FeatureStore`` with the settings' Redis address."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from feast import FeatureStore
from feast.repo_config import FeastConfigError, RepoConfig
from pydantic import ValidationError

from featurestore.errors import ConfigError
from featurestore.feast_plugins.redis_online_store import TYPE_NAME
from featurestore.project import Project, read_yaml_file
from featurestore.settings import parse_redis_url


def repo_config(settings: Project, redis_timeout: float | None = None) -> RepoConfig:
    """The repo's ``feature_store.yaml`` (read as Feast reads it), pointed at
    ``settings.redis_url`` (its ``connection_string`` and ``redis_type``: a cluster or
    sentinel URL becomes Feast's ``redis_cluster`` / ``redis_sentinel``) unless the YAML
    names a connection itself, and with every Redis call bounded by ``redis_timeout``
    (default: ``FEATURESTORE_REDIS_TIMEOUT``) unless the YAML sets ``redis_timeout``."""
    path = settings.repo_path / "feature_store.yaml"
    raw = _read(path)
    online = raw.get("online_store")
    if isinstance(online, dict) and online.get("type") == TYPE_NAME:
        if "connection_string" not in online:
            address = parse_redis_url(settings.redis_url)
            for name, value in address.feast_online_settings().items():
                online.setdefault(name, value)
        if redis_timeout is not None:
            online.setdefault("redis_timeout", redis_timeout)
    try:
        config = RepoConfig(**raw)
    except ValidationError as exc:
        raise FeastConfigError(exc, path) from None
    config.repo_path = settings.repo_path
    return config


def open_store(settings: Project, redis_timeout: float | None = None) -> FeatureStore:
    config = repo_config(settings, redis_timeout)
    return FeatureStore(repo_path=str(settings.repo_path), config=config)


def _read(path: Path) -> dict[str, Any]:
    """``feature_store.yaml`` as a mapping; an unreadable, empty or malformed file is one
    ``ConfigError`` naming it (and the line, for bad YAML)."""
    loaded = read_yaml_file(path, expand=True)
    if not loaded:
        raise ConfigError(f"{path} is empty: it needs Feast's settings (project: ...)")
    return loaded
