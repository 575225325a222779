"""Qualify the tables of a DuckDB query with a catalog, in DuckDB's own parser.

A view's tables are looked up when the view is queried, in the connection's catalog then,
so a view over a query written for an attached database file (``SELECT * FROM events``)
must name that catalog itself (``_raw_app.main.events``). DuckDB parses the query into
JSON (``json_serialize_sql``); every base table without a catalog that is not a CTE of
the query gets the catalog (and schema ``main`` if it had none), and DuckDB turns the
tree back into SQL (``json_deserialize_sql``). Table functions (``read_parquet(...)``)
are left alone. A name used as a CTE anywhere in the query is never qualified, which is
conservative: a CTE that shadows a table in one subquery keeps that table unqualified
in another.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb


def qualify_tables(con: duckdb.DuckDBPyConnection, query: str, catalog: str) -> str:
    """``query`` with its unqualified tables read from ``catalog``; ValueError if unparsable."""
    row = con.execute("SELECT json_serialize_sql(?)", [query]).fetchone()
    tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise ValueError(" ".join(str(tree.get("error_message", "cannot parse")).split()))
    if len(tree.get("statements", [])) != 1:
        raise ValueError("expected one SELECT statement")
    ctes: set[str] = set()
    _collect_ctes(tree, ctes)
    _qualify(tree, catalog, ctes)
    try:
        out = con.execute("SELECT json_deserialize_sql(?)", [json.dumps(tree)]).fetchone()
    except duckdb.Error as exc:
        raise ValueError(" ".join(str(exc).split())) from None
    return str(out[0]) if out else query


def _collect_ctes(node: Any, ctes: set[str]) -> None:
    if isinstance(node, dict):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            ctes.update(str(entry["key"]).lower() for entry in cte_map.get("map", []))
        for value in node.values():
            _collect_ctes(value, ctes)
    elif isinstance(node, list):
        for value in node:
            _collect_ctes(value, ctes)


def _qualify(node: Any, catalog: str, ctes: set[str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE" and not node.get("catalog_name"):
            schema, table = node.get("schema_name") or "", str(node.get("table_name", ""))
            if schema or table.lower() not in ctes:
                node["catalog_name"] = catalog
                node["schema_name"] = schema or "main"
                node["qualified_name"] = {"path": [catalog, schema or "main", table]}
        for value in node.values():
            _qualify(value, catalog, ctes)
    elif isinstance(node, list):
        for value in node:
            _qualify(value, catalog, ctes)
