"""A job's DuckDB SQL as Spark SQL, through sqlglot, or a ``TranspileError`` naming why.

sqlglot rewrites most of DuckDB's dialect (QUALIFY into a subquery, FILTER, RANGE
windows with intervals, ``::`` casts, ``arg_max`` into ``max_by``, typed literals); this
module adds what it leaves as is and checks what it cannot:

- ``timezone(zone, naive_timestamp)`` (DuckDB: the instant at that wall-clock time in
  ``zone``) becomes ``to_utc_timestamp(ts, zone)`` (under our UTC session the same
  instant), and ``timezone(zone, instant)`` becomes the wall-clock time there as a
  ``TIMESTAMP_NTZ``. When the argument's type cannot be read off the SQL (a bare
  column), the job must say it with a cast: guessing would shift rows by hours;
- a function sqlglot passes through unchanged must exist in Spark (``functions`` is the
  session's list): otherwise the job fails before running, naming the function and the
  job file's line.

Line numbers are the job file's: a rendered job keeps its header lines.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import sqlglot
from sqlglot import ErrorLevel, exp

from featurestore.errors import TranspileError

_NAIVE = {exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ, exp.DataType.Type.DATETIME}
_NAIVE |= {exp.DataType.Type.DATE}
_AWARE = {exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ}


def to_spark(
    sql: str,
    *,
    job: str,
    path: Path,
    functions: Collection[str] | None = None,
) -> str:
    """``sql`` (DuckDB) in Spark SQL; ``functions`` (lower case) are Spark's, if known."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        problem = first.get("description", str(exc))
        raise TranspileError(
            job, path, first.get("line"), f"sqlglot cannot parse the SQL: {problem}"
        ) from None
    tree = tree.transform(lambda node: _rewrite(node, job, path))
    if functions is not None:
        for node in tree.find_all(exp.Anonymous):
            name = str(node.this).lower()
            if name not in functions:
                raise TranspileError(
                    job, path, _line(node),
                    f"{node.this}() has no Spark SQL equivalent (sqlglot passes it through "
                    "unchanged and Spark has no such function); rewrite it with functions "
                    "both engines have",
                )  # fmt: skip
    try:
        return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        raise TranspileError(
            job, path, None, f"sqlglot cannot write this in Spark SQL: {exc}"
        ) from None


def _rewrite(node: exp.Expression, job: str, path: Path) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "timezone":
        if len(node.expressions) != 2:
            return node
        zone, value = node.expressions
        kind = _timestamp_kind(value)
        if kind == "naive":
            return exp.Anonymous(this="to_utc_timestamp", expressions=[value, zone])
        if kind == "aware":
            local = exp.Anonymous(this="from_utc_timestamp", expressions=[value, zone])
            return exp.cast(local, exp.DataType.build("TIMESTAMP_NTZ", dialect="spark"))
        raise TranspileError(
            job, path, _line(node),
            "timezone(zone, x) on Spark needs x's type written in the SQL: "
            "cast x to TIMESTAMP (a wall-clock time) or TIMESTAMPTZ (an instant)",
        )  # fmt: skip
    return node


def _timestamp_kind(value: exp.Expression) -> str | None:
    """Whether ``value`` is a naive or an aware timestamp by its SQL alone (None: unknown)."""
    if isinstance(value, exp.Cast | exp.TryCast):
        kind = value.to.this
        return "naive" if kind in _NAIVE else "aware" if kind in _AWARE else None
    if isinstance(value, exp.Literal):
        return "naive" if value.is_string else None
    if isinstance(value, exp.StrToTime | exp.TsOrDsToTimestamp):
        return "naive"
    return None


def _line(node: exp.Expression) -> int | None:
    for candidate in (node, *node.walk()):
        line = candidate.meta.get("line") if hasattr(candidate, "meta") else None
        if line is not None:
            return int(line)
    return None
