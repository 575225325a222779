"""Reading SQLite and PostgreSQL sources with ADBC, Apache Arrow's database drivers.

DuckDB's sqlite and postgres extensions are downloaded at run time, which this product
cannot rely on, so these two formats are read by ``adbc-driver-sqlite`` and
``adbc-driver-postgresql``: the database sends Arrow record batches (PostgreSQL through
its binary COPY), and ``import_table`` streams them into a DuckDB temp table named after
the source, batch by batch, so memory stays bounded by a batch whatever the table size.

Before any row is read, ``arrow_schema`` gives the source's columns: PostgreSQL answers a
``LIMIT 0`` of the table or query; SQLite gives a table's declared types from its
catalog. A SQLite query has no declared types (ADBC infers each column's type from the
values), so its schema is that of its first 1,024 rows.

PostgreSQL types without an Arrow equivalent (``numeric``, ``json``, ...) come as Arrow
extension types; they are read as their storage (text), so DuckDB sees ``VARCHAR``.

Every driver error becomes a ``RawSourceError`` naming the source and its safe location,
scrubbed of the url's secrets (``featurestore.raw.urls.scrub``).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import adbc_driver_manager
import duckdb
import pyarrow as pa

from featurestore.errors import RawSourceError
from featurestore.raw.scan import first_line
from featurestore.raw.spec import RawSource
from featurestore.raw.urls import MissingVariableError, expand, scrub
from featurestore.sql import ident

SQLITE_SAMPLE_ROWS = 1024
_imports = itertools.count()


@contextlib.contextmanager
def connection(source: RawSource) -> Iterator[Any]:
    """An ADBC connection to the source's database; every failure a ``RawSourceError``."""
    url = ""
    try:
        if source.format == "postgres":
            assert source.url is not None
            url = expand(source.url)
            import adbc_driver_postgresql.dbapi as postgresql

            conn = postgresql.connect(url)
        else:
            assert source.path is not None
            if not source.path.is_file():
                raise RawSourceError(source.name, source.location, "no such database file")
            import adbc_driver_sqlite.dbapi as sqlite

            conn = sqlite.connect(f"file:{quote(str(source.path.resolve()))}?mode=ro")
        with conn:
            yield conn
    except MissingVariableError as exc:
        raise RawSourceError(source.name, source.location, str(exc)) from None
    except (adbc_driver_manager.Error, duckdb.Error, pa.ArrowException) as exc:
        problem = scrub(first_line(exc), url) if url else first_line(exc)
        raise RawSourceError(source.name, source.location, problem) from None


def source_query(source: RawSource) -> str:
    """The SQL, in the source database's dialect, that reads the whole source."""
    if source.table is not None:
        return "SELECT * FROM " + ".".join(ident(part) for part in source.table.split("."))
    assert source.query is not None
    return source.query.strip().rstrip(";")


def arrow_schema(source: RawSource) -> pa.Schema:
    """The source's columns as Arrow types, reading no rows where the database allows it."""
    with connection(source) as conn:
        if source.format == "sqlite" and source.table is not None:
            parts = source.table.split(".")
            schema = conn.adbc_get_table_schema(parts[-1])
        else:
            limit = 0 if source.format == "postgres" else SQLITE_SAMPLE_ROWS
            with conn.cursor() as cur:
                cur.execute(f"SELECT * FROM ({source_query(source)}) AS _q LIMIT {limit}")
                schema = cur.fetch_record_batch().schema
    return _plain_schema(schema)


def fetch(source: RawSource, limit: int) -> pa.Table:
    """The source's first ``limit`` rows."""
    with connection(source) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM ({source_query(source)}) AS _q LIMIT {int(limit)}")
        return _plain(cur.fetch_record_batch()).read_all()


def import_table(con: duckdb.DuckDBPyConnection, source: RawSource) -> None:
    """Stream the whole source into the temp table ``source.name`` on ``con``."""
    stream = f"_raw_stream_{next(_imports)}"
    with connection(source) as conn, conn.cursor() as cur:
        cur.execute(source_query(source))
        con.register(stream, _plain(cur.fetch_record_batch()))
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {ident(source.name)} AS "
                f"SELECT * FROM {ident(stream)}"
            )
        finally:
            con.unregister(stream)


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [
            pa.field(f.name, f.type.storage_type, f.nullable)
            if isinstance(f.type, pa.BaseExtensionType)
            else f.remove_metadata()
            for f in schema
        ]
    )


def _plain(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """The reader with extension columns as their storage, still streaming batch by batch."""
    if not any(isinstance(f.type, pa.BaseExtensionType) for f in reader.schema):
        return reader
    schema = _plain_schema(reader.schema)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            columns = [c.storage if isinstance(c, pa.ExtensionArray) else c for c in batch.columns]
            yield pa.RecordBatch.from_arrays(columns, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())
