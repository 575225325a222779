"""parse_sources: a good ``sources:`` mapping, and one clear ConfigError line per mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from featurestore.errors import ConfigError
from featurestore.raw import RawSource, parse_sources

GOOD = """
sources:
  flights:
    format: parquet
    path: data/raw/flights.parquet
    description: Every flight that left New York in 2013
    columns: {year: int, time_hour: TIMESTAMPTZ, price: "DECIMAL(10, 2)"}
  weather:
    format: csv
    path: raw/weather.csv
    options: {header: true, delimiter: ",", nullstr: NA}
    columns: {origin: VARCHAR, temp: DOUBLE, time_hour: TIMESTAMPTZ}
  events:
    format: duckdb
    path: raw/app.duckdb
    table: events
  orders:
    format: postgres
    url: postgresql://app:${PGPASSWORD}@127.0.0.1:5432/shop
    table: public.orders
"""


def test_a_good_project_file(tmp_path: Path) -> None:
    sources = parse_sources(yaml.safe_load(GOOD)["sources"], tmp_path)
    assert list(sources) == ["flights", "weather", "events", "orders"]
    flights = sources["flights"]
    assert flights == RawSource(
        name="flights",
        format="parquet",
        path=tmp_path / "data/raw/flights.parquet",
        columns={
            "year": "INTEGER",
            "time_hour": "TIMESTAMP WITH TIME ZONE",
            "price": "DECIMAL(10,2)",
        },
        description="Every flight that left New York in 2013",
    )
    assert sources["weather"].options == {"header": True, "delimiter": ",", "nullstr": "NA"}
    assert sources["orders"].url == "postgresql://app:${PGPASSWORD}@127.0.0.1:5432/shop"
    assert (
        sources["orders"].location
        == "postgresql://app:***@127.0.0.1:5432/shop, table public.orders"
    )
    assert sources["events"].location == f"{tmp_path / 'raw/app.duckdb'}, table events"


def test_a_written_password_is_never_shown(tmp_path: Path) -> None:
    spec = {
        "format": "postgres",
        "url": "postgresql://u:hunter2@h/db?password=hunter2",
        "query": "SELECT 1",
    }
    source = parse_sources({"o": spec}, tmp_path)["o"]
    assert "hunter2" not in source.location and "hunter2" not in repr(source.location)


BAD: list[tuple[dict[str, Any], str]] = [
    (
        {"f": {"format": "parket", "path": "x"}},
        "sources.f.format: unknown format 'parket'; "
        "expected one of parquet, csv, json, duckdb, sqlite, postgres",
    ),
    ({"f": {"path": "x"}}, "sources.f.format: missing; expected one of"),
    ({"f": {"format": "parquet"}}, "sources.f: a parquet source needs a path"),
    (
        {"f": {"format": "postgres", "table": "t"}},
        "sources.f: a postgres source needs a url (postgresql://...)",
    ),
    (
        {"f": {"format": "duckdb", "path": "a.duckdb", "table": "t", "query": "SELECT 1"}},
        "sources.f: give table or query, not both",
    ),
    (
        {"f": {"format": "sqlite", "path": "a.sqlite"}},
        "sources.f: a sqlite source needs a table or a query",
    ),
    (
        {"f": {"format": "csv", "path": "a.csv", "options": {"delimeter": ";"}}},
        "sources.f.options: unknown csv option 'delimeter'; known: ",
    ),
    (
        {"f": {"format": "csv", "path": "a.csv", "options": {"header": [1]}}},
        "sources.f.options.header: expected a string, number or boolean",
    ),
    (
        {"f": {"format": "parquet", "path": "a", "columns": {"x": "INTEGR"}}},
        "sources.f.columns.x: 'INTEGR' is not a DuckDB type",
    ),
    (
        {"f": {"format": "parquet", "path": "a", "columns": {"x": "INTEGER); SELECT 1; --"}}},
        "sources.f.columns.x: 'INTEGER); SELECT 1; --' is not a DuckDB type",
    ),
    (
        {"f": {"format": "parquet", "path": "a", "columns": {"x": "INT", "X": "INT"}}},
        "sources.f.columns.X: declared twice",
    ),
    (
        {"my-flights": {"format": "parquet", "path": "a"}},
        "sources.my-flights: the name must be a SQL identifier",
    ),
    (
        {"f": {"format": "parquet", "path": "a"}, "F": {"format": "parquet", "path": "b"}},
        "sources.F: same name as sources.f (names are case-insensitive)",
    ),
    (
        {"f": {"format": "parquet", "path": "a", "colums": {}}},
        "sources.f: unknown key 'colums'; known keys: ",
    ),
    (
        {"f": {"format": "parquet", "path": "a", "table": "t"}},
        "sources.f.table: only database sources have a table",
    ),
    (
        {"f": {"format": "csv", "url": "postgresql://h/db", "path": "a"}},
        "sources.f.url: only postgres sources have a url; use path",
    ),
    (
        {"f": {"format": "postgres", "url": "mysql://h/db", "table": "t"}},
        "sources.f.url: expected postgresql://user:password@host/db",
    ),
    (
        {"f": {"format": "postgres", "url": "postgresql://u:${PG PASS}@h/db", "table": "t"}},
        "sources.f.url: a '${' that does not start a ${NAME}",
    ),
    (
        {"f": {"format": "postgres", "url": "postgresql://h/db", "table": "t; DROP x"}},
        "sources.f.table: 't; DROP x' is not a table name",
    ),
    ({"f": {"format": "parquet", "path": ""}}, "sources.f.path: expected a non-empty string"),
    ({"f": "flights.parquet"}, "sources.f: expected a mapping with at least format and path/url"),
]


@pytest.mark.parametrize(
    ("mapping", "line"),
    BAD,
    ids=[line.split(":")[0] + "|" + line.split(":")[1][:24] for _, line in BAD],
)
def test_one_clear_line_per_mistake(tmp_path: Path, mapping: dict[str, Any], line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_sources(mapping, tmp_path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(line)


def test_every_mistake_is_reported_at_once(tmp_path: Path) -> None:
    mapping = {
        "a": {"format": "parket", "path": "x"},
        "b": {"format": "csv"},
        "c": {"format": "json", "path": "y", "columns": {"n": "NUMBR"}},
    }
    with pytest.raises(ConfigError) as caught:
        parse_sources(mapping, tmp_path)
    assert [line.split(":")[0] for line in caught.value.problems] == [
        "sources.a.format",
        "sources.b",
        "sources.c.columns.n",
    ]


def test_no_sources(tmp_path: Path) -> None:
    assert parse_sources(None, tmp_path) == {}
    with pytest.raises(ConfigError, match="sources: expected a mapping"):
        parse_sources(["flights"], tmp_path)  # type: ignore[arg-type]


def test_the_readme_sources_example_parses(tmp_path: Path) -> None:
    """README "Your own project", section 2: every kind of source, as written."""
    import re

    import yaml

    from tests.conftest import ROOT

    text = (ROOT / "README.md").read_text().split("### 2. Raw sources", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert block is not None
    sources = parse_sources(yaml.safe_load(block.group(1))["sources"], tmp_path)
    assert {s.format for s in sources.values()} == {
        "parquet", "csv", "json", "duckdb", "sqlite", "postgres"
    }  # fmt: skip
    assert "${SHOP_DB_PASSWORD}" not in sources["orders"].location


def test_every_mistake_is_on_the_one_line_the_cli_prints(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_sources({"a": {"format": "xls"}, "b": {"path": "b.csv"}}, tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.count("; ") >= 1
