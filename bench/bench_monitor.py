"""Drift of a model's features: our monitor vs Evidently's drift report vs one DuckDB scan.

Generated data: one feature view, ``FEATURES`` numeric features (continuous floats,
floats rounded to cents, integer counts), ``--rows`` rows (10,000,000 by default;
200,000 with ``--quick``) over 100 days, written as our feature tables are (hive
partitions by day). The reference window is the first half, the current window the
second (5,000,000 rows each); two features shift in the second half.

Contenders, each in its own process (peak RSS is that run's):

- ``duckdb_scan``: one DuckDB pass over the two windows computing min, max and mean of
  every feature column: the raw limit of anything that reads every value once;
- ``duckdb_groupby``: one ``GROUP BY (window, step)`` per feature, counts only, on the
  same grid of steps as ours: the raw limit of computing any distribution in DuckDB;
- ``ours``: ``drift_report`` (every metric of every feature, the grid scan), registry
  loaded before the clock;
- ``ours_exact``: the same grouping numeric columns by value (scipy's numbers exactly);
- ``ours_cli``: ``featurestore monitor drift ... --json`` as a user runs it, wall time
  with start-up;
- ``evidently``: the two windows read into pandas by DuckDB (included), then Evidently's
  ``Report([DataDriftPreset(num_method="wasserstein")])``: the library a team would pick.

The scores columns compare ours with Evidently's normed Wasserstein per feature.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import Report

ROOT = Path(__file__).resolve().parents[1]
FEATURES = 10
DAYS = 100
TIMEOUT_S = 3600
FIRST_DAY = "2023-01-01"
SERVICE = "bench_model"
CONTENDERS = ("duckdb_scan", "duckdb_groupby", "ours", "ours_exact", "ours_cli", "evidently")
BINS = 16_384

_DEFINITIONS = """
from datetime import timedelta
from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
source = FileSource(path="{table}", timestamp_field="event_timestamp")
view = FeatureView(
    name="bench_view", entities=[driver], ttl=timedelta(days=30), source=source,
    schema=[{schema}],
)
bench_model = FeatureService(name="{service}", features=[view])
"""

_YAML = """project: bench_monitor
provider: local
registry: {registry}
online_store:
  type: sqlite
  path: {online}
offline_store:
  type: file
entity_key_serialization_version: 3
"""


def _columns() -> list[tuple[str, str]]:
    """(name, SQL) of each feature: continuous, rounded to cents, integer counts."""
    normal = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"
    shifted = f"({normal} + CASE WHEN i >= n / 2 THEN 0.1 ELSE 0 END)"
    out = []
    for index in range(FEATURES):
        name = f"f{index}"
        if index < 2:
            out.append((name, f"{shifted}"))
        elif index < 5:
            out.append((name, f"10 + 3 * {normal}"))
        elif index < 8:
            out.append((name, f"round(50 + 20 * {normal}, 2)"))
        else:
            out.append((name, "CAST(floor(random() * 50) AS BIGINT)"))
    return out


def _generate(folder: Path, rows: int) -> Path:
    import duckdb

    table = folder / "bench_view.parquet"
    if table.exists():
        return table
    step_us = DAYS * 86_400_000_000 // rows
    items = ", ".join(f"{sql} AS {name}" for name, sql in _columns())
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SELECT setseed(0.5)")
    con.execute(
        f"COPY (SELECT i % {max(rows // 100, 1)} AS driver_id, TIMESTAMPTZ '{FIRST_DAY}' + "
        f"to_microseconds(i * {step_us}) AS event_timestamp, {items}, "
        f"CAST(strftime(TIMESTAMPTZ '{FIRST_DAY}' + to_microseconds(i * {step_us}), '%Y%m%d') "
        f"AS INTEGER) AS partition_date FROM (SELECT range AS i, {rows} AS n FROM range({rows}))) "
        f"TO '{table}' (FORMAT parquet, PARTITION_BY (partition_date), COMPRESSION zstd)"
    )
    con.close()
    return table


def _project(folder: Path, table: Path) -> Path:
    """A Feast repo over the table with a feature service of every feature, applied."""
    repo = folder / "feature_repo"
    if (repo / "registry.db").exists():
        return repo
    repo.mkdir(parents=True, exist_ok=True)
    schema = ", ".join(
        f'Field(name="{name}", dtype={"Int64" if "BIGINT" in sql else "Float64"})'
        for name, sql in _columns()
    )
    (repo / "definitions.py").write_text(
        _DEFINITIONS.format(table=table, schema=schema, service=SERVICE)
    )
    (repo / "feature_store.yaml").write_text(
        _YAML.format(registry=repo / "registry.db", online=repo / "online.db")
    )
    (folder / "featurestore.yaml").write_text(
        "name: bench_monitor\nfeast_repo: feature_repo\ndata: data\n"
    )
    feast = Path(sys.executable).with_name("feast")
    subprocess.run([str(feast), "-c", str(repo), "apply"], check=True, capture_output=True)
    return repo


def _windows() -> tuple[str, str]:
    from datetime import date, timedelta

    first = date.fromisoformat(FIRST_DAY)
    middle = first + timedelta(days=DAYS // 2)
    end = first + timedelta(days=DAYS)
    return f"{first}..{middle}", f"{middle}..{end}"


def child(contender: str, folder: Path) -> dict[str, Any]:
    """One contender's run in this process; prints its result as JSON."""
    import duckdb

    from featurestore.monitor.windows import resolve_windows

    reference_spec, current_spec = _windows()
    windows = resolve_windows(reference_spec, current_spec, None)
    table = folder / "bench_view.parquet"
    scan = f"read_parquet('{table}/**/*.parquet', hive_partitioning = true)"
    names = [name for name, _ in _columns()]
    scores: dict[str, float] = {}
    rows = 0
    if contender == "duckdb_scan":
        con = duckdb.connect()
        started = time.perf_counter()
        items = ", ".join(f"min({n}), max({n}), avg({n})" for n in names)
        parts = [
            f"SELECT {i} AS w, * FROM {scan} WHERE event_timestamp >= '{w.start.isoformat()}' "
            f"AND event_timestamp < '{w.end.isoformat()}'"
            for i, w in enumerate((windows.reference, windows.current))
        ]
        result = con.execute(
            f"SELECT w, count(*), {items} FROM ({' UNION ALL '.join(parts)}) GROUP BY w"
        ).fetchall()
        seconds = time.perf_counter() - started
        rows = sum(r[1] for r in result)
    elif contender == "duckdb_groupby":
        con = duckdb.connect()
        started = time.perf_counter()
        src = " UNION ALL ".join(
            f"SELECT {i} AS w, {', '.join(names)} FROM {scan} WHERE event_timestamp >= "
            f"'{w.start.isoformat()}' AND event_timestamp < '{w.end.isoformat()}'"
            for i, w in enumerate((windows.reference, windows.current))
        )
        con.execute(f"CREATE TEMP VIEW src AS {src}")
        parts = [
            f"SELECT {i} AS f, w, least(greatest(floor((CAST({n} AS DOUBLE) + 100) * "
            f"{BINS / 300}), 0), {BINS - 1})::BIGINT AS b, count(*) AS n FROM src GROUP BY ALL"
            for i, n in enumerate(names)
        ]
        counts = con.execute(" UNION ALL ".join(parts)).fetchnumpy()
        seconds = time.perf_counter() - started
        rows = int(counts["n"].sum()) // len(names)
    elif contender in ("ours", "ours_exact"):
        from featurestore.monitor.drift import drift_report
        from featurestore.project import Project
        from featurestore.store import open_store

        project = Project.load(folder)
        store = open_store(project)
        store.list_feature_services()  # the registry, loaded before the clock
        started = time.perf_counter()
        report = drift_report(project, store, SERVICE, windows.reference, windows.current,
                              exact=contender == "ours_exact")  # fmt: skip
        seconds = time.perf_counter() - started
        scores = {f.feature: f.scores["wasserstein"].value or 0.0 for f in report.features}
        rows = report.features[0].reference_rows + report.features[0].current_rows
    elif contender == "ours_cli":
        featurestore = Path(sys.executable).with_name("featurestore")
        started = time.perf_counter()
        done = subprocess.run(
            [str(featurestore), "--project", str(folder), "monitor", "drift", "-s", SERVICE,
             "--reference", reference_spec, "--current", current_spec, "--json"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        if done.returncode not in (0, 2):
            raise RuntimeError(done.stderr)
        document = json.loads(done.stdout)
        scores = {f["feature"]: f["scores"]["wasserstein"]["value"] for f in document["features"]}
        rows = document["features"][0]["reference_rows"] + document["features"][0]["current_rows"]
    else:
        import warnings

        from evidently import Report as EvidentlyReport
        from evidently.presets import DataDriftPreset

        warnings.simplefilter("ignore")
        con = duckdb.connect()
        started = time.perf_counter()
        frames = [
            con.execute(
                f"SELECT {', '.join(names)} FROM {scan} WHERE event_timestamp >= "
                f"'{w.start.isoformat()}' AND event_timestamp < '{w.end.isoformat()}'"
            ).df()
            for w in (windows.reference, windows.current)
        ]
        loaded = time.perf_counter() - started
        snapshot = EvidentlyReport([DataDriftPreset(num_method="wasserstein")]).run(
            current_data=frames[1], reference_data=frames[0]
        )
        seconds = time.perf_counter() - started
        for metric in snapshot.dict()["metrics"]:
            config = metric.get("config", {})
            if config.get("type", "").endswith("ValueDrift"):
                scores[config["column"]] = float(metric["value"])
        rows = len(frames[0]) + len(frames[1])
        scores["_load_seconds"] = loaded
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"contender": contender, "seconds": seconds, "rows": rows, "scores": scores,
            "peak_rss_mb": peak}  # fmt: skip


def _measure(contender: str, folder: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_monitor", "--child", contender, str(folder)],
        capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT, check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    if done.returncode != 0:
        return {"contender": contender, "error": " ".join(done.stderr.split())[-400:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(args: argparse.Namespace) -> Report:
    quick = getattr(args, "quick", False)
    rows = 200_000 if quick else 10_000_000
    folder = Path(tempfile.gettempdir()) / f"featurestore-bench-monitor-{rows}"
    folder.mkdir(parents=True, exist_ok=True)
    table = _generate(folder, rows)
    _project(folder, table)
    report = Report(
        name="monitor",
        title="Drift of every feature of a feature service: ours vs Evidently vs one DuckDB scan",
        columns=[
            "contender",
            "rows",
            "seconds",
            "x DuckDB scan",
            "x ours",
            "peak RSS MB",
            "largest score difference from Evidently",
        ],
        parameters={
            "rows": rows,
            "features": FEATURES,
            "windows": "2 x half the rows",
            "cores": os.cpu_count(),
        },
    )
    results = {c: _measure(c, folder) for c in CONTENDERS}
    scan = results["duckdb_scan"].get("seconds")
    ours = results["ours"].get("seconds")
    theirs = results["evidently"].get("scores", {})
    for contender in CONTENDERS:
        result = results[contender]
        if "error" in result:
            report.add(contender=contender, seconds="failed: " + result["error"])
            continue
        diff = ""
        if result["scores"] and theirs and contender != "evidently":
            worst = max(
                abs(result["scores"][k] - theirs[k]) for k in result["scores"] if k in theirs
            )
            diff = f"{worst:.1e}"
        report.add(
            contender=contender, rows=result["rows"], seconds=result["seconds"],
            **{"x DuckDB scan": result["seconds"] / scan if scan else "",
               "x ours": result["seconds"] / ours if ours else "",
               "peak RSS MB": result["peak_rss_mb"],
               "largest score difference from Evidently": diff},
        )  # fmt: skip
    if "_load_seconds" in theirs:
        report.notes.append(
            f"Evidently's time includes {theirs['_load_seconds']:.1f} s of reading the two "
            "windows into pandas with DuckDB."
        )
    report.goals += [
        "ours <= 1.5 x the DuckDB scan (the issue's goal; the group-by row is the raw limit of "
        "any per-step distribution in DuckDB)",
        "ours >= 20 x faster than Evidently, same scores",
    ]
    report.notes.append(
        "ours scores numeric columns on a grid of 16,384 steps per column (exact for integer "
        "and few-valued columns); ours_exact groups by value and equals scipy to 1e-9."
    )
    return report


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], Path(sys.argv[3]))))
    else:
        parser = argparse.ArgumentParser()
        parser.add_argument("--quick", action="store_true")
        result = run(parser.parse_args())
        print(result.markdown())
