"""Every format, attached, is read by its name in a DuckDB query."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from featurestore import sql
from featurestore.errors import RawSourceError
from featurestore.raw import attach, parse_sources
from tests.featurestore.raw.conftest import COLUMNS, EXPECTED, ROWS, one, read, write, write_sqlite
from tests.postgres import PostgresServer


def test_parquet_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(con, ROWS, tmp_path / "raw/flights.parquet", "parquet")
    sources = parse_sources(
        {"flights": {"format": "parquet", "path": "raw/flights.parquet"}}, tmp_path
    )
    assert attach(con, sources) == ["flights"]
    assert read(con, "flights") == EXPECTED


def test_hive_folder_adds_partition_columns(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(
        con, f"SELECT * FROM ({ROWS}) WHERE id < 3", tmp_path / "f/day=1/part-0.parquet", "parquet"
    )
    write(
        con, f"SELECT * FROM ({ROWS}) WHERE id = 3", tmp_path / "f/day=2/part-0.parquet", "parquet"
    )
    attach(con, {"src": one({"format": "parquet", "path": "f"}, tmp_path)})
    assert read(con) == EXPECTED
    assert con.execute("SELECT day, count(*) FROM src GROUP BY day ORDER BY day").fetchall() == [
        (1, 2),
        (2, 1),
    ]


def test_glob_as_given(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(con, f"SELECT * FROM ({ROWS}) WHERE id < 3", tmp_path / "a_1.parquet", "parquet")
    write(con, f"SELECT * FROM ({ROWS}) WHERE id = 3", tmp_path / "a_2.parquet", "parquet")
    write(con, f"SELECT * FROM ({ROWS})", tmp_path / "b_1.parquet", "parquet")
    attach(con, {"src": one({"format": "parquet", "path": "a_*.parquet"}, tmp_path)})
    assert read(con) == EXPECTED


def test_csv_is_read_with_the_declared_types(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    (tmp_path / "w.csv").write_text(
        "id;origin;delay;time_hour\n"
        "1;JFK;1.5;2013-01-01 05:00:00+00\n"
        "2;LGA;NA;2013-01-02 06:00:00+00\n"
        "3;EWR;-2;2013-01-02 07:00:00+00\n"
    )
    spec = {
        "format": "csv",
        "path": "w.csv",
        "options": {"header": True, "delimiter": ";", "nullstr": "NA"},
        "columns": {**COLUMNS, "id": "BIGINT", "origin": "TEXT"},
    }
    attach(con, {"src": one(spec, tmp_path)})
    assert read(con) == EXPECTED
    assert [(r[0], r[1]) for r in con.execute("DESCRIBE src").fetchall()] == [
        ("id", "BIGINT"),
        ("origin", "VARCHAR"),
        ("delay", "DOUBLE"),
        ("time_hour", "TIMESTAMP WITH TIME ZONE"),
    ]


def test_csv_declared_varchar_keeps_leading_zeros(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Inference would make 007 the number 7; the declared VARCHAR keeps it as written."""
    (tmp_path / "z.csv").write_text("code,n\n007,1\n010,2\n")
    spec = {"format": "csv", "path": "z.csv", "columns": {"code": "VARCHAR", "n": "INTEGER"}}
    attach(con, {"src": one(spec, tmp_path)})
    assert con.execute("SELECT code FROM src ORDER BY n").fetchall() == [("007",), ("010",)]


@pytest.mark.parametrize("layout", ["ndjson", "array"])
def test_json(con: duckdb.DuckDBPyConnection, tmp_path: Path, layout: str) -> None:
    path = write(con, ROWS, tmp_path / "e.json", "json")
    if layout == "array":
        path.write_text("[" + ",".join(path.read_text().splitlines()) + "]")
    attach(con, {"src": one({"format": "json", "path": "e.json", "columns": COLUMNS}, tmp_path)})
    assert read(con) == EXPECTED


def test_duckdb_table_and_query(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    db = sql.connect()
    db.execute(f"ATTACH {sql.path_literal(tmp_path / 'app.duckdb')} AS app")
    db.execute(f"CREATE TABLE app.events AS {ROWS}")
    db.execute("CREATE SCHEMA app.ops")
    db.execute("CREATE TABLE app.ops.airports AS SELECT 'JFK' AS faa, 'Kennedy' AS name")
    db.close()
    query = (
        "WITH e AS (SELECT * FROM events) "
        "SELECT e.id, e.origin, e.delay, a.name FROM e LEFT JOIN ops.airports a ON a.faa = e.origin"
    )
    sources = parse_sources(
        {
            "events": {"format": "duckdb", "path": "app.duckdb", "table": "events"},
            "named": {"format": "duckdb", "path": "app.duckdb", "query": query},
        },
        tmp_path,
    )
    attach(con, sources)
    assert read(con, "events") == EXPECTED
    assert con.execute("SELECT id, name FROM named ORDER BY id").fetchall() == [
        (1, "Kennedy"),
        (2, None),
        (3, None),
    ]
    # One READ_ONLY attachment for both sources.
    assert con.execute(
        "SELECT count(*), bool_and(readonly) FROM duckdb_databases() WHERE path LIKE '%app.duckdb'"
    ).fetchone() == (1, True)


def test_sqlite_table_and_query(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write_sqlite(
        tmp_path / "app.sqlite",
        "CREATE TABLE events (id INTEGER, origin TEXT, delay REAL, time_hour TEXT)",
        [(1, "JFK", 1.5, "2013-01-01"), (2, "LGA", None, "x"), (3, "EWR", -2.0, "y")],
    )
    sources = parse_sources(
        {
            "events": {"format": "sqlite", "path": "app.sqlite", "table": "events"},
            "late": {
                "format": "sqlite",
                "path": "app.sqlite",
                "query": "SELECT id, origin, delay FROM events WHERE delay > 0",
            },
        },
        tmp_path,
    )
    attach(con, sources)
    assert read(con, "events") == EXPECTED
    assert con.execute("SELECT id FROM late").fetchall() == [(1,)]


@pytest.mark.postgres
def test_postgres_table_and_query(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    postgres_server.execute(
        "DROP TABLE IF EXISTS public.orders",
        "CREATE TABLE public.orders (id int4, origin text, delay float8, time_hour timestamptz,"
        " amount numeric(10, 2))",
        "INSERT INTO public.orders VALUES (1, 'JFK', 1.5, '2013-01-01 05:00+00', 9.99),"
        " (2, 'LGA', NULL, '2013-01-02 06:00+00', NULL), (3, 'EWR', -2, '2013-01-02 07:00+00', 1)",
    )
    monkeypatch.setenv("PGPASSWORD_TEST", postgres_server.url().split(":")[2].split("@")[0])
    url = postgres_server.url(password="${PGPASSWORD_TEST}")
    sources = parse_sources(
        {
            "orders": {"format": "postgres", "url": url, "table": "public.orders"},
            "early": {
                "format": "postgres",
                "url": url,
                "query": "SELECT id, time_hour FROM orders WHERE time_hour < '2013-01-02'",
            },
        },
        tmp_path,
    )
    assert attach(con, sources, only=["ORDERS", "early", "not_a_source"]) == ["orders", "early"]
    assert read(con, "orders") == EXPECTED
    assert con.execute("SELECT amount FROM orders ORDER BY id").fetchall() == [
        ("9.99",),
        (None,),
        ("1.00",),
    ]
    assert con.execute("SELECT id FROM early").fetchall() == [(1,)]
    assert con.execute(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'orders' AND column_name = 'time_hour'"
    ).fetchone() == ("TIMESTAMP WITH TIME ZONE",)


def test_only_attaches_the_named_sources(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(con, ROWS, tmp_path / "a.parquet", "parquet")
    sources = parse_sources(
        {
            "a": {"format": "parquet", "path": "a.parquet"},
            "missing": {"format": "parquet", "path": "nowhere.parquet"},
        },
        tmp_path,
    )
    assert attach(con, sources, only={"A"}) == ["a"]
    with pytest.raises(RawSourceError, match=r"raw source 'missing' \(.*nowhere.parquet\)"):
        attach(con, sources)
