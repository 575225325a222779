"""A brute-force point-in-time join: plain Python, one entity row at a time.

It restates Feast's rule without any cleverness: for each entity row and view, of the
feature rows with equal (non-null) join keys, an event timestamp at or before the
row's and, with a TTL, no older than ``ttl``, take the one with the latest event
timestamp, then the latest created timestamp (a null created timestamp loses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class OracleView:
    rows: list[dict[str, Any]]  # the feature table, with its own column names
    join_keys: dict[str, str]  # table column -> entity column
    features: dict[str, str]  # table column -> output name
    timestamp_field: str
    created_timestamp_column: str | None
    ttl: timedelta | None


def utc(value: Any) -> datetime | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.floor("us").to_pydatetime().astimezone(UTC)


def point_in_time(
    entity_rows: Sequence[dict[str, Any]], timestamp_column: str, views: Sequence[OracleView]
) -> list[dict[str, Any]]:
    out = []
    for row in entity_rows:
        when = utc(row[timestamp_column])
        result = dict(row)
        result[timestamp_column] = when
        for view in views:
            best: dict[str, Any] | None = None
            best_rank: tuple[datetime, datetime] | None = None
            for candidate in view.rows:
                if when is None:
                    break
                if any(
                    candidate[tk] is None or row[ek] is None or candidate[tk] != row[ek]
                    for tk, ek in view.join_keys.items()
                ):
                    continue
                ts = utc(candidate[view.timestamp_field])
                if ts is None or ts > when:
                    continue
                if view.ttl and ts < when - view.ttl:
                    continue
                created = None
                if view.created_timestamp_column:
                    created = utc(candidate[view.created_timestamp_column])
                rank = (ts, created or datetime.min.replace(tzinfo=UTC))
                if best_rank is None or rank > best_rank:
                    best, best_rank = candidate, rank
            for column, output in view.features.items():
                result[output] = None if best is None else best[column]
        out.append(result)
    return out
