"""The order jobs run in: upstream jobs first, independent jobs in the same level.

A job's upstream jobs are the ones its header declares (``upstream: a, b``) or,
without that line, the jobs whose tables its SQL reads (found with DuckDB's parser).

``plan`` takes the job files as read (``job_spec.read_jobs``, broken ones included) and
judges each job alone: one with a bad header, a declared upstream that does not exist,
or on a cycle cannot run and is set aside with its error; the others are put in levels,
whether or not an upstream job is broken (the runner skips those, saying why). Only a
name that is no job file at all is refused outright. ``levels`` is the strict form: the
first job that cannot run raises.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from featurestore import sql
from featurestore.errors import IngestionError, MissingUpstreamError, UnknownJobError
from featurestore.job_spec import Job, JobFiles


@dataclass(frozen=True)
class RunPlan:
    """The selected jobs and everything upstream of them."""

    levels: list[list[Job]]  # the jobs that can run, upstream first
    upstream: dict[str, tuple[str, ...]]  # of each job in ``levels``
    broken: dict[str, IngestionError]  # the jobs that cannot run, by name


def upstream_of(job: Job, jobs: Collection[str]) -> tuple[str, ...]:
    """The jobs ``job`` reads, among the job names ``jobs`` (a dict of jobs will do)."""
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


def plan(selected: Iterable[str], found: JobFiles) -> RunPlan:
    """The run of the selected jobs and their upstream jobs; see the module docstring."""
    names = found.names
    wanted: dict[str, tuple[str, ...]] = {}
    broken: dict[str, IngestionError] = {}
    pending = list(selected)
    while pending:
        name = pending.pop()
        if name in wanted or name in broken:
            continue
        if name in found.broken:
            broken[name] = found.broken[name]
        elif name not in found.jobs:
            raise UnknownJobError(name, names)
        else:
            try:
                wanted[name] = upstream_of(found.jobs[name], names)
            except MissingUpstreamError as exc:
                broken[name] = exc
            else:
                pending.extend(wanted[name])
    done = set(broken)
    result: list[list[Job]] = []
    while not set(wanted) <= done:
        ready = sorted(n for n, ups in wanted.items() if n not in done and set(ups) <= done)
        if ready:
            result.append([found.jobs[n] for n in ready])
            done.update(ready)
            continue
        cycle = _cycles({n: ups for n, ups in wanted.items() if n not in done})
        for name in cycle:
            upstream = next(up for up in wanted[name] if up in cycle)
            broken[name] = MissingUpstreamError(
                name, found.jobs[name].path, upstream, f"forms a cycle among {', '.join(cycle)}"
            )
        done.update(cycle)
    return RunPlan(result, {n: ups for n, ups in wanted.items() if n not in broken}, broken)


def _cycles(graph: dict[str, tuple[str, ...]]) -> list[str]:
    """The jobs left when those no other job of ``graph`` reads are peeled off, repeatedly:
    the jobs on a cycle (and between cycles), sorted."""
    left = dict(graph)
    while True:
        read = {up for ups in left.values() for up in ups}
        tails = [name for name in left if name not in read]
        if not tails:
            return sorted(left)
        for name in tails:
            del left[name]


def levels(selected: Iterable[str], jobs: dict[str, Job]) -> list[list[Job]]:
    """The selected jobs and everything upstream of them, as levels to run in order;
    the first job that cannot run raises its error."""
    planned = plan(selected, JobFiles(jobs, {}))
    for error in planned.broken.values():
        raise error
    return planned.levels


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
