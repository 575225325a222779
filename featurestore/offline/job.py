"""Feast ``RetrievalJob``s of our point-in-time join.

``TrainingRetrievalJob`` is what every engine's job shares: Feast's metadata, full
feature names, on-demand views (Feast's base class applies them in ``to_arrow()``),
a progress callback and ``persist()`` to a saved dataset's file location through the
engine's ``to_parquet()``. ``DuckDBRetrievalJob`` runs the DuckDB query;
``featurestore.spark.training.SparkRetrievalJob`` the Spark plan.

The DuckDB job owns its connection (which holds the registered entity frame) and runs
the query on demand: ``to_arrow()``/``to_df()`` in memory, ``to_batches()`` as a
stream of Arrow record batches, ``to_parquet()``/``persist()`` streamed by DuckDB
straight to a Parquet file (bounded memory: DuckDB spills to disk past its limit).
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from feast.errors import SavedDatasetLocationAlreadyExists
from feast.infra.offline_stores.file_source import SavedDatasetFileStorage
from feast.infra.offline_stores.offline_store import RetrievalJob, RetrievalMetadata
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.saved_dataset import SavedDatasetStorage

from featurestore.errors import InvalidRequestError
from featurestore.offline.entities import EntityFrame
from featurestore.offline.join import EntityStats, JoinPlan
from featurestore.offline.progress import ProgressCallback, run_with_progress
from featurestore.offline.views import ViewSpec
from featurestore.sql import path_literal as quote_path


@dataclass(frozen=True)
class JobContext:
    """What a retrieval job carries beside its engine's plan: Feast's metadata (the
    feature references, the entity frame's keys, its time window) and the caller's
    options."""

    feature_refs: list[str]
    keys: list[str]
    window: tuple[datetime | None, datetime | None]
    full_feature_names: bool = False
    on_demand_feature_views: Sequence[OnDemandFeatureView] = ()
    repo_path: Path | str | None = None
    progress: ProgressCallback | None = None

    @classmethod
    def of(
        cls,
        views: Sequence[ViewSpec],
        entities: EntityFrame,
        stats: EntityStats,
        feature_refs: Sequence[str] | None = None,
        *,
        full_feature_names: bool = False,
        on_demand_feature_views: Sequence[OnDemandFeatureView] = (),
        repo_path: Path | str | None = None,
        progress: ProgressCallback | None = None,
    ) -> JobContext:
        """The context of joining ``views`` onto ``entities``; without ``feature_refs``,
        every feature of every view, in order."""
        if feature_refs is None:
            feature_refs = [f"{v.name}:{f}" for v in views for f in v.features]
        return cls(
            feature_refs=list(feature_refs),
            keys=[c for c in entities.columns if c != entities.timestamp_column],
            window=(stats.start, stats.end),
            full_feature_names=full_feature_names,
            on_demand_feature_views=tuple(on_demand_feature_views),
            repo_path=repo_path,
            progress=progress,
        )


class JoinLayout(Protocol):
    """What every engine's join plan says about its result."""

    @property
    def columns(self) -> list[str]: ...

    @property
    def strategies(self) -> dict[str, str]: ...


class TrainingRetrievalJob(RetrievalJob):
    """What our retrieval jobs share, whichever engine computes the frame."""

    def __init__(self, layout: JoinLayout, context: JobContext) -> None:
        super().__init__()
        self._layout = layout
        self._metadata = RetrievalMetadata(
            features=list(context.feature_refs),
            keys=list(context.keys),
            min_event_timestamp=context.window[0],
            max_event_timestamp=context.window[1],
        )
        self._full_feature_names = context.full_feature_names
        self._odfvs = list(context.on_demand_feature_views)
        self._repo_path = context.repo_path
        self.progress = context.progress

    @property
    def columns(self) -> list[str]:
        """The result's columns, in order (before on-demand views add theirs)."""
        return list(self._layout.columns)

    @property
    def strategies(self) -> dict[str, str]:
        """Per feature view, how each entity row's feature row is found: ``asof``
        (sort-merge) or ``range`` (hash join within the TTL)."""
        return dict(self._layout.strategies)

    @abstractmethod
    def to_parquet(self, path: Path | str) -> int:
        """Write the result to one Parquet file (zstd); the number of rows written."""

    @property
    def full_feature_names(self) -> bool:
        return self._full_feature_names

    @property
    def on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        return self._odfvs

    @property
    def metadata(self) -> RetrievalMetadata:
        return self._metadata

    def persist(
        self,
        storage: SavedDatasetStorage,
        allow_overwrite: bool = False,
        timeout: int | None = None,
    ) -> None:
        """Write the result to a saved dataset's Parquet location.

        A location ending in ``.parquet`` is one file; any other is a folder holding
        ``part-0.parquet`` (readable as a hive-partitioned source).
        """
        if not isinstance(storage, SavedDatasetFileStorage):
            raise InvalidRequestError(
                f"this offline store persists to file storage only, not {type(storage).__name__}"
            )
        uri = storage.file_options.uri
        location = Path(uri)
        if not location.is_absolute() and self._repo_path is not None:
            location = Path(self._repo_path) / location
        if location.exists() and not allow_overwrite:
            raise SavedDatasetLocationAlreadyExists(location=uri)
        target = location if uri.endswith(".parquet") else location / "part-0.parquet"
        if target.exists():
            os.remove(target)
        self.to_parquet(target)


class DuckDBRetrievalJob(TrainingRetrievalJob):
    """The training frame, computed when asked for; ``progress`` reports long runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection, plan: JoinPlan, context: JobContext) -> None:
        super().__init__(plan, context)
        self._con = con
        self._plan = plan

    def to_sql(self) -> str:
        return self._plan.sql

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        return run_with_progress(
            self._con, lambda: self._con.sql(self._plan.sql).to_arrow_table(), self.progress
        )

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        return self._to_arrow_internal(timeout).to_pandas()

    def to_batches(self, batch_size: int = 122_880) -> pa.RecordBatchReader:
        """The result as a stream of record batches (on-demand views not applied).

        The job's connection is busy until the reader is exhausted or closed."""
        return self._con.sql(self._plan.sql).to_arrow_reader(batch_size)

    def to_parquet(self, path: Path | str) -> int:
        """Stream the result into one Parquet file (zstd); the number of rows written."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if self._odfvs:  # on-demand transformations run in Python on the whole frame
            table = self.to_arrow()
            pq.write_table(table, target, compression="zstd")
            return table.num_rows
        copy = (
            f"COPY ({self._plan.sql}) TO {quote_path(target)} "
            "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
        )
        row = run_with_progress(
            self._con, lambda: self._con.execute(copy).fetchone(), self.progress
        )
        return int(row[0]) if row else 0
