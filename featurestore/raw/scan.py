"""The DuckDB table expressions that read file and DuckDB-database sources in place.

Files (Parquet, CSV, JSON and NDJSON): a ``read_parquet`` / ``read_csv`` / ``read_json``
call over one file, a glob as written, or a folder, which means every file of the format
below it, hive-partitioned (``orders/date=2024-01-01/part-0.parquet``). A CSV or JSON
source with declared columns is read with them as ``columns=``, so DuckDB infers
nothing; its ``options`` are passed through under DuckDB's own names.

A DuckDB database file is ATTACHed READ_ONLY under an alias derived from its path
(``_raw_app_1a2b3c4d``), once per connection however many sources read it; its ``table``
is read as ``alias.schema.table``, and its ``query`` has every table it names qualified
with the alias (``featurestore.raw.qualify``), so a view over it keeps reading that
database whatever the connection's current catalog.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import duckdb

from featurestore.errors import RawSourceError
from featurestore.raw.qualify import qualify_tables
from featurestore.raw.spec import Option, RawSource
from featurestore.sql import ident, literal, path_literal

READERS = {"parquet": "read_parquet", "csv": "read_csv", "json": "read_json"}
EXTENSIONS = {"parquet": "parquet", "csv": "csv", "json": "json"}


def file_pattern(source: RawSource) -> tuple[str, bool]:
    """The path or glob DuckDB reads, and whether it is hive-partitioned."""
    assert source.path is not None
    if source.is_glob:
        return str(source.path), True
    if source.path.is_dir():
        return str(source.path / "**" / f"*.{EXTENSIONS[source.format]}"), True
    return str(source.path), False


def file_relation(
    source: RawSource,
    *,
    columns: Mapping[str, str] | None = None,
    hive: bool | None = None,
    extra: Mapping[str, Option] | None = None,
) -> str:
    """``read_*(...)`` over the source's files; ``columns`` defaults to the declared ones."""
    pattern, partitioned = file_pattern(source)
    arguments = [path_literal(pattern)]
    if hive if hive is not None else partitioned:
        arguments.append("hive_partitioning = true")
    declared = source.columns if columns is None else columns
    if source.format in ("csv", "json") and declared:
        struct = ", ".join(f"{literal(name)}: {literal(t)}" for name, t in declared.items())
        arguments.append(f"columns = {{{struct}}}")
    for key, value in {**source.options, **(extra or {})}.items():
        arguments.append(f"{key} = {option_literal(value)}")
    return f"{READERS[source.format]}({', '.join(arguments)})"


def option_literal(value: Option) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return literal(value)


def database_relation(con: duckdb.DuckDBPyConnection, source: RawSource) -> str:
    """The table or query of a DuckDB database source, its file attached READ_ONLY."""
    alias = attach_database(con, source)
    if source.table is not None:
        parts = source.table.split(".")
        schema, table = (parts[0], parts[1]) if len(parts) == 2 else ("main", parts[0])
        return f"{ident(alias)}.{ident(schema)}.{ident(table)}"
    assert source.query is not None
    try:
        return f"({qualify_tables(con, source.query, alias)})"
    except ValueError as exc:
        raise RawSourceError(source.name, source.location, f"bad query: {exc}") from None


def attach_database(con: duckdb.DuckDBPyConnection, source: RawSource) -> str:
    """The alias of the source's database file on ``con``, attaching it if needed."""
    assert source.path is not None
    path = source.path.resolve()
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    alias = f"_raw_{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}_{digest}"
    attached = con.execute(
        "SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [alias]
    ).fetchone()
    if attached and attached[0]:
        return alias
    if not path.is_file():
        raise RawSourceError(source.name, source.location, "no such database file")
    try:
        con.execute(f"ATTACH {path_literal(path)} AS {ident(alias)} (READ_ONLY)")
    except duckdb.Error as exc:
        raise RawSourceError(source.name, source.location, first_line(exc)) from None
    return alias


def first_line(exc: BaseException) -> str:
    """An error's message on one line (DuckDB's and libpq's span several).

    DuckDB's echo of the SQL it was running (``LINE 1: DESCRIBE SELECT ... ^^^``) is
    dropped: that SQL is ours, not the user's. Other unprintable characters (a corrupt
    file's bytes quoted by the reader) are shown escaped.
    """
    text = _SQL_ECHO.split(str(exc), maxsplit=1)[0]
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(text.split()))


_SQL_ECHO = re.compile(r"\n\s*LINE \d+:")
