"""Spark against DuckDB: feature jobs, materialization and training sets, what a user waits for.

One generated raw events table (``entity_id``, ``event_ts``, ``value``, ``amount``; 10,000
entities over 37 days) at 1M and 10M rows (``--quick``: 100k; 50M only with
``BENCH_SPARK_FULL=1``, bench/__main__.py having no ``--full`` flag, or when the 10M Spark
run took under 60 s), and one feature job over it like the demo's: GROUP BY entity and
day with count/avg/sum, then sums over a RANGE window of 7 days. Each run is its own
subprocess, so Spark's start-up (the JVM and the session, ``local[2]``) is paid as a user
pays it and reported on its own:

- ``duckdb``: ``ingestion.run_jobs`` on the default engine (all checks, day partitions);
- ``spark``: the same call on ``project.with_engine("spark")``;
- ``raw``: DuckDB alone, the job's SQL and window filter as one ``COPY ... TO`` Parquet.

Then, on a feature table of 1M rows / 100k entities (``bench_materialize.generate``),
the latest row per entity into a Redis started here: our DuckDB engine, our Spark
engine and Feast's own Spark compute engine (``batch_engine: spark.engine`` with the
Spark offline store); and a point-in-time join of 100k entity rows over the job's
table: ``featurestore.offline.retrieve`` (DuckDB), ``featurestore.spark.training.retrieve``
and Feast's Spark offline store. Feast's runs are given a time limit; one that fails or
runs out is reported as not measured, with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.report import Report

ROOT = Path(__file__).resolve().parents[1]
CORES = 2
MASTER = f"local[{CORES}]"
ENTITIES = 10_000
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 1, 31, tzinfo=UTC)
HISTORY_DAYS = 7  # raw events before START, for the first days' 7-day window
FEAST_TIMEOUT = 600.0
JOB_NAME = "entity_daily"
JOB = """\
-- name: entity_daily
-- description: Per entity and day: events, mean value and amount, and over 7 days.
-- entities: entity_id
-- timestamp: event_timestamp
-- grain: day
-- column: entity_id BIGINT not null
-- column: event_timestamp TIMESTAMPTZ
-- column: events_1d BIGINT not null min 1
-- column: avg_value_1d DOUBLE
-- column: amount_1d DOUBLE
-- column: events_7d BIGINT not null min 1
-- column: avg_value_7d DOUBLE
-- column: amount_7d DOUBLE
WITH daily AS (
    SELECT
        entity_id,
        CAST(event_ts AS DATE) AS day,
        count(*) AS events,
        avg(value) AS avg_value,
        sum(value) AS value_sum,
        sum(amount) AS amount
    FROM events
    WHERE event_ts >= $start - INTERVAL 7 DAY AND event_ts < $end
    GROUP BY ALL
)
SELECT
    entity_id,
    timezone('UTC', CAST(day + INTERVAL 1 DAY AS TIMESTAMP)) AS event_timestamp,
    events AS events_1d,
    avg_value AS avg_value_1d,
    amount AS amount_1d,
    CAST(sum(events) OVER w7 AS BIGINT) AS events_7d,
    sum(value_sum) OVER w7 / sum(events) OVER w7 AS avg_value_7d,
    sum(amount) OVER w7 AS amount_7d
FROM daily
WINDOW w7 AS (
    PARTITION BY entity_id ORDER BY day
    RANGE BETWEEN INTERVAL 6 DAY PRECEDING AND CURRENT ROW
)
"""
FEATURES = ["events_1d", "avg_value_1d", "amount_1d", "events_7d", "avg_value_7d", "amount_7d"]


# --- data and projects ----------------------------------------------------------------------


def write_events(path: Path, rows: int) -> None:
    """``rows`` raw events over 10,000 entities, spread over the 7 days before START and
    the job's 30 days (deterministic)."""
    import duckdb

    seconds = (HISTORY_DAYS + (END - START).days) * 86_400
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"""
        COPY (
            SELECT (i * 7919) % {ENTITIES} AS entity_id,
                   TIMESTAMPTZ '{(START - timedelta(days=HISTORY_DAYS)).isoformat()}'
                       + to_seconds(((i * 104729) % {seconds})::BIGINT) AS event_ts,
                   ((i * 31) % 1000) / 10.0 AS value,
                   ((i * 17) % 500)::DOUBLE AS amount
            FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet)
        """
    )
    con.close()


def make_project(root: Path, events: Path) -> Path:
    """A project in ``root`` whose one raw source is ``events`` and one job is JOB."""
    root.mkdir(parents=True)
    shutil.copytree(
        ROOT / "feature_repo", root / "feature_repo", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "jobs").mkdir()
    (root / "jobs" / f"{JOB_NAME}.sql").write_text(JOB)
    (root / "raw").mkdir()
    os.link(events, root / "raw" / "events.parquet")
    spec = {
        "name": "bench_spark",
        "feast_repo": "feature_repo",
        "jobs": "jobs",
        "data": "data",
        "sources": {"events": {"format": "parquet", "path": "raw/events.parquet"}},
        "spark": {"master": MASTER},
    }
    (root / "featurestore.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


# --- workers (each in its own process) ------------------------------------------------------


def _session_seconds() -> float:
    from featurestore.engine import SparkSettings
    from featurestore.spark.session import spark_session

    started = time.perf_counter()
    spark_session(SparkSettings(master=MASTER))
    return time.perf_counter() - started


def _job(engine: str, root: Path) -> dict[str, Any]:
    from featurestore.project import Project
    from ingestion import run_jobs

    project = Project.load(root)
    startup = 0.0
    if engine == "spark":
        project = project.with_engine("spark", MASTER)
        startup = _session_seconds()
    started = time.perf_counter()
    (result,) = run_jobs(project, [JOB_NAME], start=START, end=END)
    seconds = time.perf_counter() - started
    if result.status != "success":
        raise RuntimeError(f"{engine} job: {result.status}: {getattr(result, 'error', '')}")
    return {"startup": startup, "seconds": seconds, "rows_out": int(result.rows)}


def _raw_copy(root: Path) -> dict[str, Any]:
    """DuckDB alone: the job's SQL and the window filter, one COPY, no checks."""
    from featurestore import sql
    from featurestore.job_spec import parse_job

    job = parse_job(root / "jobs" / f"{JOB_NAME}.sql")
    con = sql.connect()
    events = sql.path_literal(root / "raw" / "events.parquet")
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet({events})")
    target = sql.path_literal(root / "raw_copy.parquet")
    started = time.perf_counter()
    con.execute(
        f"COPY (SELECT * FROM ({job.render(START, END)}) WHERE event_timestamp >= "
        f"TIMESTAMPTZ '{START.isoformat()}' AND event_timestamp < TIMESTAMPTZ "
        f"'{END.isoformat()}') TO {target} (FORMAT parquet)"
    )
    seconds = time.perf_counter() - started
    con.close()
    return {"startup": 0.0, "seconds": seconds}


def _plan(table: Path) -> Any:
    from feast import Field
    from feast.types import Int64

    from bench.bench_materialize import _objects
    from featurestore.materialize import ViewPlan

    entity, view = _objects(table)
    view.entity_columns = [Field(name="entity_id", dtype=Int64)]  # what feast apply sets
    return ViewPlan.from_feature_view("bench", view, [entity])


def _materialize(kind: str, table: Path, port: int) -> dict[str, Any]:
    import redis

    from featurestore.materialize.engine import MaterializeOptions

    end = START + timedelta(days=400)
    options = MaterializeOptions(progress=False)
    plan = _plan(table)
    startup = 0.0
    if kind == "spark":
        from featurestore.engine import SparkSettings
        from featurestore.spark.materialize import materialize_view

        startup = _session_seconds()

        def call() -> Any:
            return materialize_view(
                plan, f"redis://127.0.0.1:{port}", START, end, SparkSettings(master=MASTER), options
            )
    else:
        from featurestore.materialize.engine import materialize_view

        client = redis.Redis(port=port)

        def call() -> Any:
            return materialize_view(plan, client, START, end, options)

    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    keys = int(redis.Redis(port=port).dbsize())  # type: ignore[arg-type]
    redis.Redis(port=port).flushdb()
    again = _timed(call)
    return {"startup": startup, "seconds": seconds, "again": again, "keys": keys}


def _timed(call: Any) -> float:
    """Seconds of one more ``call()`` in the same process (Spark warm)."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _feast_spark_conf() -> dict[str, str]:
    """The Spark settings Feast's runs get (its ``spark_conf``): the same master, bound to
    127.0.0.1, UTC, and the shuffle width and driver memory our session uses."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return {
        "spark.master": MASTER,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "8",
        "spark.driver.memory": "4g",
    }


def _feast_spark_materialize(table: Path, workdir: Path, port: int) -> dict[str, Any]:
    """Feast's own Spark compute engine, Spark offline store, Redis online store."""
    import redis
    from feast import FeatureStore
    from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
    from feast.repo_config import RepoConfig

    from bench.bench_materialize import _objects

    conf = _feast_spark_conf()
    config = RepoConfig(
        project="bench",
        provider="local",
        registry=str(workdir / "registry_feast_spark.db"),
        online_store={"type": "redis", "connection_string": f"127.0.0.1:{port},db=0"},
        offline_store={"type": "spark", "spark_conf": conf},
        batch_engine={"type": "spark.engine", "partitions": 8},
        entity_key_serialization_version=3,
    )
    config.repo_path = workdir
    store = FeatureStore(repo_path=str(workdir), config=config)
    source = SparkSource(
        name="bench_source",
        path=str(table),
        file_format="parquet",
        timestamp_field="event_timestamp",
    )
    store.apply(_objects(table, source))

    def call() -> None:
        store.materialize(START, START + timedelta(days=400))

    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    keys = int(redis.Redis(port=port).dbsize())  # type: ignore[arg-type]
    redis.Redis(port=port).flushdb()
    return {"startup": 0.0, "seconds": seconds, "again": _timed(call), "keys": keys}


def _views(table: Path) -> list[Any]:
    from featurestore.offline.views import ViewSpec

    return [
        ViewSpec(
            name=JOB_NAME,
            path=str(table),
            join_keys={"entity_id": "entity_id"},
            features={f: f for f in FEATURES},
            timestamp_field="event_timestamp",
            ttl=timedelta(days=7),
        )
    ]


def _training(kind: str, root: Path, entity_path: Path) -> dict[str, Any]:
    import pandas as pd

    from featurestore.project import Project
    from ingestion import feature_table_path

    project = Project.load(root)
    table = feature_table_path(project, JOB_NAME)
    entities = pd.read_parquet(entity_path)
    startup = 0.0
    if kind == "spark":
        from featurestore.engine import SparkSettings
        from featurestore.spark.session import spark_session
        from featurestore.spark.training import retrieve as spark_retrieve

        startup = _session_seconds()
        spark = spark_session(SparkSettings(master=MASTER))

        def call() -> Any:
            return spark_retrieve(spark, _views(table), entities, project=project).to_arrow()
    else:
        from featurestore.offline import retrieve

        def call() -> Any:
            return retrieve(_views(table), entities, project=project).to_arrow()

    started = time.perf_counter()
    out = call()
    seconds = time.perf_counter() - started
    filled = int(out.num_rows - out.column("events_7d").null_count)
    return {
        "startup": startup,
        "seconds": seconds,
        "again": _timed(call),
        "rows": out.num_rows,
        "filled": filled,
    }


def _feast_spark_training(root: Path, entity_path: Path, workdir: Path) -> dict[str, Any]:
    import pandas as pd
    from feast import Entity, FeatureStore, FeatureView, Field, ValueType
    from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
    from feast.repo_config import RepoConfig
    from feast.types import Float64, Int64

    from featurestore.project import Project
    from ingestion import feature_table_path

    table = feature_table_path(Project.load(root), JOB_NAME).resolve()
    conf = _feast_spark_conf()
    config = RepoConfig(
        project="bench",
        provider="local",
        registry=str(workdir / "registry_feast_training.db"),
        online_store={"type": "sqlite", "path": str(workdir / "online_training.db")},
        offline_store={"type": "spark", "spark_conf": conf},
        entity_key_serialization_version=3,
    )
    config.repo_path = workdir
    store = FeatureStore(repo_path=str(workdir), config=config)
    entity = Entity(name="entity", join_keys=["entity_id"], value_type=ValueType.INT64)
    ints = {"events_1d", "events_7d"}
    view = FeatureView(
        name=JOB_NAME,
        entities=[entity],
        ttl=timedelta(days=7),
        schema=[Field(name=f, dtype=Int64 if f in ints else Float64) for f in FEATURES],
        source=SparkSource(
            name="job_table",
            path=str(table),
            file_format="parquet",
            timestamp_field="event_timestamp",
        ),
    )
    store.apply([entity, view])
    entities = pd.read_parquet(entity_path)

    def call() -> Any:
        return store.get_historical_features(
            entity_df=entities, features=[f"{JOB_NAME}:{f}" for f in FEATURES]
        ).to_arrow()

    started = time.perf_counter()
    out = call()
    seconds = time.perf_counter() - started
    filled = int(out.num_rows - out.column("events_7d").null_count)
    return {
        "startup": 0.0,
        "seconds": seconds,
        "again": _timed(call),
        "rows": out.num_rows,
        "filled": filled,
    }


def worker(kind: str, args: list[str]) -> dict[str, Any]:
    if kind in ("duckdb", "spark"):
        return _job(kind, Path(args[0]))
    if kind == "raw":
        return _raw_copy(Path(args[0]))
    if kind in ("mat_duckdb", "mat_spark"):
        return _materialize(kind.removeprefix("mat_"), Path(args[0]), int(args[1]))
    if kind == "mat_feast":
        return _feast_spark_materialize(Path(args[0]), Path(args[1]), int(args[2]))
    if kind in ("train_duckdb", "train_spark"):
        return _training(kind.removeprefix("train_"), Path(args[0]), Path(args[1]))
    if kind == "train_feast":
        return _feast_spark_training(Path(args[0]), Path(args[1]), Path(args[2]))
    raise ValueError(kind)


def _run(kind: str, *args: Any, timeout: float | None = None) -> dict[str, Any]:
    """One worker in a subprocess; its wall time (interpreter and imports included) too."""
    command = [sys.executable, "-m", "bench.bench_spark", kind, *map(str, args)]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=timeout, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f} s"}
    wall = time.perf_counter() - started
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return {"error": lines[-1][:300] if lines else f"exit {done.returncode}"}
    result = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    result["wall"] = wall
    return result


# --- the benchmark --------------------------------------------------------------------------


def _sizes(args: argparse.Namespace) -> list[int]:
    return [100_000] if args.quick else [1_000_000, 10_000_000]


def run(args: argparse.Namespace) -> Report:
    full = bool(getattr(args, "full", False)) or os.environ.get("BENCH_SPARK_FULL") == "1"
    report = Report(
        name="spark",
        title="Spark local[2] vs DuckDB: feature job, materialization, training set",
        columns=[
            "part",
            "run",
            "rows",
            "Spark start-up s",
            "seconds",
            "user waits s",
            "rows/s",
            "rows/s per core",
            "vs DuckDB",
            "again s",
            "vs Feast",
        ],
        parameters={
            "quick": bool(args.quick),
            "master": MASTER,
            "cores": CORES,
            "entities (job)": ENTITIES,
        },
    )
    work = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        jobs = _jobs(report, work, _sizes(args), full)
        for entities in [10_000] if args.quick else [100_000, 500_000]:
            _materialization(report, work, entities)
        for count in [10_000] if args.quick else [100_000, 1_000_000]:
            _training_sets(report, work, jobs["duckdb_root"], count)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.notes += [
        "each run is its own subprocess; 'seconds' times the call only (run_jobs, "
        "materialize_view, retrieve(...).to_arrow(), FeatureStore.materialize / "
        "get_historical_features); 'Spark start-up s' is starting the JVM and the "
        "SparkSession (our session settings), which every Spark command pays once; "
        "'user waits s' = start-up + seconds. Python imports are in neither.",
        "rows/s: raw input rows (job), feature-table rows scanned (materialization) or "
        "entity rows (training) per second of 'user waits s'; per core: / 2 (local[2], "
        "DuckDB on the same 2 cores)",
        "one run each (no repeats) on a 2-core machine shared with other work",
        "'again s': the same call once more in the same process (Redis flushed between, "
        "so it writes everything again): Spark warm, its JVM, Python workers and classes "
        "loaded; 'vs Feast': Feast's 'user waits s' / ours, and in brackets Feast's "
        "'again s' / ours",
        "Feast's Spark rows: Feast starts its own SparkSession inside the call, so their "
        "'seconds' already include the start-up (no separate start-up column)",
    ]
    return report


def _row(
    report: Report,
    part: str,
    label: str,
    rows: int,
    r: dict[str, Any],
    base: float,
    feast: dict[str, Any] | None = None,
) -> None:
    """One run's row; with ``feast`` (Feast's run on the same data), ours against it: user
    waits (start-up included) and the call again in the same process (Spark warm)."""
    if "error" in r:
        report.add(part=part, run=label, rows=rows, seconds=f"not measured: {r['error']}")
        return
    waits = r["startup"] + r["seconds"]
    versus = "-"
    if feast is not None and "error" not in feast:
        feast_waits = feast["startup"] + feast["seconds"]
        versus = f"{feast_waits / waits:.2f}x"
        if r.get("again") and feast.get("again"):
            versus += f" (again: {feast['again'] / r['again']:.2f}x)"
    report.add(
        **{
            "part": part,
            "run": label,
            "rows": rows,
            "Spark start-up s": r["startup"] if r["startup"] else "-",
            "seconds": r["seconds"],
            "user waits s": waits,
            "rows/s": rows / waits,
            "rows/s per core": rows / waits / CORES,
            "vs DuckDB": f"{base / waits:.2f}x" if base else "-",
            "again s": r.get("again", "-"),
            "vs Feast": versus,
        }
    )


def _jobs(report: Report, work: Path, sizes: list[int], full: bool) -> dict[str, Any]:
    results: dict[int, dict[str, dict[str, Any]]] = {}
    duckdb_root: Path | None = None
    for rows in sizes:
        events = work / f"events_{rows}.parquet"
        write_events(events, rows)
        runs: dict[str, dict[str, Any]] = {}
        for kind in ("duckdb", "raw", "spark"):
            root = make_project(work / f"{kind}_{rows}", events)
            runs[kind] = _run(kind, root)
            if "error" in runs[kind]:
                raise RuntimeError(f"{kind} job at {rows:,} rows: {runs[kind]['error']}")
            if kind == "duckdb" and duckdb_root is None:
                duckdb_root = root
            elif kind != "duckdb":
                shutil.rmtree(root, ignore_errors=True)
        events.unlink()
        results[rows] = runs
        _job_rows(report, rows, runs)
    extra = 50_000_000
    if len(sizes) == 2:
        spark_10m = results[sizes[-1]]["spark"]
        if full or spark_10m["startup"] + spark_10m["seconds"] < 60:
            events = work / "events_50m.parquet"
            write_events(events, extra)
            runs = {
                k: _run(k, make_project(work / f"{k}_50m", events))
                for k in ("duckdb", "raw", "spark")
            }
            results[extra] = runs
            _job_rows(report, extra, runs)
            _crossover(report, results, sizes, extrapolate=None)
        else:
            _crossover(report, results, sizes, extrapolate=extra)
    else:
        report.notes.append("crossover: needs two sizes (1M and 10M); not computed with --quick")
    assert duckdb_root is not None
    return {"duckdb_root": duckdb_root, "results": results}


def _job_rows(report: Report, rows: int, runs: dict[str, dict[str, Any]]) -> None:
    base = runs["duckdb"]["seconds"]
    _row(report, "job", "ours, DuckDB", rows, runs["duckdb"], base)
    _row(report, "job", f"ours, Spark {MASTER}", rows, runs["spark"], base)
    _row(report, "job", "raw limit: DuckDB alone (one COPY, no checks)", rows, runs["raw"], base)


def _fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Intercept (s) and marginal rows/s of the line through two (rows, seconds) points."""
    (r1, t1), (r2, t2) = points
    slope = (t2 - t1) / (r2 - r1)
    return t1 - slope * r1, 1 / slope


def _crossover(
    report: Report, results: dict[int, Any], sizes: list[int], extrapolate: int | None
) -> None:
    spark = [(n, results[n]["spark"]["startup"] + results[n]["spark"]["seconds"]) for n in sizes]
    duck = [(n, results[n]["duckdb"]["seconds"]) for n in sizes]
    f_s, r_s = _fit(spark)
    f_d, r_d = _fit(duck)
    startup = sum(results[n]["spark"]["startup"] for n in sizes) / len(sizes)
    if extrapolate:
        t_s = f_s + extrapolate / r_s
        t_d = f_d + extrapolate / r_d
        report.add(
            part="job",
            run=f"ours, Spark {MASTER}: not run (10M took >= 60 s); extrapolated",
            rows=extrapolate,
            seconds=f"~{t_s:,.0f} (DuckDB ~{t_d:,.0f})",
        )
    ratio = r_d / r_s
    n_min = int(ratio) + 1
    lines = [
        f"crossover model, from the 1M and 10M runs: T_spark(R) = F_s + R / r_s with F_s = "
        f"{f_s:.1f} s (intercept: start-up ~{startup:.1f} s + per-job overhead "
        f"{f_s - startup:.1f} s) and r_s = {r_s:,.0f} rows/s on 2 cores "
        f"({r_s / CORES:,.0f} rows/s per core); T_duckdb(R) = F_d + R / r_d with F_d = "
        f"{f_d:.2f} s and r_d = {r_d:,.0f} rows/s on the 2-core machine",
        f"Spark on N executors of 2 cores (linear scaling assumed): T(R, N) = F_s + R / "
        f"(N * r_s). It beats DuckDB when F_s + R / (N * {r_s:,.0f}) < F_d + R / "
        f"{r_d:,.0f}, i.e. only for N > r_d / r_s = {ratio:.2f} (N >= {n_min}; "
        f"{2 * n_min} cores) and then for R > (F_s - F_d) / (1/r_d - 1/(N r_s))",
    ]
    for n in sorted({n_min, n_min + 1, 2 * n_min, 4 * n_min}):
        gap = 1 / r_d - 1 / (n * r_s)
        if gap > 0:
            lines.append(
                f"N = {n} executors ({n * CORES} cores): Spark wins above R = "
                f"({f_s:.1f} - {f_d:.2f}) / (1/{r_d:,.0f} - 1/({n} x {r_s:,.0f})) = "
                f"{(f_s - f_d) / gap:,.0f} raw rows"
            )
    report.notes += lines


def _materialization(report: Report, work: Path, entities: int) -> None:
    import redis

    from bench.bench_materialize import generate
    from featurestore.redis_server import LocalRedis, free_port

    table = work / f"mat_table_{entities}.parquet"
    rows = generate(table, entities)
    server = LocalRedis(workdir=work / "redis", port=free_port())
    server.start(daemonize=False, persist=False)
    results = {}
    try:
        for kind, timeout in (
            ("mat_duckdb", None),
            ("mat_spark", None),
            ("mat_feast", FEAST_TIMEOUT),
        ):
            redis.Redis(port=server.port).flushdb()
            args = (table, work, server.port) if kind == "mat_feast" else (table, server.port)
            results[kind] = _run(kind, *args, timeout=timeout)
    finally:
        server.stop()
    base = results["mat_duckdb"].get("seconds", 0.0)
    _row(report, "materialize", "ours, DuckDB engine", rows, results["mat_duckdb"], base)
    feast = results["mat_feast"]
    spark_label = f"ours, Spark engine {MASTER}"
    _row(report, "materialize", spark_label, rows, results["mat_spark"], base, feast)
    _row(report, "materialize", "Feast 0.67 spark.engine + Spark offline store", rows, feast, base)
    keys = {k: v.get("keys") for k, v in results.items()}
    report.notes.append(
        f"materialization: {rows:,} rows, {entities:,} entities, 10 features, into a "
        f"redis-server started on 127.0.0.1 (flushed between runs); Redis keys after each "
        f"run: {keys}"
    )


def _training_sets(report: Report, work: Path, root: Path, count: int) -> None:
    import numpy as np
    import pandas as pd

    if not (ROOT / "featurestore" / "spark" / "training.py").exists():
        report.notes.append("training: skipped, featurestore/spark/training.py does not exist")
        return
    rng = np.random.default_rng(7)
    span = int((END - START).total_seconds())
    entity_path = work / f"entity_rows_{count}.parquet"
    pd.DataFrame(
        {
            "entity_id": rng.integers(0, ENTITIES, count).astype("int64"),
            "event_timestamp": pd.to_datetime(
                START.timestamp() + rng.integers(0, span, count), unit="s", utc=True
            ),
        }
    ).to_parquet(entity_path)
    results = {
        "duckdb": _run("train_duckdb", root, entity_path),
        "spark": _run("train_spark", root, entity_path),
        "feast": _run("train_feast", root, entity_path, work, timeout=FEAST_TIMEOUT),
    }
    base = results["duckdb"].get("seconds", 0.0)
    _row(report, "training", "ours, DuckDB (offline.retrieve)", count, results["duckdb"], base)
    spark_label = f"ours, Spark {MASTER}"
    _row(report, "training", spark_label, count, results["spark"], base, results["feast"])
    _row(report, "training", "Feast 0.67 Spark offline store", count, results["feast"], base)
    filled = {k: v.get("filled") for k, v in results.items()}
    report.notes.append(
        f"training: {count:,} entity rows (random entity, random time in the job's window) "
        f"joined point-in-time (TTL 7 days) onto the job's table from the first size's "
        f"DuckDB run, 6 features; rows with features found: {filled}"
    )


if __name__ == "__main__":
    print(json.dumps(worker(sys.argv[1], sys.argv[2:])))
