"""The order jobs run in: upstream jobs first, independent jobs in the same level.

A job's upstream jobs are the ones its header declares (``upstream: a, b``) or,
without that line, the jobs whose tables its SQL reads (found with DuckDB's parser).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from featurestore import sql
from featurestore.errors import MissingUpstreamError, UnknownJobError
from featurestore.job_spec import Job


def upstream_of(job: Job, jobs: dict[str, Job]) -> tuple[str, ...]:
    if job.upstream is not None:
        for name in job.upstream:
            if name not in jobs:
                known = ", ".join(sorted(jobs))
                raise MissingUpstreamError(
                    job.name, job.path, name, f"does not exist; known jobs: {known}"
                )
        return job.upstream
    referenced = tables_read(job)
    return tuple(sorted(name for name in referenced if name in jobs and name != job.name))


def levels(selected: Iterable[str], jobs: dict[str, Job]) -> list[list[Job]]:
    """The selected jobs and everything upstream of them, as levels to run in order."""
    wanted: dict[str, tuple[str, ...]] = {}
    pending = list(selected)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        if name not in jobs:
            raise UnknownJobError(name, list(jobs))
        wanted[name] = upstream_of(jobs[name], jobs)
        pending.extend(wanted[name])
    done: set[str] = set()
    result: list[list[Job]] = []
    while len(done) < len(wanted):
        ready = sorted(n for n, ups in wanted.items() if n not in done and set(ups) <= done)
        if not ready:
            stuck = sorted(set(wanted) - done)
            job = jobs[stuck[0]]
            raise MissingUpstreamError(
                job.name, job.path, wanted[stuck[0]][0], f"forms a cycle among {', '.join(stuck)}"
            )
        result.append([jobs[n] for n in ready])
        done.update(ready)
    return result


def tables_read(job: Job) -> set[str]:
    """The tables the job's SQL names (empty if it does not parse)."""
    con = sql.connect()
    try:
        (row,) = con.execute("SELECT json_serialize_sql(?)", [_without_params(job.sql)]).fetchall()
    finally:
        con.close()
    tree = json.loads(row[0]) if row else {}
    if tree.get("error"):
        return set()  # the runner reports the syntax error with its line
    found: set[str] = set()
    ctes: set[str] = set()
    _walk(tree, found, ctes)
    return found - ctes


def _without_params(sql: str) -> str:
    return sql.replace("$start", "NULL").replace("$end", "NULL")


def _walk(node: object, found: set[str], ctes: set[str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE" and isinstance(node.get("table_name"), str):
            found.add(node["table_name"])
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            ctes.update(entry["key"] for entry in cte_map.get("map", []))
        for value in node.values():
            _walk(value, found, ctes)
    elif isinstance(node, list):
        for value in node:
            _walk(value, found, ctes)
