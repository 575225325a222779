"""Online serving: ``feast serve`` against our server, same repo, same Redis, same data.

One run builds a Feast repo (an int64 entity, a 10-feature view and a 3-feature view),
writes N entities into a dedicated redis-server with vanilla Feast
(``write_to_online_store``), starts ``feast serve`` and our server (exactly what
``featurestore serve`` runs: uvicorn, uvloop, our httptools protocol that answers the
lookup and ``/health`` inline, ``api/protocol.py``) with the same number of workers, and
drives both with the same load generator,
alternating between them: ``wrk`` (C, one thread, HTTP/1.1 keep-alive, a Lua script that
cycles through the same pre-built request bytes) for closed-loop throughput when it is on
PATH (``make bench`` installs it with apt-get when running as root), otherwise the bounded
Python client below (asyncio, raw HTTP/1.1 keep-alive connections), with a note saying so.
Latency at a fixed rate always uses the Python client (wrk has no fixed-rate mode):

- throughput at 1 entity x 10 features, 1 and 16 concurrent connections (closed loop);
- p50 / p99 latency at a fixed moderate rate for 1, 10 and 100 entities per request
  (the feature service over both views, 13 features);
- the raw limit: the same keys fetched in-process with one pipelined redis-py call, and
  the HTTP floor (``GET /health`` on our server, answered inline by the same protocol as
  the lookup, at the same rate);
- the serving log's cost: our server started a second time with the log sampling 1% of
  the lookups (``FEATURESTORE_SERVING_LOG_RATE=0.01``), throughput against the first
  (log off) at 1 and 16 connections, rounds alternating between them.

``feast serve`` runs with ``--max-requests 0``: its default (1000) recycles the worker
every ~1000 requests with a ~1 s stall, which would only flatter our ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import redis

from bench.report import Report

PROJECT = "bench"
VIEW_FEATURES = [f"f{i}" for i in range(10)]
PROFILE_FEATURES = ["age", "segment", "score"]
LOG_RATE = 0.01  # the serving log's sample rate in its row (the 1%)


def feature_store_yaml(project: str) -> str:
    """A Feast repo's ``feature_store.yaml`` for ``project``: a file registry under
    ``data/``, our Redis online store (its address from the environment), DuckDB offline."""
    return f"""\
project: {project}
provider: local
registry:
  registry_type: file
  path: data/registry.db
  cache_ttl_seconds: 60
online_store:
  type: featurestore.feast_plugins.redis_online_store.RedisOnlineStore
offline_store:
  type: duckdb
entity_key_serialization_version: 3
"""


_YAML = feature_store_yaml(PROJECT)

_DEFINITIONS = """\
from datetime import timedelta
from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64, String

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
features = FeatureView(
    name="user_features",
    entities=[user],
    ttl=timedelta(days=3650),
    schema=[Field(name=f"f{i}", dtype=Float64 if i % 2 == 0 else Int64) for i in range(10)],
    source=FileSource(name="user_features_src", path="data/user_features.parquet",
                      timestamp_field="event_timestamp"),
)
profile = FeatureView(
    name="user_profile",
    entities=[user],
    ttl=timedelta(days=3650),
    schema=[Field(name="age", dtype=Int64), Field(name="segment", dtype=String),
            Field(name="score", dtype=Float64)],
    source=FileSource(name="user_profile_src", path="data/user_profile.parquet",
                      timestamp_field="event_timestamp"),
)
bench_model = FeatureService(name="bench_model", features=[features, profile])
"""


# --- data -------------------------------------------------------------------------------


def _build_repo(root: Path, redis_url: str, entities: int) -> Path:
    from feast import FeatureStore

    repo = root / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(_YAML)
    (repo / "definitions.py").write_text(_DEFINITIONS)
    env = {**os.environ, "FEATURESTORE_REDIS_URL": redis_url}
    feast = Path(sys.executable).with_name("feast")
    subprocess.run([str(feast), "-c", str(repo), "apply"], env=env, check=True, capture_output=True)
    os.environ["FEATURESTORE_REDIS_URL"] = redis_url
    store = FeatureStore(repo_path=str(repo))
    rng = np.random.default_rng(7)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ids = np.arange(entities, dtype=np.int64)
    frame = pd.DataFrame({"user_id": ids, "event_timestamp": now})
    for i, name in enumerate(VIEW_FEATURES):
        frame[name] = rng.normal(size=entities) if i % 2 == 0 else rng.integers(0, 1000, entities)
    profile = pd.DataFrame(
        {
            "user_id": ids,
            "event_timestamp": now,
            "age": rng.integers(18, 90, entities),
            "segment": rng.choice(["a", "b", "c"], entities),
            "score": rng.random(entities),
        }
    )
    for start in range(0, entities, 20_000):
        store.write_to_online_store("user_features", frame.iloc[start : start + 20_000])
        store.write_to_online_store("user_profile", profile.iloc[start : start + 20_000])
    return repo


# --- servers ----------------------------------------------------------------------------


def _free_port() -> int:
    from featurestore.redis_server import free_port

    return free_port()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"server at {url} did not become healthy")


def _start_feast(
    repo: Path, redis_url: str, workers: int, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    feast = Path(sys.executable).with_name("feast")
    args = [str(feast), "-c", str(repo), "serve", "-h", "127.0.0.1", "-p", str(port),
            "--workers", str(workers), "--no-access-log", "--max-requests", "0"]  # fmt: skip
    env = {**os.environ, "FEATURESTORE_REDIS_URL": redis_url}
    proc = subprocess.Popen(args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    return proc, f"http://127.0.0.1:{port}"


def _start_ours(
    repo: Path, redis_url: str, workers: int, log: Path, env_extra: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    from featurestore.cli.api_cmd import uvicorn_args

    port = _free_port()
    # exactly what `featurestore serve` runs
    args = [*uvicorn_args("127.0.0.1", port, workers), "--log-level", "warning"]
    env = {**os.environ, "FEATURESTORE_REDIS_URL": redis_url, "FEATURESTORE_REPO_PATH": str(repo)}
    env.pop("FEATURESTORE_SERVING_LOG_RATE", None)
    env.update(env_extra or {})
    proc = subprocess.Popen(args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    return proc, f"http://127.0.0.1:{port}"


# --- load generator ---------------------------------------------------------------------


class Connection(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection speaking just enough HTTP for this benchmark
    (an asyncio protocol: less client overhead than streams, the same for both servers)."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: Any = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: self, self.host, self.port)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"content-length:")
        length = (
            int(head[at + 15 : head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None])
            if at >= 0
            else 0
        )
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        status = int(head[9:12])
        body = bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        waiter, self.waiter = self.waiter, None
        waiter.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("server closed the connection"))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _run(coro: Any) -> Any:
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def _post(path: str, body: dict[str, Any]) -> bytes:
    data = orjson.dumps(body)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


_GET_HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def _throughput(
    url: str, requests: Sequence[bytes], connections: int, seconds: float
) -> float:
    conns = [Connection(url) for _ in range(connections)]
    for conn in conns:
        await conn.open()
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(conn: Connection, offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < stop:
            status, _ = await conn.request(requests[i % len(requests)])
            if status != 200:
                raise RuntimeError(f"{url} answered {status}")
            done += 1
            i += connections

    start = time.perf_counter()
    await asyncio.gather(*(worker(c, i) for i, c in enumerate(conns)))
    elapsed = time.perf_counter() - start
    for conn in conns:
        conn.close()
    return done / elapsed


async def _latencies(url: str, requests: Sequence[bytes], rate: float) -> list[float]:
    """Send the requests one by one at ``rate`` per second; each one's latency in ms."""
    conn = Connection(url)
    await conn.open()
    for raw in requests[:5]:  # warm up
        await conn.request(raw)
    interval = 1.0 / rate
    next_at = time.perf_counter()
    out: list[float] = []
    for raw in requests:
        delay = next_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        start = time.perf_counter()
        status, _ = await conn.request(raw)
        out.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise RuntimeError(f"{url} answered {status}")
        next_at += interval
    conn.close()
    return out


def _lua_string(raw: bytes) -> str:
    """``raw`` as a Lua string literal (long brackets would turn CRLF into LF)."""
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03d}"
                         for b in raw) + '"'  # fmt: skip


def _wrk_throughput(
    wrk: str, url: str, requests: Sequence[bytes], connections: int, seconds: float, tmp: Path
) -> float:
    """Closed-loop requests per second measured by wrk (one thread, ``connections``
    keep-alive connections), cycling through ``requests`` like the Python client does.
    Any non-2xx answer or socket error fails the run, as a non-200 does in the Python one."""
    script = tmp / "requests.lua"
    script.write_text(
        "local requests = {\n"
        + ",\n".join(_lua_string(raw) for raw in requests)
        + "\n}\nlocal i = 0\n"
        "request = function()\n  i = i % #requests + 1\n  return requests[i]\nend\n"
    )
    args = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", str(script), url]
    done = subprocess.run(args, capture_output=True, text=True)  # whole seconds only
    out = done.stdout
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or out}")
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk against {url} saw errors:\n{out}")
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if match is None:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    return float(match.group(1))


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# --- the benchmark ----------------------------------------------------------------------


def _raw_redis_ms(redis_url: str, batches: Sequence[Sequence[int]]) -> list[float]:
    """The same keys and fields, one pipelined HMGET per entity and view, in-process."""
    from featurestore.redis_layout import KeyEncoder, feature_field, ts_field
    from featurestore.value_types import ValueType

    client = redis.Redis.from_url(redis_url)
    encoder = KeyEncoder(PROJECT, ["user_id"], [ValueType.INT64])
    fields_a = [feature_field("user_features", f) for f in VIEW_FEATURES] + [
        ts_field("user_features")
    ]
    fields_b = [feature_field("user_profile", f) for f in PROFILE_FEATURES] + [
        ts_field("user_profile")
    ]
    out = []
    for ids in batches:
        start = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for key in encoder.keys([ids]):
            pipe.hmget(key, fields_a)
            pipe.hmget(key, fields_b)
        pipe.execute()
        out.append((time.perf_counter() - start) * 1000)
    client.close()
    return out


def _serving_log_row(
    report: Report,
    off_url: str,
    logged_url: str,
    requests: Sequence[bytes],
    connections: int,
    rounds: int,
    throughput: Any,
) -> float:
    """Throughput of the server with the serving log off and at ``LOG_RATE``, alternating
    rounds, best of each; adds the row and returns the overhead in percent."""
    best = {"off": 0.0, "logged": 0.0}
    for _ in range(rounds):
        for name, url in (("off", off_url), ("logged", logged_url)):
            best[name] = max(best[name], throughput(url, requests, connections))
    overhead = (1 - best["logged"] / best["off"]) * 100
    report.add(
        measure=f"serving log at {LOG_RATE:.0%} vs off, 1 entity x 10 features, "
        f"{connections} conn (req/s)",
        ours=best["logged"],
        ratio=f"{overhead:+.1f}% overhead",
        **{"raw limit": f"{best['off']:,.0f} with the log off"},
    )
    return overhead


def _serving_log_counts(url: str) -> dict[str, float]:
    """The serving log's counters on the server's /metrics, by outcome."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = re.findall(r'featurestore_serving_log_requests_total\{outcome="(\w+)"\} (\S+)', text)
    return {outcome: float(value) for outcome, value in found}


def rows_feast_one(report: Report) -> float:
    """Feast's 1-connection throughput, from the report's first row."""
    return float(report.rows[0]["feast serve"])


def _check_same_values(feast_url: str, ours_url: str, ids: list[int]) -> None:
    body = {"feature_service": "bench_model", "entities": {"user_id": ids}}
    feast = httpx.post(f"{feast_url}/get-online-features", json=body, timeout=30).json()
    ours = httpx.post(f"{ours_url}/get-online-features", json=body, timeout=30).json()

    def by_name(doc: dict[str, Any]) -> dict[str, list[Any]]:
        names = doc["metadata"]["feature_names"]
        return {n: r["values"] for n, r in zip(names, doc["results"], strict=True)}

    if by_name(feast) != by_name(ours):
        raise RuntimeError("feast serve and our server disagree on the values")


def run(args: argparse.Namespace) -> Report:
    from featurestore.redis_server import LocalRedis, free_port

    quick = bool(getattr(args, "quick", False))
    entities = 5_000 if quick else 100_000
    seconds = 1.5 if quick else 5.0
    rounds = 1 if quick else 2
    samples = 40 if quick else 300
    rate = 20.0
    workers = 1
    rng = random.Random(42)
    wrk = shutil.which("wrk")
    report = Report(
        name="serving",
        title="Online serving: feast serve vs ours (same repo, Redis, data, workers)",
        columns=["measure", "feast serve", "ours", "ratio", "raw limit"],
        parameters={
            "entities": entities,
            "workers": workers,
            "rate_per_s": rate,
            "latency_samples": samples,
            "throughput_seconds": seconds,
            "rounds": rounds,
            "quick": quick,
            "throughput_load_generator": "wrk" if wrk else "python",
        },
    )
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        root = Path(tmp)
        server = LocalRedis(workdir=root / "redis", port=free_port())
        server.start(daemonize=False, persist=False)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            t0 = time.perf_counter()
            repo = _build_repo(root, server.url, entities)
            report.notes.append(
                f"{entities:,} entities x 2 views written with Feast "
                f"in {time.perf_counter() - t0:.0f} s"
            )
            feast_proc, feast_url = _start_feast(repo, server.url, workers, root / "feast.log")
            ours_proc, ours_url = _start_ours(repo, server.url, workers, root / "ours.log")
            # The same server with the serving log sampling 1% of the lookups.
            logged_proc, logged_url = _start_ours(
                repo,
                server.url,
                workers,
                root / "ours-logged.log",
                {"FEATURESTORE_SERVING_LOG_RATE": str(LOG_RATE)},
            )
            procs = [feast_proc, ours_proc, logged_proc]
            _wait_healthy(feast_url, feast_proc)
            _wait_healthy(ours_url, ours_proc)
            _wait_healthy(logged_url, logged_proc)
            _check_same_values(feast_url, ours_url, rng.sample(range(entities), 50))
            urls = {"feast": feast_url, "ours": ours_url}
            one = [
                _post(
                    "/get-online-features",
                    {
                        "features": [f"user_features:{f}" for f in VIEW_FEATURES],
                        "entities": {"user_id": [rng.randrange(entities)]},
                    },
                )
                for _ in range(2000)
            ]
            ratios: dict[str, float] = {}
            floors: dict[int, float] = {}
            overheads: dict[int, float] = {}

            def throughput(url: str, requests: Sequence[bytes], connections: int) -> float:
                if wrk is None:
                    return float(_run(_throughput(url, requests, connections, seconds)))
                return _wrk_throughput(wrk, url, requests, connections, seconds, root)

            for connections in (1, 16):
                best: dict[str, float] = {"feast": 0.0, "ours": 0.0}
                for _ in range(rounds):
                    for name in ("feast", "ours"):
                        best[name] = max(best[name], throughput(urls[name], one, connections))
                floor = throughput(ours_url, [_GET_HEALTH], connections)
                limit = f"{floor:,.0f} GET /health ({floor / best['feast']:.1f}x feast)"
                floors[connections] = floor
                report.add(
                    measure=f"throughput, 1 entity x 10 features, {connections} conn (req/s)",
                    **{"feast serve": best["feast"], "ours": best["ours"]},
                    ratio=f"{best['ours'] / best['feast']:.1f}x",
                    **{"raw limit": limit},
                )
                ratios[f"throughput_{connections}"] = best["ours"] / best["feast"]
            if wrk is not None:  # the same 1-connection row with the Python client, for scale
                best = {"feast": 0.0, "ours": 0.0}
                for _ in range(rounds):
                    for name in ("feast", "ours"):
                        best[name] = max(best[name], _run(_throughput(urls[name], one, 1, seconds)))
                floor = _run(_throughput(ours_url, [_GET_HEALTH], 1, seconds))
                report.add(
                    measure="throughput, 1 entity x 10 features, 1 conn, Python client (req/s)",
                    **{"feast serve": best["feast"], "ours": best["ours"]},
                    ratio=f"{best['ours'] / best['feast']:.1f}x",
                    **{"raw limit": f"{floor:,.0f} GET /health ({floor / best['feast']:.1f}x)"},
                )
            log_rounds = 1 if quick else 5  # short rounds, alternating: the noise of shared cores
            for connections in (1, 16):
                overheads[connections] = _serving_log_row(
                    report, ours_url, logged_url, one, connections, log_rounds, throughput
                )
            sampled = _serving_log_counts(logged_url)
            health = _run(_latencies(ours_url, [_GET_HEALTH] * samples, rate))
            http_floor = _pct(health, 50)
            for size in (1, 10, 100):
                batches = [rng.sample(range(entities), size) for _ in range(samples)]
                bodies = [
                    _post(
                        "/get-online-features",
                        {"feature_service": "bench_model", "entities": {"user_id": ids}},
                    )
                    for ids in batches
                ]
                lat: dict[str, list[float]] = {"feast": [], "ours": []}
                half = len(bodies) // 2
                for part in (bodies[:half], bodies[half:]):  # alternate servers
                    for name in ("feast", "ours"):
                        lat[name] += _run(_latencies(urls[name], part, rate))
                raw = _raw_redis_ms(server.url, batches)
                raw_p50 = _pct(raw, 50)
                for q in (50, 99):
                    f, o = _pct(lat["feast"], q), _pct(lat["ours"], q)
                    row: dict[str, Any] = {
                        "measure": f"p{q} latency, {size} entities x 13 features (ms)",
                        "feast serve": f,
                        "ours": o,
                        "ratio": f"{f / o:.1f}x lower",
                    }
                    if q == 50:
                        floor = raw_p50 + http_floor
                        ratios[f"p50_{size}"] = f / o
                        ratios[f"p50_{size}_vs_raw"] = o / floor
                        row["raw limit"] = (
                            f"{raw_p50:.2f} redis + {http_floor:.2f} http = {floor:.2f} "
                            f"(ours {o / floor:.2f}x)"
                        )
                    else:
                        row["raw limit"] = f"{_pct(raw, 99):.2f} redis"
                    report.add(**row)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            server.stop()

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    vs_raw = max(ratios[f"p50_{n}_vs_raw"] for n in (1, 10, 100))
    one, sixteen = ratios["throughput_1"], ratios["throughput_16"]
    report.goals += [
        f"throughput at 1 entity >= 5x feast serve: 16 connections {sixteen:.1f}x "
        f"({verdict(sixteen >= 5)}), 1 connection {one:.1f}x ({verdict(one >= 5)})",
        f"p50 at 100 entities >= 5x lower than feast serve: {ratios['p50_100']:.1f}x "
        f"({verdict(ratios['p50_100'] >= 5)})",
        f"our p50 within 2x of the raw limit (pipelined redis-py in-process + HTTP floor): "
        f"at most {vs_raw:.2f}x ({verdict(vs_raw <= 2)})",
    ]
    worst_log = max(overheads.values())
    report.goals.append(
        f"serving log at {LOG_RATE:.0%} sampling costs at most 3% throughput: "
        f"16 connections {overheads[16]:.1f}%, 1 connection {overheads[1]:.1f}% "
        f"({verdict(worst_log <= 3)})"
    )
    report.notes.append(
        f"serving log row: the same server started twice (same repo, Redis, data), one with "
        f"FEATURESTORE_SERVING_LOG_RATE={LOG_RATE}; closed loop, rounds alternating between "
        f"the two, best of each; overhead = 1 - logged / off. The logged server sampled "
        f"{sampled.get('queued', 0):,.0f} lookups and dropped "
        f"{sampled.get('dropped', 0):,.0f} (its /metrics)"
    )
    feast_one, ours_one = rows_feast_one(report), float(report.rows[0]["ours"])
    report.notes += [
        f"1 connection, per request (1e6 / req/s): feast serve {1e6 / feast_one:,.0f} us, "
        f"ours {1e6 / ours_one:,.0f} us, GET /health on ours {1e6 / floors[1]:,.0f} us; "
        f"5x needs ours at {1e6 / feast_one / 5:,.0f} us. What ours adds over GET /health "
        "is the lookup's own CPU and its Redis round trip (two more wake-ups per request, "
        "with the load generator, the server and redis-server sharing the same cores)",
        "throughput raw limit: GET /health on our server (answered inline by the same "
        "protocol as the lookup, no Redis), closed loop, same connections: what any "
        "request costs the client, loopback and server before any feature work. "
        f"At 1 connection it is {floors[1]:,.0f} req/s, so no server doing a Redis round "
        "trip per lookup can beat feast serve by more than "
        f"{floors[1] / rows_feast_one(report):.1f}x "
        "in this loop; at 16 connections the server's own cost decides",
        (
            "throughput load generator: wrk (C, 1 thread, HTTP/1.1 keep-alive, a Lua script "
            "cycling through the same request bytes), the same for both servers; the row "
            "marked Python client repeats the 1-connection measure with the asyncio client, "
            "whose own per-request cost on the same 2 cores compresses the ratio"
            if wrk
            else "throughput load generator: wrk NOT FOUND (make bench installs it with "
            "apt-get as root), so the asyncio client ran instead: raw HTTP/1.1 keep-alive, "
            "in the benchmark process, the same for both servers; its own per-request cost "
            "on the same cores compresses the 1-connection ratio"
        ),
        "latency load generator: the asyncio client (one connection at a fixed rate), "
        "the same for both servers",
        "throughput: closed loop, best of the rounds; latency: one connection at a fixed rate, "
        "halves alternating between the servers",
        "HTTP floor: GET /health on our server (answered inline, like the lookup; same "
        "connections for throughput, same rate for latency): the client + loopback + "
        "server cost of any request",
        "feast serve runs with --max-requests 0 "
        "(its default 1000 recycles the worker, ~1 s stalls)",
        f"percentiles over {samples} requests per server and size",
    ]
    return report
