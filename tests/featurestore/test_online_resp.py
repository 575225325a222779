"""``featurestore.online.resp``: the multiplexed Redis client, against a real redis-server."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from featurestore.online.resp import Replies, RespClient, RespError, pack_command
from featurestore.redis_server import LocalRedis, free_port
from featurestore.settings import parse_redis_url

pytestmark = [pytest.mark.redis]


def _client(url: str, timeout: float = 1.0) -> RespClient:
    return RespClient(parse_redis_url(url), timeout)


def test_concurrent_pipelines_share_a_connection_and_get_their_own_replies(
    clean_redis_url: str,
) -> None:
    async def main() -> list[list[Any]]:
        client = _client(clean_redis_url)
        await client.call(pack_command(b"SET", b"k", b"v"), 1)
        calls = [
            client.call(pack_command(b"ECHO", b"%d" % i) + pack_command(b"GET", b"k"), 2)
            for i in range(50)
        ]
        try:
            return await asyncio.gather(*calls)
        finally:
            await client.close()

    answers = asyncio.run(main())
    assert answers == [[b"%d" % i, b"v"] for i in range(50)]


def test_an_error_reply_fails_only_its_request(clean_redis_url: str) -> None:
    async def main() -> tuple[Replies, Replies]:
        client = _client(clean_redis_url)
        results: list[Replies] = []
        client.send(pack_command(b"NOPE") + pack_command(b"PING"), 2, results.append)
        pong = await client.call(pack_command(b"PING"), 1)
        await client.close()
        return results[0], pong

    failed, pong = asyncio.run(main())
    assert isinstance(failed, RespError) and "NOPE" in str(failed).upper()
    assert pong == [b"PONG"]


def test_a_failing_callback_breaks_nobody_else(clean_redis_url: str) -> None:
    def broken(_: Replies) -> None:
        raise ValueError("a caller's bug")

    async def main() -> list[Any]:
        client = _client(clean_redis_url)
        client.send(pack_command(b"PING"), 1, broken)
        try:
            return await client.call(pack_command(b"PING"), 1)
        finally:
            await client.close()

    assert asyncio.run(main()) == [b"PONG"]


def test_refused_then_recovers_when_redis_comes_back(tmp_path: Path) -> None:
    server = LocalRedis(workdir=tmp_path / "redis", port=free_port())

    async def main() -> None:
        client = _client(server.url)
        with pytest.raises(RespError):
            await client.call(pack_command(b"PING"), 1)
        server.start(daemonize=False, persist=False)
        assert await client.call(pack_command(b"PING"), 1) == [b"PONG"]
        server.stop()
        with pytest.raises(RespError):
            await client.call(pack_command(b"PING"), 1)
        server.start(daemonize=False, persist=False)
        assert await client.call(pack_command(b"PING"), 1) == [b"PONG"]
        await client.close()

    try:
        asyncio.run(main())
    finally:
        server.stop()


def test_silence_times_out_every_waiting_request() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()

    async def main() -> tuple[list[BaseException | list[Any]], float]:
        client = _client(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", timeout=0.2)
        start = time.monotonic()
        calls = [client.call(pack_command(b"PING"), 1) for _ in range(3)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        await client.close()
        return results, time.monotonic() - start

    try:
        results, elapsed = asyncio.run(main())
    finally:
        silent.close()
    assert all(isinstance(r, TimeoutError) for r in results)
    assert 0.2 <= elapsed < 0.6  # within 1.25x the timeout, plus scheduling


def test_a_new_event_loop_gets_a_new_connection(clean_redis_url: str) -> None:
    client = _client(clean_redis_url)
    for _ in range(2):
        assert asyncio.run(client.call(pack_command(b"PING"), 1)) == [b"PONG"]
    asyncio.run(client.close())
