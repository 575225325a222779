"""``attach``: make raw sources readable by their names on a DuckDB connection.

Files and DuckDB database files become temp views (``featurestore.raw.scan``): nothing is
read until a query reads them, and every query reads the files as they are then.
SQLite and PostgreSQL sources are copied, streamed, into temp tables
(``featurestore.raw.adbc_read``): a snapshot taken at attach time, which is why a caller
attaches ``only`` the sources its query reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import duckdb

from featurestore.errors import RawSourceError
from featurestore.raw import adbc_read
from featurestore.raw.scan import database_relation, file_relation, first_line
from featurestore.raw.spec import FILE_FORMATS, RawSource, select
from featurestore.sql import ident


def attach(
    con: duckdb.DuckDBPyConnection,
    sources: Mapping[str, RawSource],
    only: Iterable[str] | None = None,
) -> list[str]:
    """Make each source (or each named in ``only``) readable by its name; the names attached.

    Names in ``only`` that are no source (a feature table, a CTE) are ignored. Raises
    ``RawSourceError`` for a source that cannot be read (missing file, database down...).
    """
    attached = []
    for source in select(sources, only):
        if source.format in ("sqlite", "postgres"):
            adbc_read.import_table(con, source)
        else:
            relation = relation_sql(con, source)
            try:
                con.execute(
                    f"CREATE OR REPLACE TEMP VIEW {ident(source.name)} AS SELECT * FROM {relation}"
                )
            except duckdb.Error as exc:
                raise RawSourceError(source.name, source.location, first_line(exc)) from None
        attached.append(source.name)
    return attached


def relation_sql(con: duckdb.DuckDBPyConnection, source: RawSource) -> str:
    """The table expression reading a file or DuckDB-database source in place."""
    if source.format in FILE_FORMATS:
        return file_relation(source)
    if source.format == "duckdb":
        return database_relation(con, source)
    raise ValueError(f"{source.format} sources are imported, not read in place")
