"""What a raw source is, and ``parse_sources`` from a project file's ``sources:`` mapping.

A source has a name (the table name SQL reads it by), a format, where it is (``path``
relative to the project folder, or a PostgreSQL ``url``), for databases the ``table`` or
``query`` to read, reader ``options``, optionally the declared ``columns`` (name to DuckDB
type) and a ``description``. Parsing checks all of it and reports every mistake, one line
each, in one ``SourceSpecError`` (a ``ConfigError``): unknown keys, formats and options,
a missing or superfluous path/url/table/query, a name that is not a SQL identifier (or
clashes case-insensitively with another: DuckDB's names are case-insensitive), a column
type DuckDB does not know. Column types are stored as DuckDB spells them
(``TIMESTAMPTZ`` becomes ``TIMESTAMP WITH TIME ZONE``), so the schema checks compare
strings.

A url's ``${VAR}`` are left as written: ``featurestore.raw.urls`` expands them when
connecting, so a project file can be parsed without its secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb

from featurestore import sql
from featurestore.errors import SourceSpecError
from featurestore.raw.urls import safe_url, variable_problems

Format = Literal["parquet", "csv", "json", "duckdb", "sqlite", "postgres"]
FILE_FORMATS = ("parquet", "csv", "json")
DATABASE_FORMATS = ("duckdb", "sqlite", "postgres")
FORMATS: tuple[str, ...] = FILE_FORMATS + DATABASE_FORMATS
Option = str | int | float | bool

KEYS = {"format", "path", "url", "table", "query", "options", "columns", "description"}
# The reader options passed through to DuckDB's read_* functions (their own names).
OPTIONS: dict[str, frozenset[str]] = {
    "parquet": frozenset({"binary_as_string", "filename", "file_row_number", "union_by_name"}),
    "csv": frozenset(
        {
            "header",
            "delim",
            "delimiter",
            "sep",
            "quote",
            "escape",
            "nullstr",
            "skip",
            "comment",
            "dateformat",
            "timestampformat",
            "decimal_separator",
            "new_line",
            "encoding",
            "compression",
            "null_padding",
            "strict_mode",
            "allow_quoted_nulls",
            "max_line_size",
            "filename",
            "union_by_name",
        }
    ),
    "json": frozenset(
        {
            "format",
            "records",
            "dateformat",
            "timestampformat",
            "compression",
            "maximum_object_size",
            "filename",
            "union_by_name",
        }
    ),
    "duckdb": frozenset(),
    "sqlite": frozenset(),
    "postgres": frozenset(),
}
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
GLOB_CHARS = "*?["


@dataclass(frozen=True)
class RawSource:
    """One raw source of a project, as declared in its project file."""

    name: str
    format: Format
    path: Path | None = None
    url: str | None = field(default=None, repr=False)  # may hold a written password
    table: str | None = None
    query: str | None = None
    options: Mapping[str, Option] = field(default_factory=dict)
    columns: Mapping[str, str] | None = None
    description: str | None = None

    @property
    def location(self) -> str:
        """Where the source is, for people and error messages: never a secret.

        A path, or the url with its password shown as ``***``; then the table, if any.
        """
        where = safe_url(self.url) if self.url is not None else str(self.path)
        if self.table is not None:
            return f"{where}, table {self.table}"
        if self.query is not None:
            return f"{where}, query"
        return where

    @property
    def is_glob(self) -> bool:
        return self.path is not None and any(ch in str(self.path) for ch in GLOB_CHARS)


def parse_sources(mapping: Mapping[str, Any] | None, root: Path) -> dict[str, RawSource]:
    """The sources of a project file's ``sources:`` mapping, paths resolved under ``root``.

    Raises ``SourceSpecError`` listing every mistake, one line each.
    """
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise SourceSpecError(["sources: expected a mapping of source names to sources"])
    problems: list[str] = []
    sources: dict[str, RawSource] = {}
    seen: dict[str, str] = {}
    con = sql.connect(threads=1)
    try:
        for name, spec in mapping.items():
            name = str(name)
            where = f"sources.{name}"
            if not IDENTIFIER.match(name):
                problems.append(
                    f"{where}: the name must be a SQL identifier (letters, digits, _; "
                    "not starting with a digit)"
                )
            elif name.lower() in seen:
                problems.append(
                    f"{where}: same name as sources.{seen[name.lower()]} "
                    "(names are case-insensitive)"
                )
            seen.setdefault(name.lower(), name)
            if not isinstance(spec, Mapping):
                problems.append(f"{where}: expected a mapping with at least format and path/url")
                continue
            source = _parse_one(con, name, spec, root, problems)
            if source is not None:
                sources[name] = source
    finally:
        con.close()
    if problems:
        raise SourceSpecError(problems)
    return sources


def _parse_one(
    con: duckdb.DuckDBPyConnection,
    name: str,
    spec: Mapping[str, Any],
    root: Path,
    problems: list[str],
) -> RawSource | None:
    where = f"sources.{name}"
    before = len(problems)
    for key in spec:
        if key not in KEYS:
            problems.append(f"{where}: unknown key {key!r}; known keys: {', '.join(sorted(KEYS))}")
    fmt = spec.get("format")
    if fmt not in FORMATS:
        problems.append(
            f"{where}.format: "
            + ("missing" if fmt is None else f"unknown format {fmt!r}")
            + f"; expected one of {', '.join(FORMATS)}"
        )
        return None
    texts: dict[str, str | None] = {}
    for key in ("path", "url", "table", "query", "description"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            problems.append(f"{where}.{key}: expected a non-empty string")
            value = None
        texts[key] = value
    path, url, table, query = texts["path"], texts["url"], texts["table"], texts["query"]

    if fmt == "postgres":
        if url is None and "url" not in spec:
            problems.append(f"{where}: a postgres source needs a url (postgresql://...)")
        if path is not None:
            problems.append(f"{where}.path: a postgres source has a url, not a path")
        if url is not None:
            if not url.startswith(("postgresql://", "postgres://")):
                problems.append(f"{where}.url: expected postgresql://user:password@host/db")
            for problem in variable_problems(url):
                problems.append(f"{where}.url: {problem}")
    else:
        if path is None and "path" not in spec:
            problems.append(f"{where}: a {fmt} source needs a path")
        if url is not None:
            problems.append(f"{where}.url: only postgres sources have a url; use path")
    if fmt in DATABASE_FORMATS:
        if table is not None and query is not None:
            problems.append(f"{where}: give table or query, not both")
        elif table is None and query is None and "table" not in spec and "query" not in spec:
            problems.append(f"{where}: a {fmt} source needs a table or a query")
        if table is not None and not all(IDENTIFIER.match(part) for part in table.split(".")):
            problems.append(
                f"{where}.table: {table!r} is not a table name (name or schema.name); "
                "use query for anything else"
            )
    else:
        for key, value in (("table", table), ("query", query)):
            if value is not None:
                problems.append(f"{where}.{key}: only database sources have a {key}")

    options = _parse_options(where, str(fmt), spec.get("options"), problems)
    columns = _parse_columns(con, where, spec.get("columns"), problems)
    if len(problems) > before:
        return None
    return RawSource(
        name=name,
        format=fmt,
        path=(root / path) if path is not None else None,
        url=url,
        table=table,
        query=query,
        options=options,
        columns=columns,
        description=texts["description"],
    )


def _parse_options(where: str, fmt: str, raw: Any, problems: list[str]) -> dict[str, Option]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append(f"{where}.options: expected a mapping of reader options")
        return {}
    options: dict[str, Option] = {}
    allowed = OPTIONS[fmt]
    for key, value in raw.items():
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            problems.append(f"{where}.options: unknown {fmt} option {key!r}; known: {known}")
        elif not isinstance(value, str | int | float | bool):
            problems.append(f"{where}.options.{key}: expected a string, number or boolean")
        else:
            options[str(key)] = value
    return options


def _parse_columns(
    con: duckdb.DuckDBPyConnection, where: str, raw: Any, problems: list[str]
) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not raw:
        problems.append(f"{where}.columns: expected a mapping of column names to DuckDB types")
        return None
    columns: dict[str, str] = {}
    seen: set[str] = set()
    for column, type_ in raw.items():
        column = str(column)
        if not column.strip():
            problems.append(f"{where}.columns: a column name is empty")
            continue
        if column.lower() in seen:
            problems.append(
                f"{where}.columns.{column}: declared twice (names are case-insensitive)"
            )
            continue
        seen.add(column.lower())
        canonical = duckdb_type(con, type_) if isinstance(type_, str) else None
        if canonical is None:
            problems.append(f"{where}.columns.{column}: {type_!r} is not a DuckDB type")
        else:
            columns[column] = canonical
    return columns


def duckdb_type(con: duckdb.DuckDBPyConnection, text: str) -> str | None:
    """``text`` as DuckDB spells the type (``int`` -> ``INTEGER``), or None if it is none."""
    statement = f"SELECT typeof(CAST(NULL AS {text}))"
    try:
        if len(con.extract_statements(statement)) != 1:
            return None
        row = con.execute(statement).fetchone()
    except duckdb.Error:
        return None
    return str(row[0]) if row else None


def select(sources: Mapping[str, RawSource], only: Iterable[str] | None) -> list[RawSource]:
    """The sources named in ``only`` (case-insensitive; other names ignored), or all."""
    if only is None:
        return list(sources.values())
    wanted = {name.lower() for name in only}
    return [source for name, source in sources.items() if name.lower() in wanted]
