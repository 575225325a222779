"""SQL-looking input through the CLI: job parameters, job names, source names and a
source's table or query in the project file. Each is one clear error line (exit 1) or
an answer about nothing, and the project's files come out as they went in: the run
history, the feature tables and a raw DuckDB database."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from featurestore.scaffold import init_project

FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))
DROP = "'; DROP TABLE runs; --"
WEEK = ["--start", "2026-01-01", "--end", "2026-01-08"]


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    return subprocess.run(
        [FEATURESTORE, "--project", str(project), *args],
        env={**env, "COLUMNS": "200"}, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def _state(project: Path) -> dict[str, object]:
    """What must not change: every data file's bytes, the run history's rows, the raw
    DuckDB database's rows."""
    data = project / "data"
    files = {
        str(path.relative_to(data)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(data.rglob("*"))
        if path.is_file() and path.suffix in (".parquet", ".json")
    }
    history = next(data.rglob("*.sqlite*"), None) or next(data.rglob("*history*"))
    with sqlite3.connect(history) as con:
        runs = con.execute("SELECT * FROM runs ORDER BY run_id").fetchall()
    with duckdb.connect(str(project / "raw" / "payments.duckdb"), read_only=True) as con:
        payments = con.execute("SELECT * FROM payments ORDER BY id").fetchall()
    return {"files": files, "runs": runs, "payments": payments}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``init`` example, ingested once, with a raw DuckDB database as a source."""
    project = init_project(tmp_path_factory.mktemp("hostile") / "shop")
    with duckdb.connect(str(project / "raw" / "payments.duckdb")) as con:
        con.execute("CREATE TABLE payments AS SELECT range AS id, range * 1.5 AS amount "
                    "FROM range(3)")  # fmt: skip
    _edit_sources(project, {"payments": {"format": "duckdb", "path": "raw/payments.duckdb",
                                         "table": "payments"}})  # fmt: skip
    ran = _cli(project, "ingest", "run")
    assert ran.returncode == 0, ran.stderr
    return project


def _edit_sources(project: Path, sources: dict[str, object]) -> None:
    path = project / "featurestore.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["sources"].update(sources)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def _one_line_error(done: subprocess.CompletedProcess[str], *says: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for text in says:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["ingest", "run", "--start", DROP], ["--start", "is not an ISO date or time"]),
        (["ingest", "run", "--end", f"2026-01-02{DROP}"], ["--end", "is not an ISO date"]),
        (["ingest", "run", f"driver_daily{DROP}"], ["unknown job", "driver_daily"]),
        (["ingest", "backfill", *WEEK, "--step", f"1d{DROP}"], ["step must look like 7d or 6h"]),
        (["ingest", "backfill", "--start", DROP, "--end", "2026-01-03"], ["--start"]),
        (["raw", "preview", f"trips{DROP}"], ["unknown raw source"]),
        (["raw", "describe", 'trips"; DROP TABLE payments; --'], ["unknown raw source"]),
        (["training", "build", f"driver_model{DROP}"], []),
    ],
)
def test_hostile_parameters_are_one_line_and_change_nothing(
    project: Path, args: list[str], says: list[str]
) -> None:
    before = _state(project)
    _one_line_error(_cli(project, *args), *says)
    assert _state(project) == before


def test_a_hostile_job_name_in_the_history_query_matches_nothing(project: Path) -> None:
    before = _state(project)
    everything = _cli(project, "ingest", "status")
    assert everything.returncode == 0 and "driver_daily" in everything.stdout
    for name in ("x' OR '1'='1", f"driver_daily{DROP}"):
        done = _cli(project, "ingest", "status", name)
        assert done.returncode == 0, done.stderr
        assert "driver_daily" not in done.stdout
    assert _state(project) == before


PAYMENTS = {"format": "duckdb", "path": "raw/payments.duckdb"}


@pytest.mark.parametrize(
    ("source", "refused", "says"),
    [
        # Refused when the project file is read: every command says so.
        ({'evil"; DROP TABLE payments; --': {**PAYMENTS, "table": "payments"}}, True,
         "must be a SQL identifier"),
        ({"evil": {**PAYMENTS, "table": "payments; DROP TABLE payments"}}, True,
         "is not a table name"),
        ({"evil": {"format": "csv", "path": "raw/trips.csv", "options": {"all_varchar); DROP": 1}}},
         True, "all_varchar); DROP"),
        # Refused when read: a DuckDB file is attached read-only, an option is a literal.
        ({"evil": {**PAYMENTS, "query": "DELETE FROM payments"}}, False, "evil"),
        ({"evil": {"format": "csv", "path": "raw/trips.csv",
                   "options": {"delimiter": "',all_varchar=true); DROP TABLE payments; --"}}},
         False, "evil"),
    ],
)  # fmt: skip
def test_hostile_sources_are_one_line_and_change_nothing(
    project: Path, source: dict[str, object], refused: bool, says: str
) -> None:
    before = _state(project)
    original = (project / "featurestore.yaml").read_text()
    _edit_sources(project, source)
    try:
        _one_line_error(_cli(project, "raw", "preview", "evil", "--limit", "1"), says)
        if refused:
            _one_line_error(_cli(project, "ingest", "run", "--start", "2026-01-01"), says)
    finally:
        (project / "featurestore.yaml").write_text(original)
    assert _state(project) == before
