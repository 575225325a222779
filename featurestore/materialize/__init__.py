"""Materialization into Redis at the speed of Redis, in bounded memory.

DuckDB picks the latest row per entity in the window (``query``), Arrow kernels turn a
batch into Feast's Redis keys, ``Value`` and ``Timestamp`` bytes (``keys``, ``values``,
``timestamps``) and into RESP commands (``resp``), and one connection writes them with
Feast's newer-event-time-wins rule (``writer``). ``engine.materialize_view`` ties them
together for one feature view; ``featurestore.feast_plugins.batch_engine`` is the Feast
batch engine that calls it.
"""

from featurestore.materialize.engine import MaterializeOptions, check_window, materialize_view
from featurestore.materialize.plan import ViewPlan
from featurestore.materialize.progress import ViewStats
from featurestore.materialize.query import DuckDBOptions

__all__ = [
    "DuckDBOptions",
    "MaterializeOptions",
    "ViewPlan",
    "ViewStats",
    "check_window",
    "materialize_view",
]
