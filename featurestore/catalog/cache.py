"""The catalog of a long-running process, rebuilt only when something it shows changes.

A catalog is made of three inputs: the registry, the SQL jobs and the feature tables.
``CatalogCache.get(registry_version)`` returns the catalog it built last as long as
all three are unchanged:

- the registry: the caller names its version, any object that changes when the registry
  is re-read (the API passes the online path's registry snapshot, which is replaced at
  each background refresh), compared by identity;
- the jobs: each job file's name, inode, size and modification time (``jobs_version``);
- the tables: each table's version (``stats.table_version``: a ``readlink`` for a table
  the runner writes).

Otherwise it builds a new catalog. Either way a table is scanned only when its version
is new to the cache (``TableStatsCache``), so a registry refresh or a job edit never
re-scans a table, and an ingest re-scans only the tables it committed. Calls are
serialized (one build at a time); the checks are ``stat`` calls, never a scan, but they
do touch the file system: the API calls this from its own thread, never from its event
loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from feast import FeatureStore

from featurestore.catalog.build import Catalog, build_catalog
from featurestore.catalog.jobs import jobs_version, load_jobs
from featurestore.catalog.model import JobInfo
from featurestore.catalog.stats import (
    TableScan,
    TableStats,
    TableStatsCache,
    TableVersion,
    scan_table,
    table_version,
)
from featurestore.project import Project


@dataclass(frozen=True)
class _Built:
    registry_version: object
    jobs_version: tuple[object, ...]
    table_versions: dict[str, TableVersion | None]
    catalog: Catalog

    def is_current(self, registry_version: object, jobs: tuple[object, ...]) -> bool:
        return (
            registry_version is self.registry_version
            and jobs == self.jobs_version
            and all(table_version(t) == v for t, v in self.table_versions.items())
        )


class CatalogCache:
    """The catalog of one store and project, cached by registry, job and table versions."""

    def __init__(
        self, store: FeatureStore, project: Project | None = None, scan: TableScan = scan_table
    ) -> None:
        self._store = store
        self._project = project or Project.for_repo(Path(store.repo_path))
        self._stats = TableStatsCache(scan)
        self._lock = threading.Lock()
        self._jobs: tuple[tuple[object, ...], dict[str, JobInfo]] | None = None
        self._built: _Built | None = None

    def get(self, registry_version: object) -> Catalog:
        """The catalog for the registry as of ``registry_version`` and the current jobs and
        tables (blocking: file system checks, and scans of new table versions)."""
        with self._lock:
            jobs_now = jobs_version(self._project)
            built = self._built
            if built is None or not built.is_current(registry_version, jobs_now):
                built = self._build(registry_version, jobs_now)
                self._built = built
            return built.catalog

    def _build(self, registry_version: object, jobs_now: tuple[object, ...]) -> _Built:
        if self._jobs is None or self._jobs[0] != jobs_now:
            self._jobs = (jobs_now, load_jobs(self._project))
        versions: dict[str, TableVersion | None] = {}

        def stats(table: str, timestamp_field: str) -> TableStats:
            versions[table], found = self._stats.get(table, timestamp_field)
            return found

        catalog = build_catalog(self._store, self._jobs[1], self._project, table_stats=stats)
        return _Built(registry_version, jobs_now, versions, catalog)
