"""Historical retrieval: entity frame plus feature views in, a retrieval job out.

``retrieve`` is the whole offline path without Feast objects (``ViewSpec`` only);
``featurestore.feast_plugins.offline_store`` calls it for Feast's
``get_historical_features``. All checks run before any feature data is read.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb
from feast.on_demand_feature_view import OnDemandFeatureView

from featurestore import tables
from featurestore.offline.entities import EntityInput, register_entities
from featurestore.offline.job import DuckDBRetrievalJob
from featurestore.offline.join import Strategy, entity_stats, plan_join
from featurestore.offline.progress import ProgressCallback
from featurestore.offline.views import ViewSpec


def connect(data_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC; with ``data_dir``, the project's tables as views
    (so a SQL entity frame can say ``FROM flights``). Spills to the temp folder."""
    con = tables.connect(data_dir) if data_dir is not None else duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # Our own progress reporting replaces DuckDB's bar; in Jupyter without ipywidgets
    # DuckDB refuses to touch the setting (its bar is off there anyway).
    with contextlib.suppress(duckdb.Error):
        con.execute("SET enable_progress_bar = false")
    spill = Path(tempfile.gettempdir()) / "featurestore-duckdb"
    con.execute(f"SET temp_directory = {tables.quote_path(spill)}")
    return con


def retrieve(
    views: Sequence[ViewSpec],
    entity_df: EntityInput,
    *,
    data_dir: Path | None = None,
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
    con = con if con is not None else connect(data_dir)
    entities = register_entities(con, entity_df, timestamp_column)
    stats = entity_stats(con, entities, [list(v.join_keys.values()) for v in views])
    plan = plan_join(con, entities, views, stats, strategy)
    if feature_refs is None:
        feature_refs = [f"{v.name}:{f}" for v in views for f in v.features]
    return DuckDBRetrievalJob(
        con,
        plan,
        feature_refs=feature_refs,
        keys=[c for c in entities.columns if c != entities.timestamp_column],
        window=(stats.start, stats.end),
        full_feature_names=full_feature_names,
        on_demand_feature_views=on_demand_feature_views,
        repo_path=repo_path,
        progress=progress,
    )
