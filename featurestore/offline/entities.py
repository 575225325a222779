"""The entity frame: whatever the caller gives, as a DuckDB view with a row number.

Accepted inputs: a pandas DataFrame, a pyarrow Table, a Parquet path (``pathlib.Path``:
a file, a hive-partitioned folder or a glob) or a SQL string over the project's tables
(Feast passes a ``str`` entity frame as SQL). Frames are handed to DuckDB as Arrow;
Parquet and SQL frames are never loaded into Python. Each row gets ``__fs_row``, its
position in the input, so the result can come back in the caller's order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from featurestore import sql
from featurestore.errors import EntityColumnTypeError, EntityTimestampError, InvalidRequestError
from featurestore.sql import parquet_scan

EntityInput: TypeAlias = pd.DataFrame | pa.Table | Path | str

ROW = "__fs_row"
RESERVED_PREFIX = "__fs_"
DEFAULT_TIMESTAMP = "event_timestamp"


@dataclass(frozen=True)
class EntityFrame:
    """An entity frame registered in a connection as the view ``relation``."""

    relation: str
    types: dict[str, str]
    timestamp_column: str

    @property
    def columns(self) -> list[str]:
        return list(self.types)


quote = sql.ident  # a DuckDB identifier


def register_entities(
    con: duckdb.DuckDBPyConnection,
    entity_df: EntityInput,
    timestamp_column: str | None = None,
) -> EntityFrame:
    """Register ``entity_df`` in ``con`` and check its timestamp column."""
    relation = f"__fs_entities_{uuid.uuid4().hex[:8]}"
    if isinstance(entity_df, pd.DataFrame | pa.Table):
        table = _arrow(entity_df)
        table = table.append_column(ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))
        con.register(relation, table)
    else:
        if isinstance(entity_df, Path):
            body = f"SELECT * FROM {parquet_scan(entity_df)}"
        elif isinstance(entity_df, str):
            body = entity_df.strip().rstrip(";")
        else:
            raise InvalidRequestError(
                "the entity frame must be a pandas DataFrame, a pyarrow Table, a Parquet path "
                f"(pathlib.Path) or a SQL string, not {type(entity_df).__name__}"
            )
        try:
            con.execute(
                f"CREATE TEMP VIEW {relation} AS "
                f"SELECT *, row_number() OVER () - 1 AS {ROW} FROM ({body}) AS __fs_input"
            )
        except duckdb.Error as exc:
            raise InvalidRequestError(f"cannot read the entity frame: {exc}") from None
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    types = {str(row[0]): str(row[1]).strip('"') for row in described if row[0] != ROW}
    reserved = [c for c in types if c.startswith(RESERVED_PREFIX)]
    if reserved:
        raise InvalidRequestError(
            f"entity frame columns must not start with {RESERVED_PREFIX!r}: {', '.join(reserved)}"
        )
    column = timestamp_column or infer_timestamp_column(types)
    if column not in types:
        raise EntityTimestampError(column, list(types))
    if not is_timestamp_type(types[column]):
        raise EntityColumnTypeError(column, "a timestamp", types[column])
    return EntityFrame(relation=relation, types=types, timestamp_column=column)


def infer_timestamp_column(types: dict[str, str]) -> str:
    """Feast's rule: ``event_timestamp`` if present, else the only timestamp column."""
    if DEFAULT_TIMESTAMP in types:
        return DEFAULT_TIMESTAMP
    candidates = [c for c, t in types.items() if t.startswith("TIMESTAMP")]
    return candidates[0] if len(candidates) == 1 else DEFAULT_TIMESTAMP


def is_timestamp_type(duckdb_type: str) -> bool:
    """Any DuckDB timestamp (naive, with time zone, s/ms/us/ns), a date, or all nulls."""
    return duckdb_type.startswith("TIMESTAMP") or duckdb_type in ("DATE", "NULL")


def _arrow(frame: pd.DataFrame | pa.Table) -> pa.Table:
    if isinstance(frame, pa.Table):
        return frame
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidRequestError(f"cannot convert the entity frame to Arrow: {exc}") from None
