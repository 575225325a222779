"""Lookups through Redis Sentinel: the master the sentinels name, asked again at each
connection.

``SentinelRespClient`` is a ``RespClient`` (one multiplexed connection, its timeout,
AUTH, TLS and database: ``featurestore.online.resp``) whose address is not fixed: before
each connection it asks every sentinel ``SENTINEL GET-MASTER-ADDR-BY-NAME <master>`` at
once and takes the first answer (a sentinel that is down or frozen costs nothing while
another answers). A failover ends the connection to the old master (a
killed master drops it; a demoted one has its clients killed by the sentinels), the
requests waiting on it fail (503 on the API), and the next request connects to the
master the sentinels name then. The sentinels are asked without the URL's password or
TLS, which are the master's, as redis-py's and Feast's Sentinel clients do.
"""

from __future__ import annotations

import asyncio

from featurestore.online.resp import RespClient, RespError, pack_command
from featurestore.settings import RedisAddress

__all__ = ["SentinelResolver", "SentinelRespClient"]


class SentinelResolver:
    """Asks the sentinels of ``address`` where its master is."""

    def __init__(self, address: RedisAddress, timeout: float) -> None:
        assert address.master_name is not None
        self.master_name = address.master_name
        self.sentinels = [
            (f"{host}:{port}", RespClient(RedisAddress(host, port, 0, None, False), timeout))
            for host, port in address.nodes
        ]
        self._command = pack_command(
            b"SENTINEL", b"get-master-addr-by-name", self.master_name.encode()
        )

    async def __call__(self) -> tuple[str, int]:
        """(host, port) of the master, from the first sentinel that names it."""
        tasks = {
            asyncio.ensure_future(sentinel.call(self._command, 1)): name
            for name, sentinel in self.sentinels
        }
        problems: list[str] = []
        try:
            pending = set(tasks)
            while pending:
                finished, pending = await asyncio.wait(pending, return_when="FIRST_COMPLETED")
                for task in finished:
                    name = tasks[task]
                    exc = task.exception()
                    if exc is not None:
                        problems.append(f"{name}: {exc or type(exc).__name__}")
                        continue
                    answer = task.result()[0]
                    if not answer:
                        problems.append(f"{name} knows no master {self.master_name!r}")
                        continue
                    return answer[0].decode(), int(answer[1])
        finally:
            for task in tasks:
                task.cancel()
        raise RespError(
            f"no sentinel named the master {self.master_name!r} ({'; '.join(sorted(problems))})"
        )

    async def close(self) -> None:
        for _, sentinel in self.sentinels:
            await sentinel.close()


class SentinelRespClient(RespClient):
    """A ``RespClient`` of the master the sentinels of ``address`` name."""

    def __init__(self, address: RedisAddress, timeout: float) -> None:
        self.resolver = SentinelResolver(address, timeout)
        super().__init__(address, timeout, resolve=self.resolver)

    async def close(self) -> None:
        await super().close()
        await self.resolver.close()
