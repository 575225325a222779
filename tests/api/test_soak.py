"""A soak: the demo's API (its own process) under a fixed-rate mixed load for a bounded
time, 1, 10 and 100 entities per lookup, bad requests and catalog reads among them.

The server's resident memory must not grow (< 5 % from the end of the warm-up to the
end) and the lookups' p99 must not drift upward (last third against first third, within
what a shared 2-core machine jitters); every answer is the status its request deserves.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from featurestore.project import Project
from featurestore.sql import parquet_scan
from ingestion import feature_table_path
from tests.api_process import ApiProcess
from tests.load import Call, Load
from tests.reliability import Figures, percentile, scaled

pytestmark = [pytest.mark.redis, pytest.mark.reliability, pytest.mark.slow]

EXPECTED = {"lookup 1": 200, "lookup 10": 200, "lookup 100": 200, "bad": 422, "catalog": 200}


def _tailnums(project: Project, n: int) -> list[str]:
    table = feature_table_path(project, "plane_daily")
    rows = duckdb.sql(
        f"SELECT DISTINCT tailnum FROM {parquet_scan(table)} ORDER BY tailnum LIMIT {n}"
    ).fetchall()
    return [row[0] for row in rows]


def _mix(project: Project) -> list[Call]:
    tails = _tailnums(project, 100)
    features = ["plane_daily:seats", "plane_daily:flights_30d", "plane_daily:avg_dep_delay_30d"]

    def lookup(n: int) -> Call:
        body = {"features": features, "entities": {"tailnum": tails[:n]}}
        return Call(f"lookup {n}", "POST", "/get-online-features", body)

    bad = Call(
        "bad",
        "POST",
        "/get-online-features",
        {"features": ["plane_daily:nope"], "entities": {"tailnum": tails[:1]}},
    )
    catalog = Call("catalog", "GET", "/catalog/feature-views")
    one, ten, hundred = lookup(1), lookup(10), lookup(100)
    # 20 calls: 10 single-entity lookups, 5 of 10, 2 of 100, 2 bad ones, 1 catalog read.
    return [one, ten, one, hundred, one, ten, bad, one, ten, one,
            catalog, one, ten, one, hundred, one, ten, bad, one, one]  # fmt: skip


def test_soak_keeps_memory_and_latency_flat(
    demo_project: Project, tmp_path: Path, figures: Figures
) -> None:
    warmup, duration = scaled(8.0, 30.0), scaled(30.0, 300.0)
    rate = scaled(150.0, 300.0)
    rss: list[tuple[float, int]] = []
    with ApiProcess(demo_project, tmp_path / "api.log") as api:
        done = threading.Event()

        def sample_memory() -> None:
            while not done.wait(0.5):
                rss.append((time.monotonic(), api.rss_bytes()))

        sampler = threading.Thread(target=sample_memory, daemon=True)
        # Room for a second's worth of requests in flight: a stall of the load's own
        # thread (it shares 2 cores with the server) sends the overdue ones at once.
        with Load(api.url, _mix(demo_project), rate, concurrency=200, timeout=10.0) as load:
            sampler.start()
            began = time.monotonic()
            time.sleep(warmup + duration)
        done.set()
        sampler.join()
        assert api.alive()
    measured = began + warmup
    samples = [s for s in load.samples if s.sent >= measured]
    wrong = Counter(f"{s.kind}: {s.status}" for s in samples if s.status != EXPECTED[s.kind])
    lookups = [s for s in samples if s.kind.startswith("lookup")]
    third = duration / 3
    first = [s.seconds for s in lookups if s.sent < measured + third]
    last = [s.seconds for s in lookups if s.sent >= measured + 2 * third]
    p99_first, p99_last = percentile(first, 0.99), percentile(last, 0.99)
    # Median of the first and of the last few readings, so one reading's noise is no trend.
    start_rss = sorted(b for t, b in rss if measured <= t < measured + 3)[1:2] or [0]
    end_rss = sorted(b for t, b in rss[-5:])[2:3] or [0]
    growth = (end_rss[0] - start_rss[0]) / start_rss[0] if start_rss[0] else 0.0
    figures.record(
        "soak",
        f"mixed load, {rate:g} req/s for {duration:g} s",
        requests=len(samples),
        wrong_statuses=sum(wrong.values()),
        p99_first_third_ms=round(p99_first * 1000, 2),
        p99_last_third_ms=round(p99_last * 1000, 2),
        max_ms=round(max((s.seconds for s in samples), default=0) * 1000, 1),
        rss_start_mb=round(start_rss[0] / 2**20, 1),
        rss_end_mb=round(end_rss[0] / 2**20, 1),
        rss_growth_pct=round(growth * 100, 2),
        skipped=sum(1 for s in samples if s.status == "skipped"),
    )
    assert not wrong, dict(wrong)
    assert growth < 0.05, f"RSS grew {growth:.1%}"
    assert p99_last < max(2 * p99_first, p99_first + 0.010), (p99_first, p99_last)
