"""Point-in-time-correct training sets for a model (a feature service).

A label query (DuckDB SQL over the project's tables, for example ``FROM flights``)
gives the entity frame: the join keys, an ``event_timestamp`` and the label. The
offline store joins each row with the latest feature values known at that time.
The label query of feature service ``NAME`` lives in the project's labels folder,
``labels/NAME.sql``. It returns one row per training example: the join keys of the
service's entities, an ``event_timestamp`` (the moment the prediction would be made;
features are joined as of then), and any label or other columns, which pass through.

    build_training_set(...)   the training frame in memory (pandas)
    write_training_set(...)   streamed to Parquet, plus a manifest beside it

On the duckdb engine the label query runs inside DuckDB and is joined there: neither
helper loads the entity frame into Python first, and ``write_training_set`` never holds
the result. On the spark engine (the project's ``engine: spark``, or a command's
``--engine spark``; ``feature_store.yaml``'s ``offline_store.engine`` wins over both) the
label query still runs in DuckDB, its rows go to Spark through Arrow, the join runs
on Spark and the result is collected on the driver (``featurestore.spark.training``).
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pandas as pd
from feast import FeatureService, FeatureStore

from featurestore.engine import EngineConfig
from featurestore.errors import ConfigError, InvalidRequestError, UnknownFeatureServiceError
from featurestore.feast_plugins.offline_store import use_engine
from featurestore.offline import ProgressCallback, TrainingRetrievalJob
from featurestore.offline.manifest import Manifest, build_manifest, manifest_path
from featurestore.project import Project

__all__ = [
    "build_training_set",
    "entity_frame",
    "get_feature_service",
    "label_query",
    "label_query_path",
    "training_job",
    "training_set",
    "write_training_set",
]


def label_query_path(settings: Project, feature_service: str) -> Path:
    return settings.label_query_path(feature_service)


def label_query(settings: Project, feature_service: str, limit: int | None = None) -> str:
    """The service's label query (``labels/NAME.sql``), optionally limited to N rows."""
    path = label_query_path(settings, feature_service)
    if not path.is_file():
        raise ConfigError(f"no label query for {feature_service!r}: expected {path}")
    return limited(path.read_text(), limit)


def limited(label_sql: str, limit: int | None) -> str:
    body = label_sql.strip().rstrip(";")
    if limit is None:
        return body
    if limit < 0:
        raise InvalidRequestError(f"limit must be zero or more, got {limit}")
    return f"SELECT * FROM ({body}) AS labels LIMIT {int(limit)}"


def entity_frame(settings: Project, label_sql: str, limit: int | None = None) -> pd.DataFrame:
    """Run a label query over the project's tables into pandas; timestamps in UTC."""
    con = settings.connect()
    try:
        frame = con.execute(limited(label_sql, limit)).df()
    finally:
        con.close()
    if "event_timestamp" not in frame.columns:
        raise ConfigError("the label query must return an 'event_timestamp' column")
    ts = pd.to_datetime(frame["event_timestamp"], utc=True)
    frame["event_timestamp"] = ts.astype("datetime64[us, UTC]")
    return frame


def get_feature_service(store: FeatureStore, name: str) -> FeatureService:
    services = {s.name: s for s in store.list_feature_services()}
    if not services:
        raise ConfigError(
            f"no feature service {name!r}: the registry has none yet; run featurestore apply"
        )
    if name not in services:
        raise UnknownFeatureServiceError(name, known=list(services))
    return services[name]


def training_job(
    store: FeatureStore,
    feature_service_name: str,
    entity_df: pd.DataFrame | str,
    full_feature_names: bool = False,
    progress: ProgressCallback | None = None,
    engine: EngineConfig | None = None,
) -> TrainingRetrievalJob:
    """The retrieval job of a feature service over an entity frame (or label SQL).

    Every check (service, join keys, timestamp column, features) runs here, before
    any data is read. ``engine`` (a project's) runs it on that engine unless
    ``feature_store.yaml`` names one; without it, the repo's project decides.
    """
    service = get_feature_service(store, feature_service_name)
    with use_engine(engine) if engine is not None else nullcontext():
        job = store.get_historical_features(
            entity_df=entity_df, features=service, full_feature_names=full_feature_names
        )
    if not isinstance(job, TrainingRetrievalJob):
        raise ConfigError(
            "the training helpers need featurestore's offline store; feature_store.yaml "
            "names another (offline_store: type: "
            "featurestore.feast_plugins.offline_store.DuckDBAsofOfflineStore)"
        )
    job.progress = progress
    return job


def training_set(
    store: FeatureStore,
    feature_service: str,
    entity_df: pd.DataFrame | str,
    full_feature_names: bool = False,
) -> pd.DataFrame:
    """The feature service's features joined point-in-time onto ``entity_df``.

    Every entity row comes back once, in the order of ``entity_df``.
    """
    return training_job(store, feature_service, entity_df, full_feature_names).to_df()


def build_training_set(
    settings: Project,
    store: FeatureStore,
    feature_service: str,
    label_sql: str | None = None,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Label query (the service's ``labels/NAME.sql`` by default) plus its features, on
    ``settings``' engine (unless ``feature_store.yaml`` names one)."""
    get_feature_service(store, feature_service)
    sql = label_query(settings, feature_service) if label_sql is None else label_sql
    job = training_job(
        store, feature_service, limited(sql, limit), progress=progress, engine=settings.engine
    )
    return job.to_df()


def write_training_set(
    settings: Project,
    store: FeatureStore,
    feature_service: str,
    output: Path,
    label_sql: str | None = None,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
) -> Manifest:
    """Stream the training set to ``output`` (Parquet) and write its manifest beside it
    (``NAME.manifest.json``); the manifest is returned."""
    service = get_feature_service(store, feature_service)
    sql = label_query(settings, feature_service) if label_sql is None else label_sql
    sql = limited(sql, limit)
    job = training_job(store, feature_service, sql, progress=progress, engine=settings.engine)
    rows = job.to_parquet(output)
    manifest = build_manifest(
        store,
        service,
        features=job.metadata.features,
        label_sql=sql,
        window=(job.metadata.min_event_timestamp, job.metadata.max_event_timestamp),
        row_count=rows,
        output=output,
    )
    manifest.write(manifest_path(output))
    return manifest
