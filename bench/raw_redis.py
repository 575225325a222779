"""Redis alone: the raw limit's load client, and Redis's own account of its CPU.

- ``raw_rate(targets, connections, seconds)``: client processes (spawned, one socket
  each) send pre-packed RESP at redis-servers for ``seconds`` and count what was
  answered; ``hmget_worker`` sends ``PIPELINE`` HMGETs per round trip and finds the end
  of the replies by an ``ECHO`` marker closing the batch, without parsing them (the
  client costs little next to Redis); ``round_trip_worker`` sends one HMGET per round
  trip and parses its reply with hiredis.
- ``CpuMeter``: a node's CPU seconds (``INFO cpu``: ``used_cpu_sys + used_cpu_user``)
  over a piece of work, its idle rate (cron, the cluster bus) taken off: what the work
  cost Redis, whatever the clients cost.

The client processes import this module only (and hiredis): nothing of Feast or of
featurestore's Redis layout.
"""

from __future__ import annotations

import multiprocessing
import random
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from multiprocessing.synchronize import Barrier

    from featurestore.loopback_redis import Node

__all__ = [
    "PIPELINE",
    "CpuMeter",
    "Raw",
    "check_replies",
    "cpu_seconds",
    "hmget_batches",
    "hmget_worker",
    "info",
    "raw_rate",
    "round_trip_worker",
]

T = TypeVar("T")
PIPELINE = 1_000  # HMGETs per round trip of hmget_worker


def info(node: Node, section: str) -> dict[str, Any]:
    return dict(node.client().info(section))  # type: ignore[arg-type]


def cpu_seconds(node: Node) -> float:
    usage = info(node, "cpu")
    return float(usage["used_cpu_sys"]) + float(usage["used_cpu_user"])


@dataclass
class CpuMeter:
    """Redis CPU seconds spent by some nodes on a piece of work, their idle rate (cron,
    the cluster bus) taken off."""

    nodes: list[Node]
    idle: list[float] = field(default_factory=list)  # CPU seconds per second, per node

    def calibrate(self, seconds: float) -> None:
        before, start = [cpu_seconds(n) for n in self.nodes], time.perf_counter()
        time.sleep(seconds)
        elapsed = time.perf_counter() - start
        self.idle = [
            (cpu_seconds(n) - b) / elapsed for n, b in zip(self.nodes, before, strict=True)
        ]

    def measure(self, work: Callable[[], T]) -> tuple[T, list[float], float]:
        """``work()``'s result, the CPU seconds each node spent on it, and the wall time."""
        before, start = [cpu_seconds(n) for n in self.nodes], time.perf_counter()
        result = work()
        elapsed = time.perf_counter() - start
        after = [cpu_seconds(n) for n in self.nodes]
        idle = self.idle or [0.0] * len(self.nodes)
        spent = [max(0.0, a - b - i * elapsed) for a, b, i in zip(after, before, idle, strict=True)]
        return result, spent, elapsed


def hmget_batches(
    keys: Sequence[bytes], fields: Sequence[bytes], count: int, seed: int
) -> list[bytes]:
    """``count`` round trips of ``PIPELINE`` HMGETs of random keys, each ending with an
    ``ECHO`` of the marker."""
    from featurestore.resp_wire import pack_command

    rng = random.Random(seed)
    marker = pack_command(b"ECHO", _MARKER)
    return [
        b"".join(pack_command(b"HMGET", key, *fields) for key in rng.choices(keys, k=PIPELINE))
        + marker
        for _ in range(count)
    ]


_MARKER = b"\x00end-of-batch\xff\x01\x02"
_MARKER_REPLY = b"$%d\r\n%s\r\n" % (len(_MARKER), _MARKER)


def hmget_worker(
    port: int, batches: list[bytes], seconds: float, barrier: Barrier, results: Any
) -> None:
    """One client connection: round trips until ``seconds`` are over; puts (commands
    answered, elapsed seconds) on ``results``."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    tail_size = len(_MARKER_REPLY)
    barrier.wait()
    start = time.perf_counter()
    stop, done, index = start + seconds, 0, 0
    while time.perf_counter() < stop:
        sock.sendall(batches[index % len(batches)])
        tail = b""
        while tail != _MARKER_REPLY:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError(f"redis-server on {port} closed the connection")
            tail = chunk[-tail_size:] if len(chunk) >= tail_size else (tail + chunk)[-tail_size:]
        done += PIPELINE
        index += 1
    results.put((done, time.perf_counter() - start))
    sock.close()


def round_trip_worker(
    port: int, commands: list[bytes], seconds: float, barrier: Barrier, results: Any
) -> None:
    """One client connection, one HMGET per round trip (a one-entity lookup's load on
    its master); puts (round trips, elapsed seconds) on ``results``."""
    import hiredis

    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = hiredis.Reader()
    barrier.wait()
    start = time.perf_counter()
    stop, done = start + seconds, 0
    while time.perf_counter() < stop:
        sock.sendall(commands[done % len(commands)])
        while reader.gets() is False:
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError(f"redis-server on {port} closed the connection")
            reader.feed(chunk)
        done += 1
    results.put((done, time.perf_counter() - start))
    sock.close()


def check_replies(node: Node, batch: bytes) -> None:
    """Every HMGET of ``batch`` answers a value for every field (the keys exist)."""
    import hiredis

    with socket.create_connection(("127.0.0.1", node.port)) as sock:
        sock.sendall(batch)
        reader, replies = hiredis.Reader(), list[Any]()
        while len(replies) < PIPELINE + 1:
            reader.feed(sock.recv(1 << 20))
            while (reply := reader.gets()) is not False:
                replies.append(reply)
    if any(not isinstance(r, list) or None in r for r in replies[:-1]) or replies[-1] != _MARKER:
        raise RuntimeError(f"the raw HMGETs on {node.port} do not all find their keys")


@dataclass
class Raw:
    """One raw run: HMGETs answered, their rate, each target's Redis CPU, the wall time."""

    commands: int
    rate: float
    cpu: list[float]
    elapsed: float

    @property
    def cpu_per_command(self) -> float:
        return sum(self.cpu) / self.commands

    @property
    def busy(self) -> list[float]:
        """Each target's share of one core spent."""
        return [spent / self.elapsed for spent in self.cpu]


def raw_rate(
    targets: Sequence[tuple[Node, list[bytes]]],
    connections: int,
    seconds: float,
    worker: Callable[..., None] = hmget_worker,
) -> Raw:
    """HMGETs from ``connections`` processes per target, all at once, for ``seconds``."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(targets) * connections + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=worker, args=(node.port, batches, seconds, barrier, results))
        for node, batches in targets
        for _ in range(connections)
    ]
    for proc in procs:
        proc.start()
    meter = CpuMeter([node for node, _ in targets])
    try:

        def work() -> list[tuple[int, float]]:
            barrier.wait(timeout=60)
            return [results.get(timeout=seconds + 60) for _ in procs]

        answered, spent, elapsed = meter.measure(work)
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
    commands = sum(done for done, _ in answered)
    return Raw(commands, commands / max(took for _, took in answered), spent, elapsed)
