"""Online against offline: do the values Redis serves equal the offline latest rows?

For each feature view that was materialized, as of the end of its last materialization:

1. the offline latest row per entity, by the materializer's own query
   (``featurestore.materialize.query.latest_rows``: Feast's rules, over the window from
   the first materialization's start to the last one's end, both included);
2. up to ``sample`` of those entities, the same ones for the same ``seed`` and data
   (drawn from the entities in key order);
3. the same entities read online by the API's lookup (``featurestore.online.OnlineLookup``:
   the same plan, pipelined ``HMGET`` and decoding as ``/get-online-features``);
4. per feature, a value by value comparison *as stored*: the offline value goes through
   the materializer's encoder (``featurestore.materialize.values.encode_values``, so a
   DOUBLE column feeding a Float32 feature is rounded as it was when written) and the
   API's decoder, then is compared exactly with the online one (``-0.0`` differs from
   ``0.0``, as their bytes do; a null equals a null).

An entity with no row online for the view counts in ``missing_online``, not in
``mismatches``. A view never materialized is reported with nothing sampled; a view our
engine does not materialize (not a file source, a transformation) is left out, or
refused when asked for by name. The check only reads: no table and no Redis key changes.
Memory grows with the view's entities (the latest rows are held to draw the sample).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from featurestore.errors import InvalidRequestError, UnknownFeatureViewError, UnsupportedViewError
from featurestore.monitor.model import FeatureConsistency
from featurestore.project import Project

if TYPE_CHECKING:
    from feast import FeatureStore, FeatureView

    from featurestore.materialize.plan import Column, ViewPlan
    from featurestore.online import OnlineLookup

__all__ = ["consistency_report"]

_READ_BATCH = 500  # entities per online read (one pipeline each)
_QUERY_BATCH = 20_000


def consistency_report(
    project: Project,
    store: FeatureStore,
    views: Sequence[str] | None = None,
    sample: int = 1000,
    seed: int = 0,
) -> list[FeatureConsistency]:
    """Per feature of each view (default: every materialized view), how many of up to
    ``sample`` entities have an online value that differs from the offline latest."""
    from featurestore.online import OnlineLookup, RegistryCache
    from featurestore.redis_client import online_client
    from featurestore.settings import parse_redis_url, redis_timeout_from_env

    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise InvalidRequestError(f"sample must be a whole number of entities above 0: {sample!r}")
    registered = {v.name: v for v in store.list_feature_views(allow_cache=True)}
    if views:
        unknown = [name for name in views if name not in registered]
        if unknown:
            raise UnknownFeatureViewError(unknown, list(registered))
        chosen = [registered[name] for name in dict.fromkeys(views)]
    else:
        chosen = [registered[name] for name in sorted(registered)]
    client = online_client(parse_redis_url(project.redis_url), redis_timeout_from_env())
    lookup = OnlineLookup(RegistryCache(store), client)
    report: list[FeatureConsistency] = []
    try:
        for view in chosen:
            try:
                plan = _plan(store, view)
            except UnsupportedViewError:
                if views:
                    raise
                continue
            report += _check_view(lookup, plan, view, sample, seed)
    finally:
        lookup.close()
    return report


def _plan(store: FeatureStore, view: FeatureView) -> ViewPlan:
    from featurestore.materialize.plan import ViewPlan

    entities = [store.registry.get_entity(name, store.project) for name in view.entities]
    return ViewPlan.from_feature_view(store.project, view, entities, store.config.repo_path)


def _check_view(
    lookup: OnlineLookup, plan: ViewPlan, view: FeatureView, sample: int, seed: int
) -> list[FeatureConsistency]:
    intervals = [(_utc(start), _utc(end)) for start, end in view.materialization_intervals]
    if not intervals:
        return [FeatureConsistency(plan.view, c.name, 0, 0, 0) for c in plan.features]
    start = min(start for start, _ in intervals)
    end = max(end for _, end in intervals)
    rows = _sampled(_latest(plan, start, end), sample, seed)
    mismatches = [0] * len(plan.features)
    missing = [0] * len(plan.features)
    for offset in range(0, rows.num_rows, _READ_BATCH):
        chunk = rows.slice(offset, _READ_BATCH)
        offline = [_as_stored(chunk.column(c.name), c) for c in plan.features]
        online = _online(lookup, plan, chunk)
        for i, (expected, (values, statuses)) in enumerate(zip(offline, online, strict=True)):
            for want, got, status in zip(expected, values, statuses, strict=True):
                if status == "NOT_FOUND":
                    missing[i] += 1
                elif not _same(want, got):
                    mismatches[i] += 1
    return [
        FeatureConsistency(plan.view, c.name, rows.num_rows, mismatches[i], missing[i])
        for i, c in enumerate(plan.features)
    ]


def _latest(plan: ViewPlan, start: datetime, end: datetime) -> pa.Table:
    """The offline latest row per entity in ``[start, end]``, by the materializer's query."""
    from featurestore.materialize.query import DuckDBOptions, connect, latest_rows

    con = connect(DuckDBOptions(threads=1))
    try:
        batches = list(latest_rows(con, plan, start, end, _QUERY_BATCH))
    finally:
        con.close()
    keys = [c.name for c in plan.join_keys]
    names = [*keys, *(c.name for c in plan.features)]
    if not batches:
        return pa.table({name: pa.array([], pa.null()) for name in names})
    table = pa.Table.from_batches(batches).select(names)
    return table.take(pc.sort_indices(table, [(key, "ascending") for key in keys]))


def _sampled(rows: pa.Table, sample: int, seed: int) -> pa.Table:
    """Up to ``sample`` rows, drawn by ``seed`` from the rows in key order."""
    if rows.num_rows <= sample:
        return rows
    chosen = sorted(random.Random(seed).sample(range(rows.num_rows), sample))
    return rows.take(pa.array(chosen, pa.int64()))


def _as_stored(column: pa.ChunkedArray, feature: Column) -> list[Any]:
    """Offline values as the API would serve them once materialized."""
    from featurestore.materialize.values import encode_values
    from featurestore.online.codec import decode_value

    encoded = encode_values(column, feature.value_type)
    return [decode_value(raw)[0] for raw in encoded.to_pylist()]


def _online(
    lookup: OnlineLookup, plan: ViewPlan, rows: pa.Table
) -> list[tuple[list[Any], list[str]]]:
    """(values, statuses) of each feature of ``plan`` for the entities in ``rows``."""
    entities = {c.name: rows.column(c.name).to_pylist() for c in plan.join_keys}
    refs = [f"{plan.view}:{c.name}" for c in plan.features]
    document = lookup.get_online_features(entities, features=refs, full_feature_names=True)
    results = document["results"][len(entities) :]
    return [(r["values"], r["statuses"]) for r in results]


def _same(offline: Any, online: Any) -> bool:
    """Exact equality of two decoded values (``-0.0`` is not ``0.0``; ``1`` is not ``True``)."""
    if type(offline) is not type(online):
        return False
    if isinstance(offline, float):
        return offline == online and math.copysign(1.0, offline) == math.copysign(1.0, online)
    return bool(offline == online)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
