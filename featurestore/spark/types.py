"""Column types between DuckDB's names (job headers, source declarations) and Spark's.

A job header declares DuckDB types; the runner's checks (``ingestion.checks``) compare
them with the query's output types in DuckDB's names, so Spark's types are named the
way DuckDB names the type it would have returned. ``TIMESTAMP WITH TIME ZONE`` is
Spark's ``TIMESTAMP`` (an instant), DuckDB's ``TIMESTAMP`` is ``TIMESTAMP_NTZ``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

_TO_SPARK = {
    "BOOLEAN": "boolean",
    "TINYINT": "tinyint",
    "SMALLINT": "smallint",
    "INTEGER": "int",
    "INT": "int",
    "BIGINT": "bigint",
    "FLOAT": "float",
    "REAL": "float",
    "DOUBLE": "double",
    "VARCHAR": "string",
    "TEXT": "string",
    "STRING": "string",
    "DATE": "date",
    "TIMESTAMP": "timestamp_ntz",
    "TIMESTAMPTZ": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "BLOB": "binary",
}
_DECIMAL = re.compile(r"(?:DECIMAL|NUMERIC)\s*\((\d+)\s*,\s*(\d+)\)", re.IGNORECASE)


def spark_ddl(duckdb_type: str) -> str:
    """A declared DuckDB type as a Spark SQL type name (for CAST)."""
    name = " ".join(duckdb_type.upper().split())
    if name in _TO_SPARK:
        return _TO_SPARK[name]
    match = _DECIMAL.fullmatch(name)
    if match:
        return f"decimal({match.group(1)},{match.group(2)})"
    return "string"


def duckdb_name(data_type: Any) -> str:
    """A Spark ``DataType`` by the name DuckDB gives the same type."""
    from pyspark.sql import types as T

    simple = {
        T.BooleanType: "BOOLEAN",
        T.ByteType: "TINYINT",
        T.ShortType: "SMALLINT",
        T.IntegerType: "INTEGER",
        T.LongType: "BIGINT",
        T.FloatType: "FLOAT",
        T.DoubleType: "DOUBLE",
        T.StringType: "VARCHAR",
        T.DateType: "DATE",
        T.TimestampType: "TIMESTAMP WITH TIME ZONE",
        T.TimestampNTZType: "TIMESTAMP",
        T.BinaryType: "BLOB",
    }
    for kind, name in simple.items():
        if isinstance(data_type, kind):
            return name
    if isinstance(data_type, T.DecimalType):
        return f"DECIMAL({data_type.precision},{data_type.scale})"
    return str(data_type.simpleString()).upper()


def spark_safe(table: pa.Table) -> pa.Table:
    """``table`` with nanosecond timestamps as microseconds (truncated, as DuckDB does)
    and large strings as strings: types Spark's Arrow reader takes."""
    columns = []
    fields = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type) and field.type.unit != "us":
            target = pa.timestamp("us", field.type.tz)
            column = pc.cast(column, target, safe=False)
            field = field.with_type(target)
        elif pa.types.is_large_string(field.type):
            column = pc.cast(column, pa.string())
            field = field.with_type(pa.string())
        columns.append(column)
        fields.append(field)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def spark_schema(schema: pa.Schema) -> StructType:
    """An Arrow schema as Spark's (for an empty frame)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)
