"""``describe`` and ``preview``: a raw source's columns and first rows, read from the source.

Both read the source itself (not what ``attach`` made of it), so they work on a fresh
connection: ``describe`` reads metadata only (Parquet footers, a CSV's sniffed sample or
its declared columns, a database's catalog or a ``LIMIT 0``), ``preview`` reads ``limit``
rows. An unreadable source raises ``RawSourceError``.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from featurestore.errors import RawSourceError
from featurestore.raw import adbc_read
from featurestore.raw.attach import relation_sql
from featurestore.raw.scan import first_line
from featurestore.raw.spec import RawSource


def describe(con: duckdb.DuckDBPyConnection, source: RawSource) -> list[tuple[str, str]]:
    """The source's columns as (name, DuckDB type), in order."""
    if source.format in ("sqlite", "postgres"):
        return arrow_columns(con, adbc_read.arrow_schema(source))
    return describe_sql(con, source, f"SELECT * FROM {relation_sql(con, source)}")


def preview(con: duckdb.DuckDBPyConnection, source: RawSource, limit: int = 10) -> pa.Table:
    """The source's first ``limit`` rows."""
    if source.format in ("sqlite", "postgres"):
        return adbc_read.fetch(source, limit)
    query = f"SELECT * FROM {relation_sql(con, source)} LIMIT {int(limit)}"
    try:
        return con.sql(query).to_arrow_table()
    except duckdb.Error as exc:
        raise RawSourceError(source.name, source.location, first_line(exc)) from None


def describe_sql(
    con: duckdb.DuckDBPyConnection, source: RawSource, query: str
) -> list[tuple[str, str]]:
    """(name, type) of ``query``'s columns; a DuckDB error becomes the source's error."""
    try:
        rows = con.execute(f"DESCRIBE {query}").fetchall()
    except duckdb.Error as exc:
        raise RawSourceError(source.name, source.location, first_line(exc)) from None
    return [(str(row[0]), str(row[1])) for row in rows]


def arrow_columns(con: duckdb.DuckDBPyConnection, schema: pa.Schema) -> list[tuple[str, str]]:
    """(name, type) of the columns DuckDB makes of Arrow data with ``schema``."""
    relation = con.from_arrow(schema.empty_table())
    return [
        (name, str(type_)) for name, type_ in zip(relation.columns, relation.types, strict=True)
    ]
