"""A second project, a shop, on data the test makes: one raw source of every kind feeds
one job, and a schema change in any of them stops the run before anything is written.

    customers  CSV with declared columns (read with those types)
    visits     a folder of hive-partitioned Parquet files
    devices    a SQLite file (a query)
    payments   a DuckDB database file (a table)
    orders     a PostgreSQL table on the session's real server, password from ${VAR}
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from featurestore import sql
from featurestore.errors import RawSchemaDriftError, RawSourceError
from featurestore.project import Project
from ingestion import feature_table_path, run_jobs
from tests.ingestion.conftest import job_fails, snapshot, write_job
from tests.postgres import PASSWORD, PostgresServer

pytestmark = pytest.mark.postgres

JAN1, JAN4 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 4, tzinfo=UTC)
HEADER = """
entities: customer_id
timestamp: event_timestamp
column: customer_id BIGINT
column: event_timestamp TIMESTAMPTZ
column: segment VARCHAR not null in ('retail', 'business')
column: orders_1d BIGINT not null min 0
column: amount_1d DOUBLE min 0
column: visits_1d BIGINT not null min 0
column: paid_1d DOUBLE min 0
column: device VARCHAR
"""
SQL = """
WITH days AS (
    SELECT unnest(generate_series(DATE '2026-01-01', DATE '2026-01-03', INTERVAL 1 DAY)) AS d
)
SELECT
    c.customer_id,
    CAST(days.d AS TIMESTAMPTZ) + INTERVAL 1 DAY AS event_timestamp,
    c.segment,
    (SELECT count(*) FROM orders o WHERE o.customer_id = c.customer_id
        AND CAST(o.ordered_at AS DATE) = days.d) AS orders_1d,
    (SELECT sum(amount) FROM orders o WHERE o.customer_id = c.customer_id
        AND CAST(o.ordered_at AS DATE) = days.d) AS amount_1d,
    (SELECT count(*) FROM visits v WHERE v.customer_id = c.customer_id
        AND v.day = days.d) AS visits_1d,
    (SELECT sum(paid) FROM payments p WHERE p.customer_id = c.customer_id
        AND CAST(p.paid_at AS DATE) = days.d) AS paid_1d,
    (SELECT max(model) FROM devices dv WHERE dv.customer_id = c.customer_id) AS device
FROM customers AS c, days
"""


@pytest.fixture
def shop(
    tmp_path: Path, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> Project:
    root = tmp_path / "shop"
    (root / "raw").mkdir(parents=True)
    (root / "feature_repo").mkdir()
    (root / "feature_repo" / "feature_store.yaml").write_text(
        "project: shop\nprovider: local\nregistry: ../data/registry.db\n"
    )
    (root / "raw" / "customers.csv").write_text(
        "customer_id,segment,signed_up\n1,retail,2025-12-01\n2,business,2025-12-15\n"
    )
    con = sql.connect()
    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        folder = root / "raw" / "visits" / f"day={day}"
        folder.mkdir(parents=True)
        con.execute(
            f"COPY (SELECT CAST(1 + i % 2 AS BIGINT) AS customer_id, 'home' AS page "
            f"FROM range({day[-1]}) t(i)) TO {sql.path_literal(folder / 'part-0.parquet')} "
            "(FORMAT parquet)"
        )
    con.close()
    payments = duckdb.connect(str(root / "raw" / "payments.duckdb"))
    payments.execute(
        "CREATE TABLE payments AS SELECT * FROM (VALUES "
        "(1, TIMESTAMPTZ '2026-01-02 10:00:00+00', 30.0), "
        "(2, TIMESTAMPTZ '2026-01-03 11:00:00+00', 99.5)) AS t(customer_id, paid_at, paid)"
    )
    payments.close()
    devices = sqlite3.connect(root / "raw" / "devices.sqlite")
    devices.execute("CREATE TABLE devices (id INTEGER, customer_id INTEGER, model TEXT)")
    devices.executemany("INSERT INTO devices VALUES (?, ?, ?)", [(1, 1, "pixel"), (2, 2, "ios")])
    devices.commit()
    devices.close()
    postgres_server.execute(
        "DROP TABLE IF EXISTS orders",
        "CREATE TABLE orders (order_id bigint, customer_id bigint, amount double precision, "
        "ordered_at timestamptz)",
        "INSERT INTO orders VALUES (1, 1, 10.0, '2026-01-01 09:00+00'), "
        "(2, 1, 15.5, '2026-01-01 18:00+00'), (3, 2, 250.0, '2026-01-03 12:00+00')",
        "GRANT SELECT ON orders TO app",
    )
    monkeypatch.setenv("SHOP_DB_PASSWORD", PASSWORD)
    url = postgres_server.url().replace(PASSWORD, "${SHOP_DB_PASSWORD}")
    sources = {
        "customers": {
            "format": "csv",
            "path": "raw/customers.csv",
            "columns": {"customer_id": "BIGINT", "segment": "VARCHAR", "signed_up": "DATE"},
        },
        "visits": {
            "format": "parquet",
            "path": "raw/visits",
            "columns": {"customer_id": "BIGINT", "page": "VARCHAR"},
        },
        "devices": {
            "format": "sqlite",
            "path": "raw/devices.sqlite",
            "query": "SELECT id, customer_id, model FROM devices",
            "columns": {"id": "BIGINT", "customer_id": "BIGINT", "model": "VARCHAR"},
        },
        "payments": {
            "format": "duckdb",
            "path": "raw/payments.duckdb",
            "table": "payments",
            "columns": {"customer_id": "INTEGER", "paid_at": "TIMESTAMPTZ", "paid": "DECIMAL(3,1)"},
        },
        "orders": {
            "format": "postgres",
            "url": url,
            "table": "public.orders",
            "columns": {
                "order_id": "BIGINT",
                "customer_id": "BIGINT",
                "amount": "DOUBLE",
                "ordered_at": "TIMESTAMPTZ",
            },
        },
    }
    spec = {"name": "shop", "sources": sources}
    (root / "featurestore.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (root / "jobs").mkdir()
    write_job(root / "jobs", "customer_daily", HEADER, SQL)
    return Project.load(root)


def test_one_job_reads_every_kind_of_source(shop: Project) -> None:
    (result,) = run_jobs(shop, start=JAN1, end=JAN4)
    assert (result.status, result.rows, result.rows_quarantined) == ("success", 4, 0)
    con = shop.connect({"customer_daily"})
    rows = con.execute(
        "SELECT customer_id, CAST(event_timestamp AS DATE), segment, orders_1d, amount_1d, "
        "visits_1d, paid_1d, device FROM customer_daily ORDER BY ALL"
    ).fetchall()
    # Windowed to [Jan 1, Jan 4): the rows of days Jan 1..3 become known a day later.
    assert [r[:3] for r in rows] == [
        (1, datetime(2026, 1, 2).date(), "retail"),
        (1, datetime(2026, 1, 3).date(), "retail"),
        (2, datetime(2026, 1, 2).date(), "business"),
        (2, datetime(2026, 1, 3).date(), "business"),
    ]
    assert rows[0][3:] == (2, 25.5, 1, None, "pixel")
    assert rows[3][3:] == (0, None, 1, None, "ios")


def _csv(shop: Project, _: PostgresServer) -> None:
    (shop.root / "raw" / "customers.csv").write_text(
        "customer_id,segment,signed_up\n1,retail,soon\n2,business,2025-12-15\n"
    )


def _parquet(shop: Project, _: PostgresServer) -> None:
    part = shop.root / "raw" / "visits" / "day=2026-01-02" / "part-0.parquet"
    con = sql.connect()
    con.execute(
        f"COPY (SELECT 'one' AS customer_id, 'home' AS page) TO {sql.path_literal(part)} "
        "(FORMAT parquet)"
    )
    con.close()


def _sqlite(shop: Project, _: PostgresServer) -> None:
    db = sqlite3.connect(shop.root / "raw" / "devices.sqlite")
    db.execute("ALTER TABLE devices RENAME COLUMN model TO device_model")
    db.commit()
    db.close()


def _duckdb(shop: Project, _: PostgresServer) -> None:
    db = duckdb.connect(str(shop.root / "raw" / "payments.duckdb"))
    db.execute("ALTER TABLE payments DROP COLUMN paid")
    db.close()


def _postgres(_: Project, server: PostgresServer) -> None:
    server.execute("ALTER TABLE orders ALTER COLUMN amount TYPE text")


@pytest.mark.parametrize(
    ("change", "source", "problem"),
    [
        (_csv, "customers", "column 'signed_up'"),
        (_parquet, "visits", "column 'customer_id' is VARCHAR, declared BIGINT"),
        (_sqlite, "devices", "no such column: model"),  # the query itself fails
        (_duckdb, "payments", "column 'paid' is missing"),
        (_postgres, "orders", "column 'amount' is VARCHAR, declared DOUBLE"),
    ],
)
def test_a_schema_change_in_any_source_is_caught_before_writing(
    shop: Project,
    postgres_server: PostgresServer,
    change: Callable[[Project, PostgresServer], None],
    source: str,
    problem: str,
) -> None:
    run_jobs(shop, start=JAN1, end=JAN4)
    table = feature_table_path(shop, "customer_daily")
    before = snapshot(table)
    change(shop, postgres_server)
    with job_fails((RawSchemaDriftError, RawSourceError)) as error:
        run_jobs(shop, start=JAN1, end=JAN4)
    assert error.job == "customer_daily"
    assert error.value.source == source
    assert problem in str(error.value)
    assert PASSWORD not in str(error.value)
    assert snapshot(table) == before
