"""Real-time writes: push sources declared like jobs, checked rows, a durable log.

``featurestore.push.spec`` reads ``<jobs folder>/<name>.push``; ``validate`` checks rows;
``online`` writes them to Redis; ``wal`` logs them offline; ``compact`` folds the log into
the table; ``service`` is one write through all of them; ``stream`` consumes a Redis
Stream. From a notebook::

    from featurestore.push import push
    push("departure_status_push", frame, to="online_and_offline")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from featurestore.push.service import Rows, WriteResult


def push(
    source: str,
    rows: Rows,
    *,
    to: str = "online",
    on_bad_rows: str | None = None,
    project: Any = None,
) -> WriteResult:
    """Push ``rows`` (a DataFrame, an Arrow table or columns) through a push source of
    the project (default: the one found from the current folder). Each call opens the
    project's store and Redis; for many pushes keep one
    ``featurestore.push.service.PushService.for_project(project)`` and call its ``push``."""
    from featurestore.project import Project
    from featurestore.push.service import PushService

    found = project if isinstance(project, Project) else Project.find(project)
    service = PushService.for_project(found)
    try:
        return service.push(source, rows, to=to, on_bad_rows=on_bad_rows)
    finally:
        service.close()
