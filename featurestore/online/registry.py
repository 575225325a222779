"""What the online path needs from Feast's registry, as an immutable snapshot.

``RegistrySnapshot`` holds the feature views (their features, Redis hash fields, join keys
and TTLs), the feature services and the entity types of one project. ``RegistryCache``
keeps the current snapshot and replaces it from a background thread, so a ``feast apply``
shows up within the refresh interval without a restart and requests never wait for the
registry. A failed refresh keeps the last good snapshot and is reported by ``status()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from feast import FeatureStore

from featurestore.redis_layout import feature_field, ts_field
from featurestore.value_types import ValueType

__all__ = ["FeatureInfo", "Projection", "RegistryCache", "RegistrySnapshot", "ViewInfo"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureInfo:
    name: str
    field: bytes  # the Redis hash field of this feature


@dataclass(frozen=True)
class ViewInfo:
    """A feature view as the online path reads it."""

    name: str
    join_keys: tuple[str, ...]
    key_types: tuple[ValueType, ...]
    ttl_seconds: float | None  # None: values never expire
    features: dict[str, FeatureInfo]
    ts_field: bytes


@dataclass(frozen=True)
class Projection:
    """One feature view's part of a feature service."""

    view: str
    alias: str  # the name used for full feature names (the view's, unless aliased)
    features: tuple[str, ...]


@dataclass
class RegistrySnapshot:
    project: str
    views: dict[str, ViewInfo]
    services: dict[str, tuple[Projection, ...]]
    entity_types: dict[str, ValueType]
    unsupported_views: dict[str, str]  # view name -> why it cannot be served here
    loaded_at: float = field(default_factory=time.time)
    plans: dict[Any, Any] = field(default_factory=dict)  # request plans, per snapshot


def build_snapshot(store: FeatureStore) -> RegistrySnapshot:
    """Read the registry (through Feast's cache) into a snapshot."""
    project = store.project
    entity_types = {
        e.join_key: ValueType.of(e.value_type) for e in store.list_entities(allow_cache=True)
    }
    views: dict[str, ViewInfo] = {}
    unsupported: dict[str, str] = {}
    for view in store.list_feature_views(allow_cache=True):
        join_keys = tuple(column.name for column in view.entity_columns)
        if not join_keys:
            unsupported[view.name] = "feature views without entities are not served"
            continue
        ttl = view.ttl.total_seconds() if view.ttl else 0.0
        views[view.name] = ViewInfo(
            name=view.name,
            join_keys=join_keys,
            key_types=tuple(entity_types.get(k, ValueType.UNKNOWN) for k in join_keys),
            ttl_seconds=ttl if ttl > 0 else None,
            features={
                f.name: FeatureInfo(f.name, feature_field(view.name, f.name)) for f in view.features
            },
            ts_field=ts_field(view.name),
        )
    for odfv in store.list_on_demand_feature_views(allow_cache=True):
        unsupported[odfv.name] = "on-demand feature views are not served by this server"
    services: dict[str, tuple[Projection, ...]] = {}
    for service in store.registry.list_feature_services(project, allow_cache=True):
        services[service.name] = tuple(
            Projection(
                view=projection.name,
                alias=projection.name_to_use(),
                features=tuple(f.name for f in projection.features),
            )
            for projection in service.feature_view_projections
        )
    return RegistrySnapshot(project, views, services, entity_types, unsupported)


class RegistryCache:
    """The current registry snapshot, refreshed in the background."""

    def __init__(
        self,
        store: FeatureStore,
        loader: Callable[[FeatureStore], RegistrySnapshot] = build_snapshot,
    ) -> None:
        self._store = store
        self._loader = loader
        self._lock = threading.Lock()  # one refresh at a time
        self.last_error: str | None = None
        self.last_refresh = time.time()
        self.snapshot = loader(store)
        self._task: asyncio.Task[None] | None = None

    @property
    def store(self) -> FeatureStore:
        return self._store

    def refresh(self) -> bool:
        """Re-read the registry (blocking; call from a thread). False if it failed."""
        with self._lock:
            try:
                self._store.refresh_registry()
                snapshot = self._loader(self._store)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning("registry refresh failed, keeping the last snapshot: %s", exc)
                return False
            self.snapshot = snapshot
            self.last_error = None
            self.last_refresh = time.time()
            return True

    def start(self, interval: float) -> None:
        """Refresh every ``interval`` seconds in a worker thread (needs a running loop)."""
        if interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(interval))

    async def _loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(self.refresh)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
