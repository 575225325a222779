"""A minimal pipelined Redis client for the read path: RESP bytes out, hiredis in.

redis-py's pipeline packs and parses each command in Python, which costs more than the
network for a 100-entity lookup. A lookup sends only ``HMGET`` commands whose field lists
are fixed per read plan, so the request bytes are mostly precomputed (``hmget_fields``)
and the replies are parsed in C by hiredis.

``RespClient`` keeps one connection (an asyncio ``Protocol``, no streams) and multiplexes
every caller's pipeline on it: Redis answers in order, so each reply goes to the oldest
waiting request. Callers pass a callback (``send``, what the HTTP server's inline route
uses: no task, no future, no timer per request) or await (``call``). Timeouts are checked
by one timer per client, a few times per timeout period, while requests wait: a request
older than the timeout fails every waiting request with ``TimeoutError`` and drops the
connection (later replies could no longer be matched), so a request fails within 1.25x
the timeout. A connection that fails or closes fails its waiting requests with
``RespError``; the next request opens a new one, so the client recovers by itself when
Redis comes back.

Two hooks serve the cluster and sentinel clients (``featurestore.online.cluster``,
``featurestore.online.sentinel``), and cost the single-node path nothing: ``send(...,
keep_errors=True)`` hands each error reply (``MOVED``, ``ASK``...) to the caller in its
place among the replies, and ``resolve`` names the address to connect to, asked anew at
each connection (the master the sentinels name now).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import hiredis

from featurestore.resp_wire import bulk, header, pack_command
from featurestore.settings import RedisAddress

__all__ = ["Replies", "RespClient", "RespError", "hmget_fields", "pack_command"]

logger = logging.getLogger(__name__)

Replies = list[Any] | Exception
"""What a callback gets: the replies in order, or ``RespError`` / ``TimeoutError``."""


class RespError(Exception):
    """Redis answered with an error, or the connection failed."""


def hmget_fields(fields: Sequence[bytes]) -> tuple[bytes, bytes]:
    """(command head, packed fields) of ``HMGET <key> fields...``: the key goes between."""
    head = header(len(fields) + 2) + bulk(b"HMGET")
    return head, b"".join(bulk(field) for field in fields)


class _Request:
    __slots__ = ("callback", "deadline", "error", "keep_errors", "left", "replies")

    def __init__(
        self,
        left: int,
        callback: Callable[[Replies], None],
        deadline: float,
        keep_errors: bool = False,
    ) -> None:
        self.left = left
        self.callback = callback
        self.deadline = deadline
        self.keep_errors = keep_errors
        self.replies: list[Any] = []
        self.error: RespError | None = None


def _deliver(callback: Callable[[Replies], None], result: Replies) -> None:
    try:
        callback(result)
    except Exception:  # a caller's bug must not break the connection or its other callers
        logger.exception("error in a Redis reply callback")


class _Connection(asyncio.Protocol):
    """One connection; requests wait in ``waiting``, oldest first, as Redis answers."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = hiredis.Reader()
        self.waiting: deque[_Request] = deque()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, payload: bytes, request: _Request) -> None:
        assert self.transport is not None
        self.waiting.append(request)
        self.transport.write(payload)

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        parser.feed(data)
        waiting = self.waiting
        try:
            while waiting:
                request = waiting[0]
                reply = parser.gets()
                if reply is False:
                    return
                if isinstance(reply, hiredis.ReplyError) and not request.keep_errors:
                    request.error = request.error or RespError(str(reply))
                else:
                    request.replies.append(reply)
                request.left -= 1
                if request.left == 0:
                    waiting.popleft()
                    _deliver(request.callback, request.error or request.replies)
        except hiredis.ProtocolError as exc:
            self.fail(RespError(f"bad reply from Redis: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(RespError(str(exc) if exc else "connection closed by Redis"))

    def fail(self, error: Exception) -> None:
        """Fail every waiting request with ``error`` and close: nothing is usable after."""
        self.closed = True
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop may be closed already
                self.transport.abort()
        while self.waiting:
            _deliver(self.waiting.popleft().callback, error)


Resolve = Callable[[], Awaitable[tuple[str, int]]]
"""Where to connect now: (host, port); raises ``RespError`` when nobody can say."""


class RespClient:
    """Pipelines to one Redis, multiplexed on one connection, each within ``timeout``."""

    def __init__(
        self, address: RedisAddress, timeout: float, resolve: Resolve | None = None
    ) -> None:
        self.address = address
        self.timeout = timeout
        self._resolve = resolve
        self._conn: _Connection | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._pending: list[tuple[bytes, _Request]] = []  # waiting for a connection
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def send(
        self,
        payload: bytes,
        replies: int,
        callback: Callable[[Replies], None],
        keep_errors: bool = False,
    ) -> None:
        """Send ``payload`` (``replies`` commands); ``callback`` gets the replies or the
        error, from the event loop, exactly once (maybe before ``send`` returns). With
        ``keep_errors``, an error reply is one of the replies (a ``hiredis.ReplyError``)
        instead of failing the request."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        request = _Request(replies, callback, loop.time() + self.timeout, keep_errors)
        conn = self._conn
        if conn is not None and not conn.closed:
            conn.send(payload, request)
        else:
            self._pending.append((payload, request))
            if self._connecting is None:
                self._connecting = loop.create_task(self._connect())
        if self._timer is None:
            self._timer = loop.call_later(self.timeout / 4, self._check)

    async def call(self, payload: bytes, replies: int, keep_errors: bool = False) -> list[Any]:
        """``send``, awaited: the replies, or ``RespError`` / ``TimeoutError``."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop and self._loop is not None:  # a new loop: start afresh
            self._drop(RespError("the event loop changed"))
        self._loop = loop
        future: asyncio.Future[list[Any]] = loop.create_future()

        def done(result: Replies) -> None:
            if future.done():
                return
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

        self.send(payload, replies, done, keep_errors)
        return await future

    def _check(self) -> None:
        """The timeout timer: fail everything if the oldest request is too old."""
        self._timer = None
        assert self._loop is not None
        now = self._loop.time()
        conn = self._conn
        if conn is not None and conn.waiting and conn.waiting[0].deadline <= now:
            conn.fail(TimeoutError(f"Redis did not answer within {self.timeout:g} s"))
        if self._pending and self._pending[0][1].deadline <= now:
            self._fail_pending(TimeoutError(f"no Redis connection within {self.timeout:g} s"))
        if self._pending or (conn is not None and conn.waiting):
            self._timer = self._loop.call_later(self.timeout / 4, self._check)

    def _fail_pending(self, error: Exception) -> None:
        pending, self._pending = self._pending, []
        for _, request in pending:
            _deliver(request.callback, error)

    async def _connect(self) -> None:
        try:
            conn = await self._open()
        except Exception as exc:  # refused, timed out, failed AUTH: tell everyone waiting
            self._connecting = None
            error = exc if isinstance(exc, RespError) else RespError(str(exc) or type(exc).__name__)
            self._fail_pending(error)
            return
        self._connecting = None
        if self._conn is not None:
            self._conn.fail(RespError("replaced"))
        self._conn = conn
        pending, self._pending = self._pending, []
        for payload, request in pending:
            conn.send(payload, request)

    async def _open(self) -> _Connection:
        context = self.address.ssl_context()
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.timeout):
            host, port = self.address.host, self.address.port
            if self._resolve is not None:
                host, port = await self._resolve()
            _, conn = await loop.create_connection(_Connection, host, port, ssl=context)
        setup: list[bytes] = []
        if self.address.password:
            user = [self.address.username.encode()] if self.address.username else []
            setup.append(pack_command(b"AUTH", *user, self.address.password.encode()))
        if self.address.db:
            setup.append(pack_command(b"SELECT", str(self.address.db).encode()))
        if setup:
            future: asyncio.Future[Replies] = loop.create_future()

            def done(result: Replies) -> None:
                if not future.done():
                    future.set_result(result)

            conn.send(b"".join(setup), _Request(len(setup), done, 0.0))
            try:
                async with asyncio.timeout(self.timeout):
                    result = await future
            except BaseException:
                conn.fail(RespError("setup interrupted"))
                raise
            if isinstance(result, Exception):
                conn.fail(result)
                raise result
        return conn

    def _drop(self, error: Exception) -> None:
        """Forget the connection and fail every request (``close``, a new event loop)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        self._fail_pending(error)
        if self._conn is not None:
            self._conn.fail(error)
            self._conn = None

    def abort(self, error: Exception) -> None:
        """Fail every waiting request with ``error`` and drop the connection, now (the next
        request connects again)."""
        self._drop(error)

    async def close(self) -> None:
        self._drop(RespError("client closed"))
