"""Raw sources: the data a project's SQL reads by name (``FROM orders``).

A project file declares them under ``sources:``; this package parses that mapping, makes
the sources readable by name on a DuckDB connection, checks them against their declared
columns and shows them. It knows nothing of Feast, the job runner or the HTTP layer.

- ``spec.py``: ``RawSource`` and ``parse_sources`` (every mistake, one line each).
- ``urls.py``: ``${VAR}`` in database urls, expanded only when connecting; passwords
  shown as ``***`` and scrubbed from driver errors.
- ``scan.py``: the ``read_parquet`` / ``read_csv`` / ``read_json`` expression of a file
  source, and a DuckDB database file ATTACHed READ_ONLY (``qualify.py`` points a query's
  tables at it).
- ``adbc_read.py``: SQLite and PostgreSQL through ADBC, Arrow batches streamed into a
  DuckDB temp table.
- ``attach.py``: ``attach``, the one entry point that registers sources on a connection.
- ``check.py``: ``check`` and ``check_sources``, the declared-schema checks.
- ``describe.py``: ``describe`` (columns and DuckDB types) and ``preview`` (first rows).
"""

from featurestore.raw.attach import attach
from featurestore.raw.check import check, check_sources
from featurestore.raw.describe import describe, preview
from featurestore.raw.spec import FORMATS, RawSource, parse_sources

__all__ = [
    "FORMATS",
    "RawSource",
    "attach",
    "check",
    "check_sources",
    "describe",
    "parse_sources",
    "preview",
]
