"""Writing a batch of rows into Feast's Redis layout, newer event time wins.

Per batch, two round trips on one connection, as Feast does but without a Python object
per command: one pipelined ``HMGET key _ts:view`` for every entity, then one pipelined
``HSET key field value ... _ts:view ts`` for each entity whose stored event time is
absent or older (Feast's rule: an equal event time is not written again). With a key
TTL, each write is ``MULTI; HSET; EXPIRE; EXEC``, so a key is never left without its TTL.

The batch's bytes are sent by a thread of the writer's own, so the next batch is
queried and encoded while Redis reads this one (a ``sendall`` of a batch mostly waits for
Redis); at most one batch is in flight, so memory stays bounded. Over TLS the caller's
thread sends instead: an OpenSSL session must not be written and read by two threads at
once (a race that dropped TLS connections mid-batch). The HSETs of a batch are
built before its event times come back and then filtered, so Redis is idle only for a
filter between the HMGET's answer and the batch's HSETs.

Every wait on Redis (connecting, sending, each reply) is bounded by the client's socket
timeout (``FEATURESTORE_REDIS_TIMEOUT``), a batch's send included: its timeout bounds each
stall, not the whole batch, which may take longer to cross a slow network. A frozen or
unreachable Redis fails the run with ``OnlineStoreUnavailableError``.

Every HSET is atomic in Redis, and a re-run writes exactly the rows that are still
missing or older, so an interrupted run followed by a complete one leaves the same data
as one clean run.

Given a ``redis.RedisCluster``, the writer hands each batch to
``featurestore.materialize.cluster_writer.ClusterWriter``: the same commands and bytes,
one pipeline per master, MOVED / ASK followed. A sentinel's client (a ``redis.Redis``
whose pool connects to the master the sentinels name) needs nothing else.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import hiredis
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import redis
from redis.connection import Connection

from featurestore.errors import OnlineStoreUnavailableError, OnlineWriteError
from featurestore.materialize.resp import buffer_of, ts_commands, write_commands
from featurestore.materialize.timestamps import stored_nanos_of

if TYPE_CHECKING:
    from featurestore.materialize.cluster_writer import ClusterWriter
    from featurestore.redis_client import OnlineClient


@dataclass
class BatchOutcome:
    written: int
    skipped: int


class RedisWriter:
    """Writes batches of one feature view through one dedicated connection."""

    _client: redis.Redis  # one Redis (or a sentinel's master); unset for a cluster

    def __init__(
        self,
        client: OnlineClient,
        ts_field: bytes,
        fields: Sequence[bytes],
        key_ttl_seconds: int | None = None,
        skip_dedup: bool = False,
        background_send: bool = True,
    ) -> None:
        # ``background_send=False``: every batch is sent by the caller's thread (the push
        # path writes one batch per request; a thread per request would cost more).
        self._cluster: ClusterWriter | None = None
        if isinstance(client, redis.Redis):
            self._client = client
        else:  # a cluster: every method hands its work on, and self._client stays unset
            from featurestore.materialize.cluster_writer import ClusterWriter

            self._cluster = ClusterWriter(
                client, ts_field, fields, key_ttl_seconds or None, skip_dedup
            )
        self._background = background_send
        self._skip_dedup = skip_dedup
        self._ts_field = ts_field
        self._fields = list(fields)
        self._ttl = key_ttl_seconds or None
        self._conn: Connection | None = None
        self._buffer = b""
        self._pending = 0
        self._sender: ThreadPoolExecutor | None = None
        self._sending: Future[None] | None = None

    def __enter__(self) -> RedisWriter:
        if self._cluster is not None:
            self._cluster.__enter__()
            return self
        with self._unavailable():
            self._conn = self._client.connection_pool.get_connection()
        self._buffer = b""
        self._pending = 0
        if self._background:
            self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redis-writer")
        self._sending = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._cluster is not None:
            self._cluster.__exit__(*exc)
            return
        conn = self._conn
        if conn is None:
            return
        clean = False
        try:
            if exc[0] is None:
                self._wait_sent()
                self._flush()  # the last batch's HSET replies
                clean = not self._buffer
        finally:
            self._conn = None
            if not clean:
                conn.disconnect()  # replies may be pending: never reuse this socket
            if self._sender is not None:  # a send cut short by the disconnect ends here
                self._sender.shutdown(wait=True)
                self._sender = None
            self._sending = None
            self._client.connection_pool.release(conn)

    @contextmanager
    def _unavailable(self) -> Iterator[None]:
        """Socket and connection errors, timeouts first of all, as the run's one error."""
        try:
            yield
        except (OSError, redis.ConnectionError, redis.TimeoutError) as exc:
            timeout = self._client.get_connection_kwargs().get("socket_timeout")
            if timeout and isinstance(exc, TimeoutError | redis.TimeoutError):
                reason = f"no answer within {timeout:g} s (FEATURESTORE_REDIS_TIMEOUT)"
            else:
                reason = str(exc) or type(exc).__name__
            raise OnlineStoreUnavailableError(reason) from exc

    def _socket(self) -> socket.socket:
        conn = self._conn
        if conn is None:
            raise RuntimeError("RedisWriter is used outside its with block")
        if conn._sock is None:  # redis-py connects (AUTH, SELECT, TLS) lazily
            with self._unavailable():
                conn.connect()
        assert conn._sock is not None
        return conn._sock

    def _send(self, commands: pa.Array) -> None:
        """Hand ``commands`` to the sending thread, once the previous batch is sent."""
        self._wait_sent()
        if self._conn is None:
            raise RuntimeError("RedisWriter is used outside its with block")
        sock = self._socket()
        if self._sender is None or isinstance(sock, ssl.SSLSocket):
            # One TLS session must not be written by one thread while another reads it
            # (OpenSSL's SSL objects are not thread-safe): over rediss://, send here.
            with self._unavailable():
                _send_all(sock, buffer_of(commands))
            return
        # The memoryview keeps the Arrow buffer alive until it is sent.
        self._sending = self._sender.submit(_send_all, sock, buffer_of(commands))

    def _wait_sent(self) -> None:
        sending, self._sending = self._sending, None
        if sending is not None:
            with self._unavailable():
                sending.result()  # a send's error is raised here, in the caller's thread

    def _receive(self) -> bytes:
        if self._buffer:
            chunk, self._buffer = self._buffer, b""
            return chunk
        with self._unavailable():
            chunk = self._socket().recv(1 << 20)
        if not chunk:
            raise OnlineWriteError("Redis closed the connection in the middle of a batch")
        return chunk

    def _replies(self, count: int, absent: bytes = b"") -> list[object] | None:
        """Parse the next ``count`` replies (hiredis, straight from the socket); they must
        be the last ones expected.

        With ``absent`` (the bytes of the reply that means "nothing stored"), returns
        ``None`` without parsing when every reply is exactly that: the usual case of a
        first materialization, decided by one comparison of the received bytes."""
        reader = hiredis.Reader()
        if absent:
            # Every reply is at least as long as ``absent``, so this never over-reads.
            expected = absent * count
            received = bytearray()
            while len(received) < len(expected):
                received += self._receive()
            if received == expected:
                return None
            reader.feed(bytes(received))
        replies: list[object] = []
        while len(replies) < count:
            reply = reader.gets()
            if reply is False:
                reader.feed(self._receive())
                continue
            if isinstance(reply, hiredis.ReplyError):
                raise OnlineWriteError(f"Redis refused a command: {reply}")
            replies.append(reply)
        return replies

    def _flush(self) -> None:
        """Consume the replies of the HSETs sent so far: one line each (an integer or an
        error), so counting line ends is enough, no parsing per reply."""
        remaining, self._pending = self._pending, 0
        error = b""
        while remaining:
            chunk = self._receive()
            ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
            if len(ends) >= remaining:  # the rest belongs to the next replies
                cut = int(ends[remaining - 1]) + 1
                chunk, self._buffer = chunk[:cut], chunk[cut:]
                remaining = 0
            else:
                remaining -= len(ends)
            if not error and (chunk.startswith(b"-") or b"\n-" in chunk):
                at = 0 if chunk.startswith(b"-") else chunk.index(b"\n-") + 1
                error = chunk[at : chunk.find(b"\r", at)]
        if error:
            raise OnlineWriteError(f"Redis refused a write: {error.decode(errors='replace')}")

    def stored_nanos(self, keys: pa.Array) -> npt.NDArray[np.int64]:
        """The event time already stored for each key (0 when none)."""
        if self._cluster is not None:
            return self._cluster.stored_nanos(keys)
        self._send(ts_commands(keys, self._ts_field))
        self._flush()  # the previous batch's HSETs were answered before these
        replies = self._replies(len(keys), absent=_NO_TIMESTAMP)
        return stored_nanos_of(replies or (), len(keys))  # type: ignore[arg-type]

    def write(
        self,
        keys: pa.Array,
        values: Sequence[pa.Array],
        ts_bytes: pa.Array,
        ts_nanos: npt.NDArray[np.int64],
    ) -> BatchOutcome:
        """Write the rows whose event time is newer than what Redis holds."""
        if self._cluster is not None:
            return self._cluster.write(keys, values, ts_bytes, ts_nanos)
        rows = len(keys)
        if rows == 0:
            return BatchOutcome(0, 0)
        commands = self._commands(keys, values, ts_bytes)  # one element per row
        if self._skip_dedup:
            self._flush()  # at most one batch of replies outstanding
        else:
            previous = self.stored_nanos(keys)
            newer = (previous == 0) | (ts_nanos > previous)
            if not newer.all():
                commands = commands.filter(pa.array(newer))
        written = len(commands)
        if written == 0:
            return BatchOutcome(0, rows)
        self._send(commands)
        if self._ttl:
            self._replies(4 * written)
        else:
            # Not waiting: Redis runs these while the next batch is encoded; their
            # replies are read before the next batch's HMGET answers (or on exit).
            self._pending += written
        return BatchOutcome(written, rows - written)

    def _commands(self, keys: pa.Array, values: Sequence[pa.Array], ts_bytes: pa.Array) -> pa.Array:
        return write_commands(keys, values, ts_bytes, self._fields, self._ts_field, self._ttl)


def _send_all(sock: socket.socket, data: memoryview) -> None:
    """``sock.sendall(data)``, but the socket's timeout bounds each wait for Redis to read,
    not the whole batch (``sendall``'s timeout is a total since Python 3.5)."""
    while data:
        data = data[sock.send(data) :]


_NO_TIMESTAMP = b"*1\r\n$-1\r\n"  # HMGET's reply when the key or field is absent
