"""Historical retrieval: entity frame plus feature views in, a retrieval job out.

``retrieve`` is the whole offline path without Feast objects (``ViewSpec`` only);
``featurestore.feast_plugins.offline_store`` calls it for Feast's
``get_historical_features``. All checks run before any feature data is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
from feast.on_demand_feature_view import OnDemandFeatureView

from featurestore import sql
from featurestore.offline.entities import EntityInput, register_entities
from featurestore.offline.job import DuckDBRetrievalJob, JobContext
from featurestore.offline.join import Strategy, entity_stats, plan_join
from featurestore.offline.progress import ProgressCallback
from featurestore.offline.views import ViewSpec
from featurestore.project import Project


def connect(project: Project | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (``featurestore.sql.connect``); with ``project``, its raw
    sources and feature tables by name (so a SQL entity frame can say ``FROM orders``)."""
    return project.connect() if project is not None else sql.connect()


def retrieve(
    views: Sequence[ViewSpec],
    entity_df: EntityInput,
    *,
    project: Project | None = None,
    timestamp_column: str | None = None,
    feature_refs: Sequence[str] | None = None,
    full_feature_names: bool = False,
    on_demand_feature_views: Sequence[OnDemandFeatureView] = (),
    repo_path: Path | str | None = None,
    progress: ProgressCallback | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    strategy: Strategy = "auto",
) -> DuckDBRetrievalJob:
    """A job joining ``views`` point-in-time onto ``entity_df`` (see ``join`` for the rules).

    ``strategy`` picks phase 1 of the join per view: ``asof`` (sort-merge), ``range``
    (hash join within the TTL; views with a TTL only) or ``auto`` (an estimate decides).
    """
    owned = con is None
    con = con if con is not None else connect(project)
    try:
        entities = register_entities(con, entity_df, timestamp_column)
        stats = entity_stats(con, entities, [list(v.join_keys.values()) for v in views])
        plan = plan_join(con, entities, views, stats, strategy)
    except BaseException:
        if owned:
            con.close()  # a bad request must not leave a connection behind
        raise
    context = JobContext.of(
        views,
        entities,
        stats,
        feature_refs,
        full_feature_names=full_feature_names,
        on_demand_feature_views=on_demand_feature_views,
        repo_path=repo_path,
        progress=progress,
    )
    return DuckDBRetrievalJob(con, plan, context)
