"""Writing batches into a Redis Cluster: each master's rows as one pipeline, all at once.

The commands and their bytes are those of the single-node writer
(``featurestore.materialize.resp``: one Arrow row per entity), and so is the rule
(newer event time wins: a pipelined ``HMGET _ts:view`` per entity, then the ``HSET``s
of the newer rows). What differs is the routing: each row's key has a slot
(``redis.crc.key_slot``: CRC16 of the key or of its ``{hash tag}``), each slot a master
(redis-py's slot map, ``RedisCluster.nodes_manager``). Per round trip, the rows of each
master are taken out of the batch (``pyarrow.Array.take``) and sent to it, to every
master before any answer is read, so the masters work at the same time; then each
master's replies are read (hiredis), one or four per row (``MULTI; HSET; EXPIRE; EXEC``
with a key TTL).

A row answered ``MOVED`` is sent again after the slot map is re-read; one answered
``ASK`` (its slot is being migrated, and the key has left) goes to the named node behind
``ASKING`` (which holds through a ``MULTI``), at most ``MAX_REDIRECTS`` times. A master
that cannot be reached fails the batch with ``OnlineStoreUnavailableError`` (503 on the
API) and the slot map is re-read, so the next batch, or the retry of a push, goes to
the replica promoted in its place. Every wait is bounded by the cluster client's socket
timeout (``FEATURESTORE_REDIS_TIMEOUT``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import hiredis
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import Connection
from redis.crc import key_slot

from featurestore.errors import OnlineStoreUnavailableError, OnlineWriteError
from featurestore.materialize.resp import buffer_of, join_rows, ts_commands, write_commands
from featurestore.materialize.timestamps import stored_nanos_of
from featurestore.materialize.writer import BatchOutcome, _send_all
from featurestore.redis_client import LazyCluster
from featurestore.resp_wire import pack_command

__all__ = ["MAX_REDIRECTS", "ClusterWriter", "slots_of"]

MAX_REDIRECTS = 5
_ASKING = pack_command(b"ASKING")
_REDIS_ERRORS = (
    OSError,
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.RedisClusterException,
)


def slots_of(keys: pa.Array) -> npt.NDArray[np.int64]:
    """The cluster slot of each key."""
    return np.fromiter((key_slot(key) for key in keys.to_pylist()), np.int64, len(keys))


class ClusterWriter:
    """Writes batches of one feature view into a cluster, a connection per master."""

    def __init__(
        self,
        cluster: RedisCluster | LazyCluster,
        ts_field: bytes,
        fields: Sequence[bytes],
        key_ttl_seconds: int | None = None,
        skip_dedup: bool = False,
    ) -> None:
        self._cluster = cluster
        self._ts_field = ts_field
        self._fields = list(fields)
        self._ttl = key_ttl_seconds or None
        self._skip_dedup = skip_dedup
        self._conns: dict[str, tuple[redis.Redis, Connection]] = {}
        self._active = False

    def __enter__(self) -> ClusterWriter:
        self._active = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._active = False
        conns, self._conns = self._conns, {}
        for client, conn in conns.values():
            if exc[0] is not None:
                conn.disconnect()  # replies may be pending: never reuse this socket
            client.connection_pool.release(conn)

    # -- batches ---------------------------------------------------------------------

    def stored_nanos(
        self, keys: pa.Array, slots: npt.NDArray[np.int64] | None = None
    ) -> npt.NDArray[np.int64]:
        """The event time already stored for each key (0 when none)."""
        slots = slots_of(keys) if slots is None else slots
        replies = self._run(ts_commands(keys, self._ts_field), slots, 1)
        return stored_nanos_of((reply[0] for reply in replies), len(keys))

    def write(
        self,
        keys: pa.Array,
        values: Sequence[pa.Array],
        ts_bytes: pa.Array,
        ts_nanos: npt.NDArray[np.int64],
    ) -> BatchOutcome:
        """Write the rows whose event time is newer than what the cluster holds."""
        rows = len(keys)
        if rows == 0:
            return BatchOutcome(0, 0)
        slots = slots_of(keys)
        commands = write_commands(keys, values, ts_bytes, self._fields, self._ts_field, self._ttl)
        if not self._skip_dedup:
            previous = self.stored_nanos(keys, slots)
            newer = (previous == 0) | (ts_nanos > previous)
            if not newer.all():
                commands = commands.filter(pa.array(newer))
                slots = slots[newer]
        written = len(commands)
        if written:
            self._run(commands, slots, 4 if self._ttl else 1)
        return BatchOutcome(written, rows - written)

    # -- routing -----------------------------------------------------------------------

    def _run(
        self, commands: pa.Array, slots: npt.NDArray[np.int64], per_row: int
    ) -> list[list[Any]]:
        """Every row's command on its master; each row's ``per_row`` replies, in order."""
        if not self._active:
            raise RuntimeError("ClusterWriter is used outside its with block")
        results: list[list[Any]] = [[] for _ in range(len(commands))]
        todo = np.arange(len(commands), dtype=np.int64)
        asked: dict[int, ClusterNode] = {}  # row -> the node an ASK named
        for _ in range(MAX_REDIRECTS + 1):
            groups = self._groups(todo, slots, asked)
            with self._unavailable():
                for (node, asking), rows in groups.items():
                    chosen = commands.take(pa.array(rows))
                    if asking:
                        chosen = join_rows([_ASKING, chosen])
                    _send_all(self._socket(node), buffer_of(chosen))
                moved: list[int] = []
                asked = {}
                for (node, asking), rows in groups.items():
                    step = per_row + (1 if asking else 0)
                    replies = self._replies(node, len(rows) * step)
                    for position, row in enumerate(rows):
                        own = replies[
                            position * step + (1 if asking else 0) : (position + 1) * step
                        ]
                        redirect = _redirect(own)
                        if redirect is None:
                            results[row] = own
                        elif redirect[0] == "MOVED":
                            moved.append(row)
                        else:
                            asked[row] = self._node(redirect[1])
            if not moved and not asked:
                return results
            if moved:
                self._refresh()
            todo = np.array(sorted([*moved, *asked]), dtype=np.int64)
        raise OnlineWriteError(f"more than {MAX_REDIRECTS} cluster redirections for one batch")

    def _groups(
        self,
        rows: npt.NDArray[np.int64],
        slots: npt.NDArray[np.int64],
        asked: dict[int, ClusterNode],
    ) -> dict[tuple[ClusterNode, bool], list[int]]:
        """The rows per (node, behind ASKING), in row order."""
        manager = self._cluster.nodes_manager
        masters: dict[int, ClusterNode] = {}
        groups: dict[tuple[ClusterNode, bool], list[int]] = {}
        with self._unavailable():
            for row, slot in zip(rows.tolist(), slots[rows].tolist(), strict=True):
                target = asked.get(row)
                if target is not None:
                    groups.setdefault((target, True), []).append(row)
                    continue
                node = masters.get(slot)
                if node is None:
                    node = masters[slot] = manager.get_node_from_slot(slot)
                groups.setdefault((node, False), []).append(row)
        return groups

    def _node(self, address: str) -> ClusterNode:
        """The node of an ASK's ``host:port`` (the slot map re-read when it is new)."""
        host, _, port = address.rpartition(":")
        manager = self._cluster.nodes_manager
        node = manager.get_node(host=host, port=int(port))
        if node is None:
            self._refresh()
            node = manager.get_node(host=host, port=int(port))
        if node is None:
            raise OnlineWriteError(f"the cluster sent a write to {address}, which it does not list")
        return node

    def _refresh(self) -> None:
        with self._unavailable():
            self._cluster.nodes_manager.initialize()

    # -- connections -------------------------------------------------------------------

    def _socket(self, node: ClusterNode) -> Any:
        held = self._conns.get(node.name)
        if held is None:
            client = self._cluster.get_redis_connection(node)
            held = self._conns[node.name] = (client, client.connection_pool.get_connection())
        conn = held[1]
        if conn._sock is None:  # redis-py connects (AUTH, TLS) lazily
            conn.connect()
        return conn._sock

    def _replies(self, node: ClusterNode, count: int) -> list[Any]:
        sock = self._socket(node)
        reader = hiredis.Reader()
        replies: list[Any] = []
        while len(replies) < count:
            reply = reader.gets()
            if reply is False:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    raise OnlineWriteError(
                        f"Redis {node.name} closed the connection in the middle of a batch"
                    )
                reader.feed(chunk)
                continue
            replies.append(reply)
        return replies

    @contextmanager
    def _unavailable(self) -> Iterator[None]:
        """A master that cannot be reached: the batch's one error, the slot map re-read
        (the next batch goes to a promoted replica), the connections dropped."""
        try:
            yield
        except _REDIS_ERRORS as exc:
            for _, conn in self._conns.values():
                conn.disconnect()
            timeout = None
            with contextlib.suppress(*_REDIS_ERRORS):
                timeout = self._cluster.get_connection_kwargs().get("socket_timeout")
                self._cluster.nodes_manager.initialize()
            if timeout and isinstance(exc, TimeoutError | redis.TimeoutError):
                reason = f"no answer within {timeout:g} s (FEATURESTORE_REDIS_TIMEOUT)"
            else:
                reason = str(exc) or type(exc).__name__
            raise OnlineStoreUnavailableError(reason) from exc


def _redirect(replies: list[Any]) -> tuple[str, str] | None:
    """("MOVED" or "ASK", "host:port") when a row's replies redirect it; None when they
    are its answers. Any other error reply is the batch's ``OnlineWriteError``."""
    for reply in replies:
        if isinstance(reply, hiredis.ReplyError):
            text = str(reply)
            if text.startswith(("MOVED ", "ASK ")):
                kind, _, where = text.split(" ", 2)
                return kind, where.strip()
            if text.startswith("EXECABORT"):
                continue  # the MULTI's redirected HSET says why
            raise OnlineWriteError(f"Redis refused a write: {text}")
    return None
