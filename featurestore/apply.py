"""Safe applies: plan first, refuse breaking changes, serialize writers.

``plan_apply`` compares the registry with the repo's definitions (see ``featurestore.plan``).
``apply`` refuses a breaking plan with a message naming the affected feature services,
then runs Feast's own apply while holding the project's apply lock, retrying when
another writer that does not take the lock (a plain ``feast apply``) changed the
registry in between (``ConcurrentRegistryUpdateError`` from our registry store).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from io import StringIO
from pathlib import Path

from feast import FeatureStore
from feast.infra.registry.registry import FeastObjectType
from feast.repo_operations import apply_total, parse_repo

from featurestore.definition_errors import reported_where_defined
from featurestore.errors import (
    BreakingChangeError,
    ConcurrentRegistryUpdateError,
)
from featurestore.feast_plugins.registry_store import exclusive_lock, registry_file
from featurestore.plan import Plan, Snapshot, describe_breaking, plan
from featurestore.project import Project
from featurestore.store import repo_config


def _forget_repo_modules(repo_path: Path) -> None:
    """Drop the repo's modules from ``sys.modules`` so edited definitions are read anew."""
    names = {
        ".".join(p.relative_to(repo_path).with_suffix("").parts) for p in repo_path.glob("**/*.py")
    }
    for name in names:
        sys.modules.pop(name, None)


@contextmanager
def _in_repo(repo_path: Path) -> Iterator[None]:
    """Feast imports repo files as modules named relative to the working directory."""
    cwd = Path.cwd()
    _forget_repo_modules(repo_path)
    os.chdir(repo_path)
    sys.path.insert(0, str(repo_path))
    try:
        yield
    finally:
        sys.path.remove(str(repo_path))
        os.chdir(cwd)
        _forget_repo_modules(repo_path)


def _registry_store(settings: Project) -> FeatureStore | None:
    """The project's store, or None before the first apply (opening it would then
    write an empty registry, and a plan writes nothing)."""
    config = repo_config(settings)
    if not registry_file(config.registry, settings.repo_path).exists():
        return None
    return FeatureStore(repo_path=str(settings.repo_path), config=config)


def current_snapshot(settings: Project) -> Snapshot:
    """The registry as it is now (empty when nothing was applied yet)."""
    store = _registry_store(settings)
    if store is None:
        return Snapshot(views={}, services={}, entities={})
    return Snapshot.of(FeastObjectType.get_objects_from_registry(store.registry, store.project))


def desired_snapshot(settings: Project) -> Snapshot:
    """The repo's Python definitions, every object Feast's apply would write."""
    with _in_repo(settings.repo_path), redirect_stdout(StringIO()):
        with reported_where_defined(settings.repo_path):
            contents = parse_repo(settings.repo_path)
        # Apply completes the objects before writing them (a source's timestamp field, a
        # view's features and entity columns from its source, the dummy entity's column);
        # the same inference makes the desired specs what apply will write. Before the
        # first apply there is nothing to compare them with: additions only.
        store = _registry_store(settings)
        if store is not None:
            store._make_inferences(
                contents.data_sources,
                contents.entities,
                contents.feature_views,
                contents.on_demand_feature_views,
                contents.stream_feature_views,
                contents.feature_services,
                contents.label_views,
            )
    return Snapshot.of(FeastObjectType.get_objects_from_repo_contents(contents))


def plan_apply(settings: Project) -> Plan:
    return plan(current_snapshot(settings), desired_snapshot(settings))


def apply_lock_path(settings: Project) -> Path:
    path = registry_file(repo_config(settings).registry, settings.repo_path)
    return path.with_name(path.name + ".apply.lock")


def apply(settings: Project, *, allow_breaking: bool = False, attempts: int = 5) -> Plan:
    """Plan, refuse breaking changes, then apply under the project's apply lock."""
    with exclusive_lock(apply_lock_path(settings)):
        result = plan_apply(settings)
        if result.breaking and not allow_breaking:
            services = [s for c in result.breaking for s in c.affected_services]
            raise BreakingChangeError(describe_breaking(result), services)
        for attempt in range(attempts):
            try:
                with (
                    _in_repo(settings.repo_path),
                    redirect_stdout(StringIO()),
                    reported_where_defined(settings.repo_path),
                ):
                    apply_total(repo_config(settings), settings.repo_path, False)
                return result
            except ConcurrentRegistryUpdateError:
                if attempt == attempts - 1:
                    raise
    return result
