"""Lookups on a Redis Cluster: one pipeline per master, all masters at once, redirections
followed, the slot map re-read when the cluster changes.

A key lives in one of 16,384 slots (CRC16 of the key, or of its ``{hash tag}``:
``redis.crc.key_slot``), and each slot in one master. ``ClusterRespClient`` keeps the
slot map (``CLUSTER SLOTS``) and one ``RespClient`` per master (one multiplexed
connection each, its timeout, AUTH and TLS: ``featurestore.online.resp``). A request's
commands are split by master and sent to every master at once; the callback gets the
replies in the request's order when the last master has answered.

What a master answers instead of a reply:

- ``MOVED slot host:port`` (the slot has a new master: a finished migration, a promoted
  replica): that slot's entry is corrected at once, the command sent again there, and
  the whole map re-read in the background;
- ``ASK slot host:port`` (the slot is being migrated and this key has left already): the
  command is sent again to that node behind ``ASKING``, and the map is left as it is;
- any other error (``CLUSTERDOWN``, ``TRYAGAIN``, ``WRONGTYPE``...) fails the request,
  as an error reply fails it on one Redis (503 on the API).

A master that cannot be reached (refused, closed, timed out) fails the requests that need
it with its error (503), and the map is re-read from every node that answers: once a
replica has been promoted the map names it, and the next request goes there. A request
whose master refused or dropped its connection waits for that re-read and is sent again
when its slots have a new master, so a failover is not seen at all by requests that
arrive after the promotion. A request never waits longer than about ``timeout`` per
round trip, and follows at most ``MAX_REDIRECTS`` redirections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import hiredis

from featurestore.online.resp import Replies, RespClient, RespError, pack_command
from featurestore.settings import RedisAddress

__all__ = ["MAX_REDIRECTS", "SLOTS", "ClusterRespClient"]

logger = logging.getLogger(__name__)

SLOTS = 16384
MAX_REDIRECTS = 5
REFRESH_INTERVAL = 0.05  # seconds between two reads of the slot map, at the most often
Node = tuple[str, int]
_ASKING = pack_command(b"ASKING")
_CLUSTER_SLOTS = pack_command(b"CLUSTER", b"SLOTS")
_PING = pack_command(b"PING")


def _redirect(text: str, fallback_host: str) -> tuple[int, Node]:
    """(slot, node) of ``MOVED 3999 127.0.0.1:6381`` or ``ASK ...``; an empty host (a
    node that does not know its own address) is the host that answered."""
    _, slot, where = text.split(" ", 2)
    host, _, port = where.strip().rpartition(":")
    return int(slot), (host or fallback_host, int(port))


class ClusterRespClient:
    """Pipelines to a Redis Cluster, one per master and request, within ``timeout``."""

    def __init__(self, address: RedisAddress, timeout: float) -> None:
        self.address = address
        self.timeout = timeout
        self.owners: list[Node | None] | None = None  # slot -> master, once read
        self.refreshes = 0  # slot map reads that succeeded
        self.redirects = 0  # MOVED and ASK replies followed
        self._clients: dict[Node, RespClient] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_refresh = float("-inf")
        self._after_refresh: list[Callable[[Exception | None], None]] = []

    # -- the data path -------------------------------------------------------------

    def send_commands(
        self, commands: Sequence[tuple[int, bytes]], callback: Callable[[Replies], None]
    ) -> None:
        """Run ``commands`` (slot, one command's RESP bytes) on their masters; ``callback``
        gets the replies in order, or the error (``RespError`` / ``TimeoutError``), from
        the event loop, exactly once."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None:  # a new event loop: nothing of the old one is usable
                self._drop(RespError("the event loop changed"))
            self._loop = loop
        if not commands:
            callback([])
            return
        batch = _Batch(self, commands, callback, loop.time() + self.timeout)
        if self.owners is None:
            self.refresh_then(batch.start_or_fail)
        else:
            batch.route(range(len(commands)), {})

    def client(self, node: Node) -> RespClient:
        """The connection to one node (made on first use)."""
        client = self._clients.get(node)
        if client is None:
            client = self._clients[node] = RespClient(self.address.node(*node), self.timeout)
        return client

    def moved(self, slot: int, node: Node) -> None:
        """A MOVED reply: the slot's new master, now; the rest of the map soon."""
        if self.owners is not None:
            self.owners[slot] = node
        self.refresh_soon()

    # -- the slot map ----------------------------------------------------------------

    def refresh_soon(self) -> None:
        """Re-read the slot map in the background (at most every ``REFRESH_INTERVAL``)."""
        self.refresh_then(None)

    def refresh_then(self, done: Callable[[Exception | None], None] | None) -> None:
        """Re-read the slot map; ``done`` gets None, or the error, when it is read."""
        if done is not None:
            self._after_refresh.append(done)
        if self._refreshing is not None or self._timer is not None:
            return
        assert self._loop is not None
        wait = self._last_refresh + REFRESH_INTERVAL - self._loop.time()
        if wait > 0:
            self._timer = self._loop.call_later(wait, self._start_refresh)
        else:
            self._start_refresh()

    def _start_refresh(self) -> None:
        self._timer = None
        assert self._loop is not None
        self._refreshing = self._loop.create_task(self._refresh())

    async def _refresh(self) -> None:
        error: Exception | None = None
        try:
            self._install(await self._read_slots())
            self.refreshes += 1
        except Exception as exc:
            error = exc
        finally:
            assert self._loop is not None
            self._last_refresh = self._loop.time()
            self._refreshing = None
        waiting, self._after_refresh = self._after_refresh, []
        for done in waiting:
            try:
                done(error)
            except Exception:  # one request's bug must not keep the others waiting
                logger.exception("error in a cluster request")

    def _candidates(self) -> list[Node]:
        """Every node that may answer ``CLUSTER SLOTS``: the masters known, then the URL's."""
        known = {node for node in (self.owners or ()) if node is not None}
        return list(dict.fromkeys([*sorted(known), *self.address.nodes]))

    async def _read_slots(self) -> list[Any]:
        """``CLUSTER SLOTS`` from the first node that answers (all are asked at once)."""
        candidates = self._candidates()
        tasks = {
            asyncio.ensure_future(self.client(node).call(_CLUSTER_SLOTS, 1)): node
            for node in candidates
        }
        errors: list[str] = []
        try:
            pending = set(tasks)
            while pending:
                finished, pending = await asyncio.wait(pending, return_when="FIRST_COMPLETED")
                for task in finished:
                    node = tasks[task]
                    exc = task.exception()
                    if exc is None:
                        ranges = [(node, item) for item in task.result()[0]]
                        if ranges:
                            return ranges
                        errors.append(f"{node[0]}:{node[1]}: no slots assigned")
                    else:
                        errors.append(f"{node[0]}:{node[1]}: {exc or type(exc).__name__}")
        finally:
            for task in tasks:
                task.cancel()
        if any("cluster support disabled" in error for error in errors):
            raise RespError(
                "the Redis URL names a Redis Cluster, but the server is not one "
                f"({'; '.join(errors)})"
            )
        raise RespError(f"no node of the Redis Cluster answered ({'; '.join(errors)})")

    def _install(self, ranges: list[Any]) -> None:
        owners: list[Node | None] = [None] * SLOTS
        for asked, (start, end, master, *_) in ranges:
            host = master[0].decode() if isinstance(master[0], bytes) else str(master[0])
            node = (host or asked[0], int(master[1]))
            owners[int(start) : int(end) + 1] = [node] * (int(end) - int(start) + 1)
        self.owners = owners
        keep = set(owners)
        for node in [node for node in self._clients if node not in keep]:
            client = self._clients.pop(node)  # a node that left, or is no master any more
            client.abort(RespError(f"{node[0]}:{node[1]} serves no slot now"))

    # -- health and shutdown ----------------------------------------------------------

    async def ping(self) -> None:
        """PING every master (reading the slot map first when it is not known); raises
        ``RespError`` / ``TimeoutError`` naming the first master that does not answer."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None:
                self._drop(RespError("the event loop changed"))
            self._loop = loop
        if self.owners is None:
            future: asyncio.Future[Exception | None] = loop.create_future()

            def refreshed(error: Exception | None) -> None:
                if not future.done():
                    future.set_result(error)

            self.refresh_then(refreshed)
            error = await future
            if error is not None:
                raise error
        assert self.owners is not None
        masters = sorted({node for node in self.owners if node is not None})
        uncovered = self.owners.count(None)
        if uncovered:
            raise RespError(f"{uncovered} of the cluster's {SLOTS} slots have no master")
        results = await asyncio.gather(
            *(self.client(node).call(_PING, 1) for node in masters), return_exceptions=True
        )
        for node, result in zip(masters, results, strict=True):
            if isinstance(result, BaseException):
                self.refresh_soon()
                error_type = TimeoutError if isinstance(result, TimeoutError) else RespError
                raise error_type(f"master {node[0]}:{node[1]}: {result}") from result

    def _drop(self, error: Exception) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._refreshing is not None:
            self._refreshing.cancel()
            self._refreshing = None
        waiting, self._after_refresh = self._after_refresh, []
        for done in waiting:
            with contextlib.suppress(Exception):
                done(error)
        for client in self._clients.values():
            client.abort(error)
        self._clients.clear()

    async def close(self) -> None:
        clients = list(self._clients.values())
        self._drop(RespError("client closed"))
        for client in clients:
            await client.close()


class _Batch:
    """One request's commands, across the masters, until every reply is in."""

    __slots__ = (
        "callback",
        "cluster",
        "commands",
        "deadline",
        "error",
        "lost",
        "nodes_left",
        "redirected",
        "replies",
        "rounds",
    )

    def __init__(
        self,
        cluster: ClusterRespClient,
        commands: Sequence[tuple[int, bytes]],
        callback: Callable[[Replies], None],
        deadline: float,
    ) -> None:
        self.cluster = cluster
        self.commands = commands
        self.callback = callback
        self.deadline = deadline
        self.replies: list[Any] = [None] * len(commands)
        self.error: Exception | None = None
        self.nodes_left = 0
        self.redirected: dict[int, tuple[Node, bool]] = {}  # command -> (node, asking)
        self.lost: list[tuple[int, Node, Exception]] = []  # commands whose master dropped
        self.rounds = 0

    def start_or_fail(self, error: Exception | None) -> None:
        """After the first read of the slot map: send, or fail with its error."""
        if error is not None:
            self._finish(error)
        else:
            self.route(range(len(self.commands)), {})

    def route(self, indices: Sequence[int] | range, targets: dict[int, tuple[Node, bool]]) -> None:
        """Send the commands ``indices``, each to its redirection target or its slot's
        master, one pipeline per node."""
        owners = self.cluster.owners
        assert owners is not None
        by_node: dict[tuple[Node, bool], list[int]] = {}
        for index in indices:
            target = targets.get(index)
            if target is None:
                node = owners[self.commands[index][0]]
                if node is None:
                    slot = self.commands[index][0]
                    self._finish(RespError(f"slot {slot} has no master in the cluster"))
                    return
                target = (node, False)
            by_node.setdefault(target, []).append(index)
        self.nodes_left = len(by_node)
        commands = self.commands
        for (node, asking), chosen in by_node.items():
            if asking:
                payload = b"".join(_ASKING + commands[i][1] for i in chosen)
                count = 2 * len(chosen)
            else:
                payload = b"".join(commands[i][1] for i in chosen)
                count = len(chosen)

            def answered(
                result: Replies,
                node: Node = node,
                chosen: list[int] = chosen,
                step: int = 2 if asking else 1,
            ) -> None:
                self._answered(node, chosen, step, result)

            self.cluster.client(node).send(payload, count, answered, keep_errors=True)

    def _answered(self, node: Node, chosen: list[int], step: int, result: Replies) -> None:
        cluster = self.cluster
        if isinstance(result, Exception):
            cluster.refresh_soon()
            if isinstance(result, TimeoutError):
                self.error = self.error or result
            else:  # refused or dropped: maybe a failover; retried once the map is re-read
                self.lost += [(index, node, result) for index in chosen]
        else:
            replies = self.replies
            for position, index in enumerate(chosen):
                reply = result[position * step + step - 1]
                if not isinstance(reply, hiredis.ReplyError):
                    replies[index] = reply
                    continue
                text = str(reply)
                if text.startswith(("MOVED ", "ASK ")):
                    slot, target = _redirect(text, node[0])
                    cluster.redirects += 1
                    asking = text.startswith("ASK ")
                    if not asking:
                        cluster.moved(slot, target)
                    self.redirected[index] = (target, asking)
                else:
                    if text.startswith(("CLUSTERDOWN", "TRYAGAIN")):
                        cluster.refresh_soon()
                    self.error = self.error or RespError(f"{node[0]}:{node[1]}: {text}")
        self.nodes_left -= 1
        if self.nodes_left == 0:
            self._next_round()

    def _next_round(self) -> None:
        if self.error is not None:
            self._finish(self.error)
            return
        if not self.redirected and not self.lost:
            self._finish(self.replies)
            return
        assert self.cluster._loop is not None
        if self.rounds >= MAX_REDIRECTS:
            self._finish(RespError(f"more than {MAX_REDIRECTS} redirections in the cluster"))
            return
        if self.cluster._loop.time() >= self.deadline:
            self._finish(TimeoutError(f"Redis did not answer within {self.cluster.timeout:g} s"))
            return
        self.rounds += 1
        if self.lost:
            self.cluster.refresh_then(self._after_refresh)
            return
        targets, self.redirected = self.redirected, {}
        self.route(sorted(targets), targets)

    def _after_refresh(self, error: Exception | None) -> None:
        """The map is read again after a master was lost: send its commands to the new
        masters, or fail with the lost master's error when they have none."""
        lost, self.lost = self.lost, []
        owners = self.cluster.owners
        for index, node, cause in lost:
            if (
                error is not None
                or owners is None
                or owners[self.commands[index][0]] in (node, None)
            ):
                self._finish(cause)
                return
        targets, self.redirected = self.redirected, {}
        indices = sorted({*targets, *(index for index, _, _ in lost)})
        self.route(indices, targets)

    def _finish(self, result: Replies) -> None:
        callback, self.callback = self.callback, _done
        try:
            callback(result)
        except Exception:  # a caller's bug must not break the cluster client
            logger.exception("error in a Redis reply callback")


def _done(result: Replies) -> None:
    """A finished request's callback: later answers are dropped."""
