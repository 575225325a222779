"""The SQL jobs that produce the feature tables, as the catalog shows them."""

from __future__ import annotations

import os

from featurestore.catalog.model import JobInfo
from featurestore.job_graph import upstream_of
from featurestore.job_spec import discover_jobs
from featurestore.project import Project


def load_jobs(project: Project) -> dict[str, JobInfo]:
    """Every job of the project, by name (views name theirs in the ``job`` tag); paths are
    relative to the project folder."""
    jobs = discover_jobs(project.jobs_dir) if project.jobs_dir.is_dir() else {}
    return {
        name: JobInfo(
            name=job.name,
            path=project.relative(job.path),
            description=job.description,
            grain=job.grain,
            upstream=upstream_of(job, jobs),
        )
        for name, job in jobs.items()
    }


def jobs_version(project: Project) -> tuple[tuple[str, int, int, int], ...]:
    """What identifies the jobs folder's contents: each job file's name, inode, size and
    modification time (any edit, addition or removal changes it)."""
    if not project.jobs_dir.is_dir():
        return ()
    found = []
    for path in sorted(project.jobs_dir.glob("*.sql")):
        st = os.stat(path)
        found.append((path.name, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(found)
