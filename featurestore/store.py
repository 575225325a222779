"""Opening the project's Feast ``FeatureStore`` with the settings' Redis address."""

from __future__ import annotations

import os

import yaml
from feast import FeatureStore
from feast.repo_config import FeastConfigError, RepoConfig
from pydantic import ValidationError

from featurestore.feast_plugins.redis_online_store import TYPE_NAME
from featurestore.project import Project
from featurestore.settings import parse_redis_url


def repo_config(settings: Project) -> RepoConfig:
    """The repo's ``feature_store.yaml`` (read as Feast reads it), pointed at
    ``settings.redis_url`` unless the YAML names a connection itself."""
    path = settings.repo_path / "feature_store.yaml"
    raw = yaml.safe_load(os.path.expandvars(path.read_text()))
    online = raw.get("online_store")
    if isinstance(online, dict) and online.get("type") == TYPE_NAME:
        address = parse_redis_url(settings.redis_url)
        online.setdefault("connection_string", address.feast_connection_string())
    try:
        config = RepoConfig(**raw)
    except ValidationError as exc:
        raise FeastConfigError(exc, path) from None
    config.repo_path = settings.repo_path
    return config


def open_store(settings: Project) -> FeatureStore:
    return FeatureStore(repo_path=str(settings.repo_path), config=repo_config(settings))
