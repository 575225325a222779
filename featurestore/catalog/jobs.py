"""The SQL jobs that produce the feature tables, as the catalog shows them."""

from __future__ import annotations

from featurestore.catalog.model import JobInfo


def load_jobs() -> dict[str, JobInfo]:
    """Every job of the ingestion package, by name (views name theirs in the ``job`` tag)."""
    from ingestion import discover_jobs
    from ingestion.dag import upstream_of

    jobs = discover_jobs()
    return {
        name: JobInfo(
            name=job.name,
            path=str(job.path),
            description=job.description,
            grain=job.grain,
            upstream=upstream_of(job, jobs),
        )
        for name, job in jobs.items()
    }
