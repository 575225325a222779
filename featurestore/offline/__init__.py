"""The offline store: point-in-time-correct retrieval in DuckDB over Parquet feature tables.

views.py      ViewSpec: what the join needs from a feature view
entities.py   the entity frame (pandas, Arrow, Parquet path or SQL) as a DuckDB view
join.py       the ASOF join's SQL and the checks that run before it
job.py        TrainingRetrievalJob (what every engine's job shares), DuckDBRetrievalJob
progress.py   progress of long queries
retrieval.py  retrieve(): all of the above in one call
manifest.py   the manifest written beside a training set
"""

from featurestore.offline.entities import EntityInput
from featurestore.offline.job import DuckDBRetrievalJob, TrainingRetrievalJob
from featurestore.offline.progress import ProgressBar, ProgressCallback
from featurestore.offline.retrieval import connect, retrieve
from featurestore.offline.views import ViewSpec, view_spec

__all__ = [
    "DuckDBRetrievalJob",
    "EntityInput",
    "ProgressBar",
    "ProgressCallback",
    "TrainingRetrievalJob",
    "ViewSpec",
    "connect",
    "retrieve",
    "view_spec",
]
