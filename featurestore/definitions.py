"""Feast definitions derived from a feature job's header, so nothing is said twice.

The header of ``<jobs folder>/<job>.sql`` declares the table's columns, types and
descriptions; the project's Feast repo builds its sources and feature views from it::

    weather_hourly = job_feature_view(
        "weather_hourly", repo_path=REPO, entities=[airport], ttl=timedelta(hours=3)
    )

``repo_path`` is the Feast repo; the project around it (``featurestore.project``) says
where the jobs and the feature tables are. The view records its job in the ``job`` tag,
which the catalog's lineage reads. A view that names a column the job does not produce
fails at import, so ``feast apply`` stops with ``UnknownJobColumnError`` naming the job
file and its columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import feast.types
from feast import Entity, FeatureView, Field, FileSource, PushSource

from featurestore.errors import JobDefinitionError, UnknownJobColumnError
from featurestore.job_spec import Column, Job, find_job
from featurestore.project import Project
from featurestore.push.spec import PushSpec, find_push


def job_table_path(repo_path: Path, job: str) -> Path:
    """The feature table of ``job`` in the project whose Feast repo is ``repo_path``."""
    return Project.for_repo(repo_path).layout.table(job)


def job_source(job: str | Job, repo_path: Path) -> FileSource:
    """A FileSource over every partition of the job's table (an absolute path)."""
    project = Project.for_repo(repo_path)
    spec = _job(job, project)
    return FileSource(
        name=f"{spec.name}_source",
        path=str(project.layout.table(spec.name)),
        timestamp_field=spec.timestamp,
        description=f"Feature table written by {project.relative(spec.path)}",
    )


def job_fields(
    job: str | Job, features: Sequence[str] | None = None, *, jobs_dir: Path | None = None
) -> list[Field]:
    """Feast fields for the job's entity keys and the named features (default: all);
    a job given by name is read from ``jobs_dir``."""
    if isinstance(job, Job):
        spec = job
    elif jobs_dir is None:
        raise JobDefinitionError(Path(f"{job}.sql"), "job_fields needs jobs_dir for a job name")
    else:
        spec = find_job(job, jobs_dir)
    declared = spec.column_map
    if not declared:
        raise JobDefinitionError(
            spec.path, "declare the output columns (-- column: NAME TYPE) to derive a feature view"
        )
    names = list(features) if features is not None else [c.name for c in spec.features]
    unknown = [name for name in names if name not in declared or name == spec.timestamp]
    if unknown:
        known = [c.name for c in spec.features]
        raise UnknownJobColumnError(spec.name, spec.path, unknown, known)
    keys = [declared[name] for name in spec.entities]
    return [_field(column) for column in (*keys, *(declared[n] for n in names))]


def job_feature_view(
    job: str,
    *,
    repo_path: Path,
    entities: Iterable[Entity],
    ttl: timedelta,
    features: Sequence[str] | None = None,
    **kwargs: Any,
) -> FeatureView:
    """A feature view named after the job, over its table, with its declared columns.

    ``kwargs`` go to ``FeatureView`` (description, owner, tags, online...); the
    description defaults to the job's, and the ``job`` tag (the catalog's lineage) is
    the job's name.
    """
    spec = _job(job, Project.for_repo(repo_path))
    kwargs.setdefault("description", spec.description)
    kwargs["tags"] = {**(kwargs.get("tags") or {}), "job": spec.name}
    return FeatureView(
        name=spec.name,
        entities=list(entities),
        ttl=ttl,
        schema=job_fields(spec, features),
        source=job_source(spec, repo_path),
        **kwargs,
    )


def _job(job: str | Job, project: Project) -> Job:
    return job if isinstance(job, Job) else find_job(job, project.jobs_dir)


def _field(column: Column) -> Field:
    dtype = getattr(feast.types, column.feast_type)
    return Field(name=column.name, dtype=dtype, description=column.description)


def push_source(name: str | PushSpec, repo_path: Path) -> PushSource:
    """The Feast push source ``<name>_push`` declared by ``<jobs folder>/<name>.push``;
    its batch source is the feature table that compaction folds pushed rows into."""
    project = Project.for_repo(repo_path)
    spec = name if isinstance(name, PushSpec) else find_push(name, project.jobs_dir)
    return PushSource(
        name=spec.source_name,
        batch_source=job_source(spec.job, repo_path),
        description=f"Rows pushed as events happen, declared by {project.relative(spec.job.path)}",
    )


def push_feature_view(
    name: str,
    *,
    repo_path: Path,
    entities: Iterable[Entity],
    ttl: timedelta,
    features: Sequence[str] | None = None,
    **kwargs: Any,
) -> FeatureView:
    """A feature view fed by the push source ``<name>_push``, with the columns its
    declaration (``<jobs folder>/<name>.push``) lists; the ``push`` tag names it."""
    spec = find_push(name, Project.for_repo(repo_path).jobs_dir)
    kwargs.setdefault("description", spec.job.description)
    kwargs["tags"] = {**(kwargs.get("tags") or {}), "push": spec.name}
    return FeatureView(
        name=spec.name,
        entities=list(entities),
        ttl=ttl,
        schema=job_fields(spec.job, features),
        source=push_source(spec, repo_path),
        **kwargs,
    )
