"""Point-in-time-correct training sets for a model (a feature service).

A label query (DuckDB SQL over the project's tables, for example ``FROM flights``)
gives the entity frame: the join keys, an ``event_timestamp`` and the label. Feast's
offline store joins each row with the latest feature values known at that time.
The label query of feature service ``NAME`` lives in ``feature_repo/labels/NAME.sql``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from feast import FeatureStore

from featurestore import tables
from featurestore.errors import ConfigError, UnknownFeatureServiceError
from featurestore.settings import Settings

_ROW = "__entity_row"


def label_query_path(settings: Settings, feature_service: str) -> Path:
    return settings.repo_path / "labels" / f"{feature_service}.sql"


def entity_frame(settings: Settings, label_sql: str, limit: int | None = None) -> pd.DataFrame:
    """Run a label query over the project's tables; timestamps come back as UTC."""
    con = tables.connect(settings.data_dir)
    try:
        query = f"SELECT * FROM ({label_sql.rstrip().rstrip(';')}) AS labels"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        frame = con.execute(query).df()
    finally:
        con.close()
    if "event_timestamp" not in frame.columns:
        raise ConfigError("the label query must return an 'event_timestamp' column")
    # Feast's DuckDB store rejects nanosecond timestamps; keep microseconds, in UTC.
    ts = pd.to_datetime(frame["event_timestamp"], utc=True)
    frame["event_timestamp"] = ts.astype("datetime64[us, UTC]")
    return frame


def training_set(
    store: FeatureStore,
    feature_service: str,
    entity_df: pd.DataFrame,
    full_feature_names: bool = False,
) -> pd.DataFrame:
    """The feature service's features joined point-in-time onto ``entity_df``.

    Every entity row comes back once, in the order of ``entity_df``.
    """
    services = {s.name: s for s in store.list_feature_services()}
    if feature_service not in services:
        raise UnknownFeatureServiceError(feature_service, known=list(services))
    if _ROW in entity_df.columns:
        raise ConfigError(f"the entity frame must not have a column named {_ROW!r}")
    numbered = entity_df.assign(**{_ROW: range(len(entity_df))})
    job = store.get_historical_features(
        entity_df=numbered,
        features=services[feature_service],
        full_feature_names=full_feature_names,
    )
    frame = job.to_df().sort_values(_ROW, kind="stable")
    return frame.drop(columns=_ROW).reset_index(drop=True)


def build_training_set(
    settings: Settings,
    store: FeatureStore,
    feature_service: str,
    label_sql: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Label query (the service's ``labels/NAME.sql`` by default) plus its features."""
    if label_sql is None:
        path = label_query_path(settings, feature_service)
        if not path.is_file():
            raise ConfigError(f"no label query for {feature_service!r}: expected {path}")
        label_sql = path.read_text()
    frame = entity_frame(settings, label_sql, limit=limit)
    return training_set(store, feature_service, frame)
