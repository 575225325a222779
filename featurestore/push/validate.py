"""Checking rows on their way in: types as Feast stores them, then the declared rules.

Every write path (``/push``, ``/write-to-online-store``, the Python API, the CLI, the
stream consumer) hands its rows here, as JSON columns (name -> list of values) or as an
Arrow table, with the ``WriteSchema`` of its target. What comes out is one typed Arrow
table of every row and, per bad row, the first rule it breaks (``Problem``), named as a
job's checks name them (``ingestion.checks``):

- ``<col> is <TYPE>``: a value of another type. Types are Feast's: an integer for a
  DOUBLE or FLOAT column is that float (``ints_for_floats: convert``, what Feast stores)
  or breaks this rule (``ints_for_floats: refuse``); a boolean is never a number; an
  integer column takes integers in its range, or decimal strings of them (JSON clients
  that cannot hold 64-bit integers send those); a timestamp is an ISO 8601 string (or,
  from Arrow, a timestamp column; naive times are UTC).
- ``<col> not null``: declared ``not null``, and always for entity keys and the event
  timestamp;
- ``<col> >= X``, ``<col> <= Y``, ``<col> in (...)``: the declared bounds and values;
- ``<ts> <= now + <tolerance>``: an event time further in the future than the push
  source's ``future_tolerance``.

A missing entity, timestamp or feature column is not a bad row but a bad request
(``InvalidRequestError`` naming it). The checks are vectorized (a set of the Python
types of a column, then Arrow compute per rule); only a column holding a wrong value is
walked value by value, to name the rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.errors import InvalidRequestError
from featurestore.job_spec import Column
from featurestore.value_types import ValueType
from ingestion.checks import bound_text

__all__ = ["Checked", "ColumnSpec", "Problem", "WriteSchema", "check_rows"]

TS_TYPE = pa.timestamp("us", tz="UTC")

ARROW_TYPES: dict[ValueType, pa.DataType] = {
    ValueType.INT32: pa.int32(),
    ValueType.INT64: pa.int64(),
    ValueType.FLOAT: pa.float32(),
    ValueType.DOUBLE: pa.float64(),
    ValueType.BOOL: pa.bool_(),
    ValueType.STRING: pa.string(),
    ValueType.BYTES: pa.binary(),
    ValueType.UNIX_TIMESTAMP: TS_TYPE,
}
_LISTS: dict[ValueType, ValueType] = {
    ValueType[f"{scalar.name}_LIST"]: scalar
    for scalar in (ValueType.INT32, ValueType.INT64, ValueType.FLOAT, ValueType.DOUBLE,
                   ValueType.BOOL, ValueType.STRING, ValueType.BYTES, ValueType.UNIX_TIMESTAMP)
}  # fmt: skip
ARROW_TYPES.update({lst: pa.list_(ARROW_TYPES[scalar]) for lst, scalar in _LISTS.items()})
# The type a rule names (a job header's declared type, as DuckDB spells it).
TYPE_NAMES: dict[ValueType, str] = {
    ValueType.INT32: "INTEGER",
    ValueType.INT64: "BIGINT",
    ValueType.FLOAT: "FLOAT",
    ValueType.DOUBLE: "DOUBLE",
    ValueType.BOOL: "BOOLEAN",
    ValueType.STRING: "VARCHAR",
    ValueType.BYTES: "BLOB",
    ValueType.UNIX_TIMESTAMP: "TIMESTAMP WITH TIME ZONE",
}
TYPE_NAMES.update({lst: f"{TYPE_NAMES[scalar]}[]" for lst, scalar in _LISTS.items()})
_RANGES = {ValueType.INT32: (-(2**31), 2**31 - 1), ValueType.INT64: (-(2**63), 2**63 - 1)}
_DECIMAL = re.compile(r"[-+]?[0-9]{1,20}")
_NONE = type(None)
_KINDS: dict[ValueType, frozenset[type]] = {
    ValueType.INT32: frozenset({int, _NONE}),
    ValueType.INT64: frozenset({int, _NONE}),
    ValueType.FLOAT: frozenset({float, _NONE}),
    ValueType.DOUBLE: frozenset({float, _NONE}),
    ValueType.BOOL: frozenset({bool, _NONE}),
    ValueType.STRING: frozenset({str, _NONE}),
    ValueType.BYTES: frozenset({_NONE}),
    ValueType.UNIX_TIMESTAMP: frozenset({str, _NONE}),
}
MAX_PROBLEMS_SHOWN = 100


@dataclass(frozen=True)
class ColumnSpec:
    """One column a write must carry: its Feast type, and its header's rules if any."""

    name: str
    value_type: ValueType
    role: str  # "key", "timestamp" or "feature"
    declared: Column | None = None

    @property
    def type_rule(self) -> str:
        return f"{self.name} is {TYPE_NAMES.get(self.value_type, self.value_type.name)}"

    @property
    def arrow_type(self) -> pa.DataType:
        return TS_TYPE if self.role == "timestamp" else ARROW_TYPES[self.value_type]


@dataclass(frozen=True)
class WriteSchema:
    """What a write to one target (a push source, a feature view) must look like."""

    target: str  # "push source 'x'" or "feature view 'y'", for messages
    columns: tuple[ColumnSpec, ...]
    ints_for_floats: str = "convert"
    future_tolerance: timedelta | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, role: str) -> list[ColumnSpec]:
        return [c for c in self.columns if c.role == role]


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    rule: str
    value: Any

    def describe(self) -> str:
        text = repr(self.value)
        shown = text if len(text) <= 60 else f"{text[:57]}..."
        return f"row {self.row}: {self.column} = {shown} breaks {self.rule!r}"


@dataclass
class Checked:
    """Every row, typed (a bad value is null); ``bad`` and ``problems`` say which rows
    break which rule (the first each breaks, in declaration order)."""

    table: pa.Table
    bad: npt.NDArray[np.bool_]
    problems: list[Problem] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.table.num_rows

    @property
    def bad_rows(self) -> int:
        return int(self.bad.sum())

    def good(self) -> pa.Table:
        return self.table if not self.bad.any() else self.table.filter(pa.array(~self.bad))

    def rejected(self) -> pa.Table:
        """The bad rows with ``_rule``, ``_column`` and ``_value`` (as sent, as text)."""
        rows = np.flatnonzero(self.bad)
        table = self.table.take(pa.array(rows, pa.int64()))
        by_row = {p.row: p for p in self.problems}
        chosen = [by_row[int(i)] for i in rows]
        return (
            table.append_column("_rule", pa.array([p.rule for p in chosen], pa.string()))
            .append_column("_column", pa.array([p.column for p in chosen], pa.string()))
            .append_column("_value", pa.array([repr(p.value) for p in chosen], pa.string()))
        )

    def summary(self) -> str:
        """Each bad row, its column, rule and value (the first ``MAX_PROBLEMS_SHOWN``)."""
        shown = "; ".join(p.describe() for p in self.problems[:MAX_PROBLEMS_SHOWN])
        more = len(self.problems) - MAX_PROBLEMS_SHOWN
        tail = f"; and {more} more bad rows" if more > 0 else ""
        return (
            f"{len(self.problems)} of {self.rows} rows break a rule, nothing written: {shown}{tail}"
        )


class _Refused(Exception):
    pass


def check_rows(
    schema: WriteSchema,
    rows: Mapping[str, Sequence[Any]] | pa.Table | pd.DataFrame,
    now: datetime | None = None,
) -> Checked:
    """Type every column of ``schema`` and apply its rules; extra columns are ignored."""
    if isinstance(rows, pd.DataFrame):
        try:
            rows = pa.Table.from_pandas(rows, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise InvalidRequestError(f"cannot read the frame's columns: {exc}") from None
    if isinstance(rows, pa.Table):
        size = rows.num_rows
        present = set(rows.column_names)
    else:
        size = _json_size(rows)
        present = set(rows)
    missing = [name for name in schema.names if name not in present]
    if missing:
        roles = {c.name: c.role for c in schema.columns}
        what = ", ".join(f"{name} ({_ROLE_NAMES[roles[name]]})" for name in missing)
        raise InvalidRequestError(f"the rows lack column(s) {what} of {schema.target}")
    arrays: list[pa.Array] = []
    type_bad: list[tuple[ColumnSpec, npt.NDArray[np.bool_]]] = []
    sent: dict[str, Any] = {}
    for spec in schema.columns:
        if isinstance(rows, pa.Table):
            column = rows.column(spec.name).combine_chunks()
            sent[spec.name] = column
            array, bad = _typed_arrow(spec, column, schema.ints_for_floats)
        else:
            values = rows[spec.name]
            sent[spec.name] = values
            array, bad = _typed_json(spec, list(values), schema.ints_for_floats)
        arrays.append(array)
        type_bad.append((spec, bad))
    table = pa.Table.from_arrays(arrays, names=schema.names)
    bad = np.zeros(size, dtype=bool)
    problems: dict[int, Problem] = {}

    def mark(rule: str, spec: ColumnSpec, mask: npt.NDArray[np.bool_]) -> None:
        new = mask & ~bad
        if not new.any():
            return
        bad[new] = True
        for row in np.flatnonzero(new):
            problems[int(row)] = Problem(
                int(row), spec.name, rule, _value(sent[spec.name], int(row))
            )

    limit = (
        (now or datetime.now(UTC)) + schema.future_tolerance if schema.future_tolerance else None
    )
    for (spec, wrong), array in zip(type_bad, arrays, strict=True):
        nulls = _mask(pc.is_null(array)) & ~wrong
        declared = spec.declared
        if spec.role != "feature" or (declared is not None and declared.not_null):
            mark(f"{spec.name} not null", spec, nulls)
        mark(spec.type_rule if declared is None else f"{spec.name} is {declared.type}", spec, wrong)
        if declared is not None:
            _declared_rules(declared, array, spec, mark)
        if spec.role == "timestamp" and limit is not None and schema.future_tolerance:
            after = _mask(pc.greater(array, pa.scalar(limit, TS_TYPE)))
            tolerance = _duration_text(schema.future_tolerance)
            mark(f"{spec.name} <= now + {tolerance}", spec, after)
    return Checked(table, bad, [problems[row] for row in sorted(problems)])


_ROLE_NAMES = {"key": "entity key", "timestamp": "event timestamp", "feature": "feature"}


def _declared_rules(declared: Column, array: pa.Array, spec: ColumnSpec, mark: Any) -> None:
    if declared.min is not None:
        mark(
            f"{spec.name} >= {bound_text(declared.min)}", spec, _mask(pc.less(array, declared.min))
        )
    if declared.max is not None:
        high = declared.max
        mark(f"{spec.name} <= {bound_text(high)}", spec, _mask(pc.greater(array, high)))
    if declared.allowed is not None:
        allowed = pa.array([_literal(v) for v in declared.allowed]).cast(array.type)
        outside = pc.and_(pc.invert(pc.is_in(array, value_set=allowed)), pc.is_valid(array))
        mark(f"{spec.name} in ({', '.join(declared.allowed)})", spec, _mask(outside))


def _literal(text: str) -> Any:
    """A header's SQL literal (``'JFK'``, ``3``, ``2.5``, ``true``) as a Python value."""
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        return float(text)


def _mask(result: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.bool_]:
    filled = pc.fill_null(result, False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def _value(sent: Any, row: int) -> Any:
    if isinstance(sent, pa.Array):
        value = sent[int(row)].as_py()
        return value.isoformat() if isinstance(value, datetime) else value
    return sent[int(row)]


def _duration_text(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _json_size(columns: Mapping[str, Sequence[Any]]) -> int:
    if not isinstance(columns, Mapping) or not columns:
        raise InvalidRequestError("'df' must map column names to lists of values")
    if not all(isinstance(values, list) for values in columns.values()):
        raise InvalidRequestError("every column of 'df' must be a list of values")
    sizes = {len(values) for values in columns.values()}
    if len(sizes) != 1:
        shown = ", ".join(f"{name}: {len(values)}" for name, values in columns.items())
        raise InvalidRequestError(f"every column of 'df' must have the same length ({shown})")
    return sizes.pop()


def _typed_json(
    spec: ColumnSpec, values: list[Any], ints_for_floats: str
) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
    """The column as ``spec``'s Arrow type; the rows whose value does not fit it."""
    wrong = np.zeros(len(values), dtype=bool)
    target = spec.arrow_type
    if spec.role == "timestamp" or spec.value_type == ValueType.UNIX_TIMESTAMP:
        return _timestamps_json(values, spec.role == "feature")
    if spec.value_type in _LISTS:
        return _lists_json(spec, values, ints_for_floats)
    if spec.value_type == ValueType.STRING:
        try:  # Arrow refuses every non-string itself (bytes aside: not JSON's)
            return pa.array(values, type=target), wrong
        except (pa.ArrowException, TypeError, ValueError):
            pass  # name the rows below
    kinds = set(map(type, values))
    allowed = _KINDS.get(spec.value_type, frozenset())
    if spec.value_type in (ValueType.FLOAT, ValueType.DOUBLE) and ints_for_floats == "convert":
        allowed = allowed | {int}
    if kinds <= allowed:
        try:
            return pa.array(values, type=target), wrong
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            pass  # an integer out of range: find it below
    converted = []
    for row, value in enumerate(values):
        try:
            converted.append(_cell(spec.value_type, value, ints_for_floats))
        except _Refused:
            converted.append(None)
            wrong[row] = True
    return pa.array(converted, type=target), wrong


def _lists_json(
    spec: ColumnSpec, values: list[Any], ints_for_floats: str
) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
    element = _LISTS[spec.value_type]
    wrong = np.zeros(len(values), dtype=bool)
    out: list[Any] = []
    for row, value in enumerate(values):
        try:
            if value is None:
                out.append(None)
            elif not isinstance(value, list):
                raise _Refused
            elif element == ValueType.UNIX_TIMESTAMP:
                out.append([_timestamp_cell(item, True) for item in value])
            else:
                out.append([_cell(element, item, ints_for_floats) for item in value])
        except (_Refused, ValueError, TypeError, OverflowError):
            out.append(None)
            wrong[row] = True
    return pa.array(out, type=spec.arrow_type), wrong


def _cell(value_type: ValueType, value: Any, ints_for_floats: str) -> Any:
    if value is None:
        return None
    if value_type in (ValueType.FLOAT, ValueType.DOUBLE):
        if isinstance(value, float):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and ints_for_floats == "convert":
            return float(value)
    elif value_type in _RANGES:
        if isinstance(value, str) and _DECIMAL.fullmatch(value):
            value = int(value)
        low, high = _RANGES[value_type]
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
    elif value_type == ValueType.STRING:
        if isinstance(value, str):
            return value
    elif value_type == ValueType.BOOL and isinstance(value, bool):
        return value
    raise _Refused


def _timestamps_json(
    values: list[Any], seconds_too: bool
) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
    """ISO 8601 strings (and for a timestamp feature, Unix seconds) as UTC timestamps."""
    wrong = np.zeros(len(values), dtype=bool)
    if set(map(type, values)) <= {str, _NONE}:
        try:  # Arrow's ISO 8601 parser: fast, and needs the zone ("Z", "+01:00")
            return pa.array(values, pa.string()).cast(TS_TYPE), wrong
        except (pa.ArrowException, ValueError):
            pass
        try:  # naive times (UTC) and the other ISO 8601 forms pandas reads
            parsed = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
            return pa.array(parsed, type=TS_TYPE), wrong
        except (ValueError, TypeError, OverflowError, pa.ArrowException):
            pass
    out: list[Any] = []
    for row, value in enumerate(values):
        try:
            out.append(_timestamp_cell(value, seconds_too))
        except (_Refused, ValueError, TypeError, OverflowError):
            out.append(None)
            wrong[row] = True
    return pa.array(out, type=TS_TYPE), wrong


def _timestamp_cell(value: Any, seconds_too: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
        if pd.isna(stamp):
            raise _Refused
        return stamp.to_pydatetime()
    if seconds_too and isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    raise _Refused


def _typed_arrow(
    spec: ColumnSpec, column: pa.Array, ints_for_floats: str
) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
    """An Arrow column (a file's, a DataFrame's) as ``spec``'s type."""
    target = spec.arrow_type
    wrong = np.zeros(len(column), dtype=bool)
    source = column.type
    if source == target:
        return column, wrong
    if pa.types.is_null(source):
        return pa.nulls(len(column), target), wrong
    if pa.types.is_timestamp(target):
        if pa.types.is_timestamp(source):
            if source.tz is None:
                column = pc.assume_timezone(column, "UTC")
            return column.cast(TS_TYPE), wrong
        if pa.types.is_string(source) or pa.types.is_large_string(source):
            return _timestamps_json(column.to_pylist(), spec.role == "feature")
        return _all_wrong(column, target)
    if pa.types.is_floating(target):
        if pa.types.is_floating(source):
            return column.cast(target), wrong
        if pa.types.is_integer(source):
            if ints_for_floats == "convert":
                return column.cast(target), wrong
            return _all_wrong(column, target)
        return _all_wrong(column, target)
    if pa.types.is_integer(target):
        if pa.types.is_integer(source) or pa.types.is_floating(source):
            try:
                return column.cast(target), wrong  # safe: whole numbers within range
            except pa.ArrowInvalid:
                values = column.to_pylist()
                return _typed_json(spec, [_whole(v) for v in values], ints_for_floats)
        if pa.types.is_string(source):
            return _typed_json(spec, column.to_pylist(), ints_for_floats)
        return _all_wrong(column, target)
    if pa.types.is_string(target) and pa.types.is_large_string(source):
        return column.cast(target), wrong
    if pa.types.is_list(target) or pa.types.is_large_list(source):
        try:
            return column.cast(target), wrong
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _lists_json(spec, column.to_pylist(), ints_for_floats)
    if pa.types.is_dictionary(source):
        return _typed_arrow(spec, column.dictionary_decode(), ints_for_floats)
    return _all_wrong(column, target)


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if not isinstance(value, float) else repr(value)


def _all_wrong(column: pa.Array, target: pa.DataType) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
    """A column of another type: every value in it breaks the type rule."""
    return pa.nulls(len(column), target), _mask(pc.is_valid(column))
