"""A dropped, renamed or retyped column is caught in every kind of source, by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import adbc_driver_sqlite.dbapi as sqlite
import duckdb
import pytest

from featurestore import sql
from featurestore.errors import RawSchemaDriftError
from featurestore.raw import RawSource, attach, check, check_sources, describe
from tests.featurestore.raw.conftest import ROWS, one, write
from tests.postgres import PostgresServer

CHANGES = {
    "none": "SELECT * FROM ({rows})",
    "drop": "SELECT id, origin, time_hour FROM ({rows})",
    "rename": "SELECT id, origin, delay AS dep_delay, time_hour FROM ({rows})",
    "retype": "SELECT id, origin, delay || ' min' AS delay, time_hour FROM ({rows})",
}
KINDS = ["parquet", "csv", "ndjson", "duckdb", "sqlite", "postgres"]


def make(
    kind: str, query: str, folder: Path, pg: PostgresServer | None, table_name: str = "events"
) -> dict[str, Any]:
    """A source of ``kind`` holding ``query``'s rows (replacing what was there)."""
    con = sql.connect()
    if kind in ("parquet", "csv", "ndjson"):
        fmt = "json" if kind == "ndjson" else kind
        path = write(con, query, folder / f"src.{kind}", fmt)
        return {"format": fmt, "path": path.name}
    table = con.sql(query).to_arrow_table()
    if kind == "duckdb":
        (folder / "src.duckdb").unlink(missing_ok=True)
        con.execute(f"ATTACH {sql.path_literal(folder / 'src.duckdb')} AS db")
        con.execute(f"CREATE TABLE db.events AS {query}")
        con.close()
        return {"format": "duckdb", "path": "src.duckdb", "table": "events"}
    if kind == "sqlite":
        with sqlite.connect(str(folder / "src.sqlite")) as db, db.cursor() as cur:
            cur.adbc_ingest("events", table, mode="replace")
            db.commit()
        return {"format": "sqlite", "path": "src.sqlite", "table": "events"}
    assert pg is not None
    import adbc_driver_postgresql.dbapi as postgresql

    with postgresql.connect(pg.url()) as db, db.cursor() as cur:
        cur.adbc_ingest(table_name, table, mode="replace")
        db.commit()
    return {"format": "postgres", "url": pg.url(), "table": f"public.{table_name}"}


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
    return str(request.param)


@pytest.fixture
def server(kind: str, request: pytest.FixtureRequest) -> PostgresServer | None:
    return request.getfixturevalue("postgres_server") if kind == "postgres" else None


def unchanged_source(
    con: duckdb.DuckDBPyConnection, kind: str, folder: Path, pg: PostgresServer | None
) -> RawSource:
    """The unchanged source, with the columns it has now declared as its schema."""
    spec = make(kind, CHANGES["none"].format(rows=ROWS), folder, pg)
    columns = dict(describe(con, one(spec, folder)))
    return one({**spec, "columns": columns}, folder, name="ok")


@pytest.mark.parametrize("change", ["drop", "rename", "retype"])
def test_a_changed_column_is_named(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    kind: str,
    server: PostgresServer | None,
    change: str,
) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    unchanged = unchanged_source(con, kind, before, server)
    columns = unchanged.columns
    assert columns is not None and columns["delay"] == "DOUBLE"
    assert check(con, unchanged) == []

    spec = make(kind, CHANGES[change].format(rows=ROWS), after, server, f"events_{change}")
    source = one({**spec, "columns": columns}, after, name="flights")
    problems = check(con, source)
    if change == "drop":
        assert problems == ["column 'delay' is missing (declared DOUBLE)"]
    elif change == "rename":
        assert problems[0] == "column 'delay' is missing (declared DOUBLE)"
        assert "column 'dep_delay' is not declared" in problems[1]
    elif kind in ("csv", "ndjson"):
        assert len(problems) == 1 and problems[0].startswith("column 'delay': ")
        assert "do not parse as DOUBLE" in problems[0] and " min" in problems[0]
    else:
        assert problems == ["column 'delay' is VARCHAR, declared DOUBLE"]

    with pytest.raises(RawSchemaDriftError) as caught:
        check_sources(con, {"flights": source, "ok": unchanged}, only=["FLIGHTS"])
    assert caught.value.source == "flights"
    assert "raw source 'flights'" in str(caught.value) and "'delay'" in str(caught.value)
    check_sources(con, {"flights": source, "ok": unchanged}, only=["ok"])


def test_csv_int_column_turned_text_fails_the_check_not_a_later_query(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    (tmp_path / "w.csv").write_text("id,origin\n1,JFK\n2,LGA\n")
    spec = {"format": "csv", "path": "w.csv", "columns": {"id": "INTEGER", "origin": "VARCHAR"}}
    source = one(spec, tmp_path, "weather")
    assert check(con, source) == []
    (tmp_path / "w.csv").write_text("id,origin\n1,JFK\nA-2,LGA\n3,EWR\n")
    assert check(con, source) == [
        "column 'id': 1 value(s) do not parse as INTEGER (first on line 3: 'A-2,LGA')"
    ]
    # The reader still uses the declared type, so a query would fail: nothing re-inferred it.
    attach(con, {"weather": source})
    with pytest.raises(duckdb.ConversionException):
        con.execute("SELECT sum(id) FROM weather").fetchall()


def test_csv_extra_column_is_a_problem(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    (tmp_path / "w.csv").write_text("id,origin,temp\n1,JFK,3.5\n")
    spec = {"format": "csv", "path": "w.csv", "columns": {"id": "INTEGER", "origin": "VARCHAR"}}
    assert check(con, one(spec, tmp_path)) == ["column 'temp' is not declared (VARCHAR)"]


def test_no_declared_columns_nothing_to_check(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(con, ROWS, tmp_path / "a.parquet", "parquet")
    assert check(con, one({"format": "parquet", "path": "a.parquet"}, tmp_path)) == []
