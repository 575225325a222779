"""The statistics of a table's rows per partition and feature, and how they combine
(``featurestore.monitor.stats`` keeps and reads them).

Over an in-memory table of rows (a run's ~1M streamed rows, or a chunk of partition
files) one wide query gives every number and string feature's moments per partition,
then one small query per feature gives its histogram (group by bin), its sketch
(distinct hashes) or its value counts (group by value): each one pass over one or two
columns, with few DuckDB operators, whose fixed cost dominates at these sizes.

A statistics row (``ROW_TYPES``) holds one feature of one partition: count, nulls, min,
max, mean and M2 (the sum of squared deviations), the whole values (v = round(v)), the
k = 1024 smallest distinct value hashes (a KMV sketch), 22 histogram bins (numeric:
below ``lo``, 20 equal bins up to ``hi``, which the last holds, above ``hi`` and NaN) and
value counts (strings, booleans: all of them up to 1,000 distinct values, else the 100
most frequent and the rest as ``other``). ``combine`` merges rows exactly (see the
package's ``stats`` module for why).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from featurestore import sql

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from featurestore.job_spec import Job

SKETCH_SIZE = 1024  # k of the KMV distinct sketch
BINS = 20  # equal-width histogram bins between a numeric feature's edges
MAX_VALUES = 1_000  # a partition keeps every value count up to this many distinct values
TOP_VALUES = 100  # beyond, the most frequent ones (the rest go to ``other``)
_MAX_HASH = 2**64 - 1
INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
INTEGER_TYPES |= {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
ROW_TYPES = {
    "slot": "VARCHAR", "partition_date": "INTEGER", "partition_hour": "INTEGER",
    "column": "VARCHAR", "kind": "VARCHAR", "type": "VARCHAR", "count": "BIGINT",
    "nulls": "BIGINT", "min": "DOUBLE", "max": "DOUBLE", "min_text": "VARCHAR",
    "max_text": "VARCHAR", "mean": "DOUBLE", "m2": "DOUBLE", "whole": "BIGINT",
    "sketch": "UBIGINT[]", "hist": "BIGINT[]", "lo": "DOUBLE", "hi": "DOUBLE",
    "values": "VARCHAR[]", "value_counts": "BIGINT[]", "other": "BIGINT",
}  # fmt: skip


def kind_of(type_: str) -> str:
    if type_ in INTEGER_TYPES or type_ in ("FLOAT", "DOUBLE") or type_.startswith("DECIMAL"):
        return "numeric"
    return "categorical" if type_ in ("VARCHAR", "BOOLEAN") else "other"


def partition_stats(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    keys: Sequence[str],
    columns: Sequence[tuple[str, str]],
    edges: Mapping[str, tuple[float, float]],
    *,
    dates: bool = False,
) -> pa.Table:
    """The statistics rows of every partition of ``rows`` (a table with the partition
    keys and the features) and feature of ``columns``, in partition order.
    ``partition_date`` is a yyyymmdd number, or with ``dates`` a DATE (cheaper to make
    from a timestamp: only each partition's is formatted)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    group = ", ".join(keys)
    hour = "partition_hour" if "partition_hour" in keys else "0"
    day = "date_diff('day', DATE '1970-01-01', partition_date)" if dates else "partition_date"
    key = f"(CAST({day} AS BIGINT) * 100 + {hour})"  # one number per partition
    plain = [(n, t) for n, t in columns if kind_of(t) != "categorical"]
    items = ["count(*) AS __rows"]
    for i, (name, type_) in enumerate(plain):
        v, x = sql.ident(name), f"CAST({sql.ident(name)} AS DOUBLE)"
        items += [f"count({v}) AS c{i}", f"approx_count_distinct({v}) AS a{i}"]
        if kind_of(type_) == "numeric":
            whole = f"isfinite({x}) AND {x} = round({x})"
            whole = f"{v} IS NOT NULL" if type_ in INTEGER_TYPES else whole
            items += [f"min({x}) AS lo{i}", f"max({x}) AS hi{i}", f"avg({x}) AS me{i}"]
            items += [f"var_pop({x}) * count({v}) AS m{i}", f"count_if({whole}) AS w{i}"]
        else:
            items += [f"CAST(min({v}) AS VARCHAR) AS lo{i}", f"CAST(max({v}) AS VARCHAR) AS hi{i}"]
    yyyymmdd = "CAST(strftime(partition_date, '%Y%m%d') AS INTEGER)" if dates else "partition_date"
    wide = con.sql(
        f"SELECT * REPLACE ({yyyymmdd} AS partition_date) FROM (SELECT {group}, {key} AS __k, "
        f"{', '.join(items)} FROM {rows} GROUP BY ALL) ORDER BY __k"
    ).to_arrow_table()
    order = wide.column("__k")
    base = {
        "partition_date": wide.column("partition_date").cast(pa.int32()),
        "partition_hour": wide.column("partition_hour").cast(pa.int32())
        if "partition_hour" in keys
        else pa.nulls(wide.num_rows, pa.int32()),
    }
    total = wide.column("__rows")
    parts = []
    if not columns:  # no features: only the partitions' rows
        parts.append(_typed({**base, "count": total, "nulls": 0}, wide.num_rows))
    for i, (name, type_) in enumerate(plain):
        count = wide.column(f"c{i}")
        row = {**base, "column": name, "kind": kind_of(type_), "type": type_, "count": count,
               "nulls": pc.subtract(total, count)}  # fmt: skip
        if kind_of(type_) == "numeric":
            row |= {"min": wide.column(f"lo{i}"), "max": wide.column(f"hi{i}"),
                    "mean": wide.column(f"me{i}"), "m2": wide.column(f"m{i}"),
                    "whole": wide.column(f"w{i}")}  # fmt: skip
            if name in edges:
                row |= _histograms(con, rows, key, name, edges[name], order)
        else:
            row |= {"min_text": wide.column(f"lo{i}"), "max_text": wide.column(f"hi{i}")}
        approx = wide.column(f"a{i}").to_pylist()
        row["sketch"] = _sketches(con, rows, key, name, approx, order)
        parts.append(_typed(row, wide.num_rows))
    for name, type_ in columns:
        if kind_of(type_) == "categorical":
            counted = _value_counts(con, rows, key, name, order)
            row = {**base, "column": name, "kind": "categorical", "type": type_, **counted}
            parts.append(_typed(row, wide.num_rows))
    table = pa.concat_tables(parts, promote_options="permissive")
    hours = pc.binary_join_element_wise(
        "/partition_hour=", table.column("partition_hour").cast(pa.string()), ""
    )
    slot = pc.binary_join_element_wise(
        "partition_date=",
        table.column("partition_date").cast(pa.string()),
        pc.if_else(table.column("partition_hour").is_null(), "", hours),
        "",
    )
    table = table.add_column(0, "slot", slot)
    return table.sort_by([("partition_date", "ascending"), ("partition_hour", "ascending"),
                          ("column", "ascending")]).select(list(ROW_TYPES))  # fmt: skip


def _typed(row: Mapping[str, Any], length: int) -> pa.Table:
    """A statistics table from columns and scalars, every row column in its type."""
    import pyarrow as pa

    types = {c: t for c, t in _arrow_types().items() if c != "slot"}
    columns = {}
    for name, arrow_type in types.items():
        value = row.get(name)
        if isinstance(value, pa.ChunkedArray | pa.Array):
            columns[name] = value.cast(arrow_type)
        else:
            columns[name] = pa.array([value] * length, arrow_type)
    return pa.table(columns)


def _aligned(result: pa.Table, column: str, order: pa.ChunkedArray) -> pa.ChunkedArray:
    """``result``'s ``column`` in the partition order of ``order`` (null where absent)."""
    import pyarrow.compute as pc

    positions = pc.index_in(order, value_set=result.column("__k"))
    return result.column(column).take(positions)


def _histograms(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    key: str,
    name: str,
    edges: tuple[float, float],
    order: pa.ChunkedArray,
) -> dict[str, Any]:
    """22 bins per partition: below ``lo``, 20 equal ones up to ``hi`` (the last holds
    ``hi``), above ``hi`` (and NaN)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    low, high = edges
    x = f"CAST({sql.ident(name)} AS DOUBLE)"
    bin_sql = (
        f"CASE WHEN {x} < {low!r} THEN 0 WHEN {x} > {high!r} OR isnan({x}) THEN {BINS + 1} "
        f"ELSE 1 + least(CAST(floor(({x} - {low!r}) * {BINS / (high - low)!r}) AS INTEGER), "
        f"{BINS - 1}) END"
    )
    cells = ", ".join(f"coalesce(sum(n) FILTER (b = {i}), 0)" for i in range(BINS + 2))
    result = con.sql(
        f"SELECT __k, CAST([{cells}] AS BIGINT[]) AS hist FROM (SELECT {key} AS __k, "
        f"{bin_sql} AS b, count(*) AS n FROM {rows} WHERE {sql.ident(name)} IS NOT NULL "
        "GROUP BY ALL) GROUP BY __k"
    ).to_arrow_table()
    hist = _aligned(result, "hist", order)
    empty = pa.array([[0] * (BINS + 2)] * len(order), pa.list_(pa.int64()))
    return {"hist": pc.if_else(hist.is_null(), empty, hist), "lo": low, "hi": high}


def _sketches(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    key: str,
    name: str,
    approx: Sequence[int | None],
    order: pa.ChunkedArray,
) -> pa.ChunkedArray:
    """Per partition the k smallest distinct hashes of the values. When every partition
    has many distinct values (by the estimate), only hashes below a threshold that
    keeps about 4k of them in the smallest one are deduplicated; a partition where that
    kept fewer than k (the estimate was far off: practically never) is done again."""
    v = sql.ident(name)
    fewest = min((a for a in approx if a), default=0)
    limit = 4 * SKETCH_SIZE
    threshold = _MAX_HASH if fewest <= limit else int(_MAX_HASH * (limit / fewest))
    where = f"{v} IS NOT NULL" + (f" AND hash({v}) <= {threshold}" if threshold < _MAX_HASH else "")

    def run(condition: str) -> pa.Table:
        return con.sql(
            f"SELECT __k, min(h, {SKETCH_SIZE}) AS sketch FROM (SELECT DISTINCT {key} AS __k, "
            f"hash({v}) AS h FROM {rows} WHERE {condition}) GROUP BY __k"
        ).to_arrow_table()

    result = run(where)
    if threshold < _MAX_HASH:
        import pyarrow as pa
        import pyarrow.compute as pc

        short = result.filter(pc.less(pc.list_value_length(result.column("sketch")), SKETCH_SIZE))
        if short.num_rows:
            listed = ", ".join(str(k) for k in short.column("__k").to_pylist())
            redone = run(f"{v} IS NOT NULL AND {key} IN ({listed})")
            kept = result.filter(pc.invert(pc.is_in(result.column("__k"), redone.column("__k"))))
            result = pa.concat_tables([kept, redone])
    return _aligned(result, "sketch", order)


def _value_counts(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    key: str,
    name: str,
    order: pa.ChunkedArray,
) -> dict[str, Any]:
    """A string or boolean feature's numbers per partition, from its (value, count) pairs."""
    text, ranked = "CAST(v AS VARCHAR)", "ORDER BY n DESC, CAST(v AS VARCHAR)"
    keep = f"CASE WHEN len(l) <= {MAX_VALUES} THEN len(l) ELSE {TOP_VALUES} END"
    result = con.sql(
        f'SELECT *, l[1:{keep}] AS "values", c[1:{keep}] AS value_counts, '
        f"CASE WHEN l IS NULL THEN NULL ELSE count - coalesce(list_sum(c[1:{keep}]), 0) "
        f"END AS other FROM (SELECT __k, CAST(coalesce(sum(n) FILTER (v IS NOT NULL), 0) AS "
        f"BIGINT) AS count, CAST(coalesce(sum(n) FILTER (v IS NULL), 0) AS BIGINT) AS nulls, "
        f"min({text}) AS min_text, "
        f"max({text}) AS max_text, min(hash(v), {SKETCH_SIZE}) FILTER (v IS NOT NULL) AS "
        f"sketch, list({text} {ranked}) FILTER (v IS NOT NULL) AS l, list(n {ranked}) "
        f"FILTER (v IS NOT NULL) AS c FROM (SELECT {key} AS __k, {sql.ident(name)} AS v, "
        f"count(*) AS n FROM {rows} GROUP BY ALL) GROUP BY __k)"
    ).to_arrow_table()
    names = ("count", "nulls", "min_text", "max_text", "sketch", "values", "value_counts", "other")
    return {c: _aligned(result, c, order) for c in names}


def _arrow_types() -> dict[str, pa.DataType]:
    """The statistics rows' Arrow types."""
    import pyarrow as pa

    scalar = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "BIGINT": pa.int64(),
              "DOUBLE": pa.float64()}  # fmt: skip
    lists = {"UBIGINT[]": pa.list_(pa.uint64()), "BIGINT[]": pa.list_(pa.int64()),
             "VARCHAR[]": pa.list_(pa.string())}  # fmt: skip
    return {c: {**scalar, **lists}[t] for c, t in ROW_TYPES.items()}


# -- combining rows: partials of one partition, or the partitions of a window ------------


def combine(rows: pa.Table, *, truncate: bool) -> dict[str, Any]:
    """One row from several rows of the same feature (newest last): the partials of one
    partition (``truncate``: its value counts kept as a partition keeps them) or all the
    partitions of a window."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    last = rows.slice(rows.num_rows - 1).to_pylist()[0]
    kind = last["kind"]
    same = rows.filter(pc.equal(rows.column("kind"), kind))
    out: dict[str, Any] = {c: last.get(c) for c in ("slot", "partition_date", "partition_hour",
                                                    "column", "kind", "type")}  # fmt: skip
    out |= {"count": int(pc.sum(rows.column("count")).as_py() or 0),
            "nulls": int(pc.sum(rows.column("nulls")).as_py() or 0)}  # fmt: skip
    hashes = pc.list_flatten(same.column("sketch")).to_numpy(zero_copy_only=False)
    out["sketch"] = [int(h) for h in np.unique(hashes.astype(np.uint64))[:SKETCH_SIZE]]
    if kind == "numeric":
        n = _floats(same, "count")
        some = n > 0
        total = float(n[some].sum())
        means, m2s = _floats(same, "mean")[some], _floats(same, "m2")[some]
        mean = float((n[some] * means).sum() / total) if total else None
        m2 = float(m2s.sum() + (n[some] * (means - mean) ** 2).sum()) if mean is not None else None
        out |= {
            "min": pc.min(same.column("min")).as_py(),
            "max": pc.max(same.column("max")).as_py(),
            "mean": mean,
            "m2": m2,
            "whole": int(pc.sum(same.column("whole")).as_py() or 0),
        }
        edges = (last["lo"], last["hi"])
        binned = same.filter(pc.is_valid(same.column("hist")))
        if edges[0] is not None:  # the table's edges: partitions binned otherwise are left out
            binned = binned.filter(pc.and_(pc.equal(binned.column("lo"), edges[0]),
                                           pc.equal(binned.column("hi"), edges[1])))  # fmt: skip
        if edges[0] is not None and binned.num_rows:
            cells = pc.list_flatten(binned.column("hist")).to_numpy(zero_copy_only=False)
            out |= {"hist": [int(c) for c in cells.reshape(-1, BINS + 2).sum(axis=0)],
                    "lo": edges[0], "hi": edges[1]}  # fmt: skip
    elif kind == "categorical":
        out |= {"min_text": pc.min(same.column("min_text")).as_py(),
                "max_text": pc.max(same.column("max_text")).as_py()}  # fmt: skip
        pairs = pa.table({"v": pc.list_flatten(same.column("values")),
                          "n": pc.list_flatten(same.column("value_counts"))})  # fmt: skip
        merged = pairs.group_by("v").aggregate([("n", "sum")]).sort_by(
            [("n_sum", "descending"), ("v", "ascending")])  # fmt: skip
        values, counts = merged.column("v").to_pylist(), merged.column("n_sum").to_pylist()
        other = int(pc.sum(same.column("other")).as_py() or 0)
        if truncate and len(values) > MAX_VALUES:
            other += sum(counts[TOP_VALUES:])
            values, counts = values[:TOP_VALUES], counts[:TOP_VALUES]
        out |= {"values": values, "value_counts": counts, "other": other}
    else:
        out |= {"min_text": pc.min(same.column("min_text")).as_py(),
                "max_text": pc.max(same.column("max_text")).as_py()}  # fmt: skip
    return out


def _floats(table: pa.Table, column: str) -> Any:
    import numpy as np

    return np.asarray(table.column(column).to_numpy(zero_copy_only=False), dtype=np.float64)


def combine_partials(parts: Sequence[pa.Table]) -> pa.Table:
    """The batches' rows with the partitions split between batches combined."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.concat_tables(parts)
    key = pc.binary_join_element_wise(table.column("slot"), pc.fill_null(table.column(
        "column"), ""), "\x00")  # fmt: skip
    table = table.append_column("__key", key)
    counts = table.group_by("__key").aggregate([("__key", "count")])
    split = counts.filter(pc.greater(counts.column("__key_count"), 1)).column("__key")
    if len(split) == 0:
        return table.drop_columns(["__key"])
    whole = table.filter(pc.invert(pc.is_in(table.column("__key"), split)))
    combined = [combine(table.filter(pc.equal(table.column("__key"), k)), truncate=True)
                for k in split.to_pylist()]  # fmt: skip
    schema = whole.drop_columns(["__key"]).schema
    merged = pa.concat_tables([whole.drop_columns(["__key"]),
                               pa.Table.from_pylist(combined, schema=schema)])  # fmt: skip
    return merged.sort_by([("partition_date", "ascending"), ("partition_hour", "ascending"),
                           ("column", "ascending")])  # fmt: skip


def feature_columns(described: Sequence[tuple[str, str]], job: Job | None) -> list[tuple[str, str]]:
    """The feature columns of ``described`` (name, type), in the job header's order."""
    skip = {"partition_date", "partition_hour"}
    if job is not None:
        skip |= {*job.entities, job.timestamp}
    columns = [(name, type_) for name, type_ in described if name not in skip]
    if job is not None and job.columns:
        order = {c.name: i for i, c in enumerate(job.columns)}
        columns.sort(key=lambda c: order.get(c[0], len(order)))
    return columns


def rows_by_slot(rows: pa.Table) -> dict[str, int]:
    """A partition's rows: the count plus the nulls of any one of its features."""
    found: dict[str, int] = {}
    for slot, count, nulls in zip(rows.column("slot").to_pylist(), rows.column("count").to_pylist(),
                                  rows.column("nulls").to_pylist(), strict=True):  # fmt: skip
        found.setdefault(slot, int(count) + int(nulls))
    return found
