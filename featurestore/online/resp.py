"""A minimal pipelined Redis client for the read path: RESP bytes out, hiredis in.

redis-py's pipeline packs and parses each command in Python, which costs more than the
network for a 100-entity lookup. A lookup sends only ``HMGET`` commands whose field lists
are fixed per read plan, so the request bytes are mostly precomputed (``hmget_prefix``)
and the replies are parsed in C by hiredis. Connections are pooled; a connection that
fails or times out is dropped, and the next request opens a new one, so the client
recovers by itself when Redis comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl as ssl_module
from collections.abc import Sequence
from typing import Any

import hiredis

from featurestore.settings import RedisAddress

__all__ = ["RespError", "RespPool", "hmget_fields", "pack_command"]


class RespError(Exception):
    """Redis answered with an error, or the connection failed."""


def _bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


def pack_command(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(_bulk(part) for part in parts)


def hmget_fields(fields: Sequence[bytes]) -> tuple[bytes, bytes]:
    """(command head, packed fields) of ``HMGET <key> fields...``: the key goes between."""
    head = b"*%d\r\n$5\r\nHMGET\r\n" % (len(fields) + 2)
    return head, b"".join(_bulk(field) for field in fields)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = hiredis.Reader()

    async def call(self, payload: bytes, replies: int) -> list[Any]:
        self.writer.write(payload)
        out: list[Any] = []
        parser = self.parser
        while len(out) < replies:
            reply = parser.gets()
            if reply is False:
                data = await self.reader.read(262144)
                if not data:
                    raise RespError("connection closed by Redis")
                parser.feed(data)
                continue
            if isinstance(reply, hiredis.ReplyError):
                raise RespError(str(reply))
            out.append(reply)
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class RespPool:
    """Pooled connections to one Redis; ``call`` sends a pipeline and returns its replies."""

    def __init__(self, address: RedisAddress, timeout: float, max_idle: int = 64) -> None:
        self.address = address
        self.timeout = timeout
        self.max_idle = max_idle
        self._idle: list[_Connection] = []

    async def _open(self) -> _Connection:
        context = ssl_module.create_default_context() if self.address.ssl else None
        reader, writer = await asyncio.open_connection(
            self.address.host, self.address.port, ssl=context
        )
        conn = _Connection(reader, writer)
        setup: list[bytes] = []
        if self.address.password:
            setup.append(pack_command(b"AUTH", self.address.password.encode()))
        if self.address.db:
            setup.append(pack_command(b"SELECT", str(self.address.db).encode()))
        if setup:
            try:
                await conn.call(b"".join(setup), len(setup))
            except BaseException:
                conn.close()
                raise
        return conn

    async def _call(self, payload: bytes, replies: int) -> list[Any]:
        conn = self._idle.pop() if self._idle else await self._open()
        try:
            out = await conn.call(payload, replies)
        except BaseException:
            conn.close()
            raise
        if len(self._idle) < self.max_idle:
            self._idle.append(conn)
        else:
            conn.close()
        return out

    async def call(self, payload: bytes, replies: int) -> list[Any]:
        """Send ``payload`` (``replies`` commands), within the timeout; ``RespError`` or
        ``TimeoutError`` otherwise (the connection is then dropped)."""
        try:
            async with asyncio.timeout(self.timeout):  # no extra task, unlike wait_for
                return await self._call(payload, replies)
        except (OSError, EOFError) as exc:
            raise RespError(str(exc) or type(exc).__name__) from exc

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
