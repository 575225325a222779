"""describe and preview, and one clear error for an unreadable source, never with a secret."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from featurestore.errors import RawSourceError
from featurestore.raw import attach, check, describe, preview
from featurestore.redis_server import free_port
from tests.featurestore.raw.conftest import COLUMNS, ROWS, one, write, write_sqlite
from tests.postgres import PASSWORD, PostgresServer

TYPES = [
    ("id", "INTEGER"),
    ("origin", "VARCHAR"),
    ("delay", "DOUBLE"),
    ("time_hour", "TIMESTAMP WITH TIME ZONE"),
]


def test_parquet_and_csv(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(con, ROWS, tmp_path / "a.parquet", "parquet")
    write(con, ROWS, tmp_path / "a.csv", "csv")
    parquet = one({"format": "parquet", "path": "a.parquet"}, tmp_path)
    csv = one({"format": "csv", "path": "a.csv", "columns": COLUMNS}, tmp_path)
    assert describe(con, parquet) == TYPES
    assert describe(con, csv) == TYPES
    table = preview(con, csv, 2)
    assert table.column_names == [name for name, _ in TYPES]
    assert table.to_pydict()["origin"] == ["JFK", "LGA"]


def test_sqlite(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write_sqlite(
        tmp_path / "a.sqlite", "CREATE TABLE t (id INTEGER, name TEXT)", [(1, "x"), (2, "y")]
    )
    source = one({"format": "sqlite", "path": "a.sqlite", "table": "t"}, tmp_path)
    assert describe(con, source) == [("id", "BIGINT"), ("name", "VARCHAR")]
    assert preview(con, source, 1).to_pylist() == [{"id": 1, "name": "x"}]


@pytest.mark.postgres
def test_postgres(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, postgres_server: PostgresServer
) -> None:
    postgres_server.execute(
        "DROP TABLE IF EXISTS described",
        "CREATE TABLE described (id int4, origin text, delay float8, time_hour timestamptz)",
        "INSERT INTO described VALUES (1, 'JFK', 1.5, '2013-01-01 05:00+00'),"
        " (2, 'LGA', NULL, NULL)",
    )
    source = one(
        {"format": "postgres", "url": postgres_server.url(), "table": "described"}, tmp_path
    )
    assert describe(con, source) == TYPES
    assert preview(con, source, 1).to_pydict()["origin"] == ["JFK"]


def assert_unreadable(con: duckdb.DuckDBPyConnection, source: object, *needles: str) -> str:
    """Every entry point fails with one RawSourceError naming the source, without PASSWORD."""
    messages = []
    for call in (
        lambda: describe(con, source),  # type: ignore[arg-type]
        lambda: preview(con, source, 5),  # type: ignore[arg-type]
        lambda: attach(con, {"src": source}),  # type: ignore[dict-item]
    ):
        with pytest.raises(RawSourceError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith("raw source 'src' (") and "\n" not in message
        assert PASSWORD not in message and PASSWORD not in repr(caught.value.args)
        # No driver error chained: a logged traceback would show its text unscrubbed.
        error = caught.value
        assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
        for needle in needles:
            assert needle in message, message
        messages.append(message)
    return messages[0]


def test_missing_files_and_tables(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    assert_unreadable(con, one({"format": "parquet", "path": "no.parquet"}, tmp_path), "no.parquet")
    assert_unreadable(con, one({"format": "csv", "path": "no/*.csv"}, tmp_path), "no/*.csv")
    assert_unreadable(
        con,
        one({"format": "sqlite", "path": "no.sqlite", "table": "t"}, tmp_path),
        "no such database file",
    )
    assert not (tmp_path / "no.sqlite").exists()
    assert_unreadable(
        con,
        one({"format": "duckdb", "path": "no.duckdb", "table": "t"}, tmp_path),
        "no such database file",
    )
    write_sqlite(tmp_path / "a.sqlite", "CREATE TABLE t (id INTEGER)", [(1,)])
    assert_unreadable(
        con,
        one({"format": "sqlite", "path": "a.sqlite", "query": "SELECT * FROM nosuch"}, tmp_path),
        "nosuch",
    )


@pytest.mark.postgres
def test_postgres_errors_never_show_the_password(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = postgres_server
    wrong = one(
        {"format": "postgres", "url": server.url(password=PASSWORD + "x"), "table": "t"}, tmp_path
    )
    message = assert_unreadable(con, wrong, "password authentication failed", "app:***@")
    assert PASSWORD + "x" not in message

    down = server.url().replace(f":{server.port}/", f":{free_port()}/")
    assert_unreadable(
        con, one({"format": "postgres", "url": down, "table": "t"}, tmp_path), "Connection refused"
    )

    missing = one({"format": "postgres", "url": server.url(), "table": "public.nosuch"}, tmp_path)
    assert_unreadable(con, missing, 'relation "public.nosuch" does not exist')

    from_env = one(
        {"format": "postgres", "url": server.url(password="${RAW_TEST_PW}"), "table": "t"}, tmp_path
    )
    monkeypatch.delenv("RAW_TEST_PW", raising=False)
    assert_unreadable(con, from_env, "environment variable RAW_TEST_PW")
    monkeypatch.setenv("RAW_TEST_PW", PASSWORD + "y")
    assert_unreadable(con, from_env, "password authentication failed")
    with pytest.raises(RawSourceError) as caught:
        check(con, from_env.__class__(**{**from_env.__dict__, "columns": {"id": "INTEGER"}}))
    assert PASSWORD not in str(caught.value)
