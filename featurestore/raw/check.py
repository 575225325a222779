"""Schema checks: does each raw source still have the columns its project file declares?

``check`` compares the source's columns with the declared ones, case-insensitively as
DuckDB does, and returns one problem per column: declared but missing; present but not
declared, when a declared one is missing (a rename shows as both); of another type.
Parquet, DuckDB, SQLite and PostgreSQL sources are checked before any row is read
(``featurestore.raw.describe``; for Parquet, every file's footer, so one changed file in a
folder is caught). A source without declared columns has nothing to check.

CSV and JSON carry no types, and their declared columns are the types they are READ
with, so a check reads the values: names first (the header DuckDB sniffs, or the keys of
JSON's first objects; for CSV an undeclared column is always a problem, since the reader
expects exactly the declared ones), then every value. CSV goes through DuckDB's own CSV
reader with the declared columns and ``store_rejects``, so the check fails exactly where
a query would, with the column, line and value; JSON is read as text and each value
``TRY_CAST`` to its declared type.

``check_sources`` raises ``RawSchemaDriftError`` for the first source with problems.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import duckdb

from featurestore.errors import RawSchemaDriftError, RawSourceError
from featurestore.raw.describe import describe, describe_sql
from featurestore.raw.scan import file_relation, first_line
from featurestore.raw.spec import Option, RawSource, select
from featurestore.sql import ident

REJECTS_LIMIT = 1000
_SNIFF_OPTIONS: dict[str, dict[str, Option] | None] = {"csv": {"all_varchar": True}, "json": None}
_scans = itertools.count()


def check(con: duckdb.DuckDBPyConnection, source: RawSource) -> list[str]:
    """What differs between the source's columns and its declared ones (empty if none)."""
    declared = source.columns
    if declared is None:
        return []
    if source.format in ("csv", "json"):
        sniffed = file_relation(
            source,
            columns={},
            hive=False,
            extra=_SNIFF_OPTIONS[source.format],
        )
        found = describe_sql(con, source, f"SELECT * FROM {sniffed}")
        problems = _name_problems(declared, found, strict=source.format == "csv")
        if problems:
            return problems
        if source.format == "csv":
            return _csv_value_problems(con, source, declared)
        return _json_value_problems(con, source, declared)
    if source.format == "parquet":
        # Every file's columns, not only the first file's: a folder or glob where one
        # file changed a type reads as the type both convert to (union_by_name).
        every = file_relation(source, extra={"union_by_name": True})
        found = describe_sql(con, source, f"SELECT * FROM {every}")
    else:
        found = describe(con, source)
    problems = _name_problems(declared, found, strict=False)
    actual = {name.lower(): type_ for name, type_ in found}
    for name, type_ in declared.items():
        got = actual.get(name.lower())
        if got is not None and got != type_:
            problems.append(f"column {name!r} is {got}, declared {type_}")
    return problems


def check_sources(
    con: duckdb.DuckDBPyConnection,
    sources: Mapping[str, RawSource],
    only: Iterable[str] | None = None,
) -> None:
    """Check each source (or those in ``only``); ``RawSchemaDriftError`` at the first drift."""
    for source in select(sources, only):
        problems = check(con, source)
        if problems:
            raise RawSchemaDriftError(source.name, source.location, problems)


def _name_problems(
    declared: Mapping[str, str], found: list[tuple[str, str]], *, strict: bool
) -> list[str]:
    present = {name.lower() for name, _ in found}
    wanted = {name.lower() for name in declared}
    problems = [
        f"column {name!r} is missing (declared {type_})"
        for name, type_ in declared.items()
        if name.lower() not in present
    ]
    if problems or strict:
        problems += [
            f"column {name!r} is not declared ({type_})" + ("; renamed?" if problems else "")
            for name, type_ in found
            if name.lower() not in wanted
        ]
    return problems


def _csv_value_problems(
    con: duckdb.DuckDBPyConnection, source: RawSource, declared: Mapping[str, str]
) -> list[str]:
    n = next(_scans)
    table, scan = f"_raw_rejects_{n}", f"_raw_reject_scans_{n}"
    relation = file_relation(
        source,
        extra={
            "store_rejects": True,
            "rejects_table": table,
            "rejects_scan": scan,
            "rejects_limit": REJECTS_LIMIT,
        },
    )
    counts = ", ".join(f"count({ident(name)})" for name in declared)
    try:
        con.execute(f"SELECT {counts} FROM {relation}").fetchall()
        rows = con.execute(
            f"""SELECT column_name, count(*), min(line), arg_min(csv_line, line),
                       arg_min(error_type, line), arg_min(error_message, line)
                FROM {ident(table)} GROUP BY column_name ORDER BY min(line)"""
        ).fetchall()
    except duckdb.Error as exc:
        raise RawSourceError(source.name, source.location, first_line(exc)) from None
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.{ident(table)}")
        con.execute(f"DROP TABLE IF EXISTS temp.{ident(scan)}")
    types = {name.lower(): type_ for name, type_ in declared.items()}
    problems = []
    for column, count, line, text, error_type, message in rows:
        many = "at least " if count >= REJECTS_LIMIT else ""
        if error_type == "CAST" and column:
            problems.append(
                f"column {column!r}: {many}{count:,} value(s) do not parse as "
                f"{types.get(str(column).lower(), '?')} (first on line {line}: {text!r})"
            )
        else:
            where = f"column {column!r}: " if column else ""
            problems.append(f"{where}line {line}: {first_line(Exception(message))}")
    return problems


def _json_value_problems(
    con: duckdb.DuckDBPyConnection, source: RawSource, declared: Mapping[str, str]
) -> list[str]:
    typed = {name: type_ for name, type_ in declared.items() if type_ != "VARCHAR"}
    if not typed:
        return []
    relation = file_relation(source, columns={name: "VARCHAR" for name in declared})
    bad = [
        f"{ident(c)} IS NOT NULL AND TRY_CAST({ident(c)} AS {t}) IS NULL" for c, t in typed.items()
    ]
    selects = ", ".join(
        f"count(*) FILTER (WHERE {b}), min({ident(c)}) FILTER (WHERE {b})"
        for c, b in zip(typed, bad, strict=True)
    )
    try:
        row = con.execute(f"SELECT {selects} FROM {relation}").fetchone()
    except duckdb.Error as exc:
        raise RawSourceError(source.name, source.location, first_line(exc)) from None
    assert row is not None
    problems = []
    for i, (column, type_) in enumerate(typed.items()):
        count, example = row[2 * i], row[2 * i + 1]
        if count:
            problems.append(
                f"column {column!r}: {count:,} value(s) do not parse as {type_} (e.g. {example!r})"
            )
    return problems
