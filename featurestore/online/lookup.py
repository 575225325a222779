"""Online lookups: one pipelined Redis round trip per request, answers in Feast's format.

``OnlineLookup`` (blocking, for library use) and ``AsyncOnlineLookup`` (for the HTTP API)
share everything but the I/O: ``prepare`` validates the request and lists one ``HMGET``
per entity and group of feature views, and ``assemble`` decodes the replies into the
column-major document ``feast serve`` returns.

The I/O follows the Redis URL: one Redis (``RespClient``: the request's ``HMGET``s as one
pipeline), a sentinel's master (``SentinelRespClient``: the same, found through the
sentinels) or a Redis Cluster (``ClusterRespClient``: one pipeline per master, all at
once, MOVED / ASK followed; ``featurestore.online.cluster``). The blocking lookup uses
redis-py's client of the same kind (its cluster pipeline groups by node too).

Statuses, where this differs from Feast 0.67 on Redis (see the README):

- ``NOT_FOUND`` when the entity has no row for the feature view (Feast: PRESENT + null);
- ``OUTSIDE_MAX_AGE`` when the row is older than the feature view's TTL (Feast: PRESENT);
  the stored value is still returned, so callers choose whether to use a stale value;
- ``NULL_VALUE`` when the stored value is null (Feast: PRESENT + null);
- ``PRESENT`` otherwise. Entity columns are always PRESENT with time 1970-01-01T00:00:00Z.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.crc import key_slot

from featurestore.errors import OnlineStoreUnavailableError
from featurestore.online.cluster import ClusterRespClient
from featurestore.online.codec import EPOCH, decode_timestamp, decode_value
from featurestore.online.plan import MAX_FEATURES, Plan, make_plan, validate_entities
from featurestore.online.registry import RegistryCache
from featurestore.online.resp import Replies, RespClient, RespError, pack_command
from featurestore.online.sentinel import SentinelRespClient
from featurestore.project import Project
from featurestore.redis_client import OnlineClient, online_client
from featurestore.settings import RedisAddress, parse_redis_url
from featurestore.store import open_store

__all__ = [
    "AsyncOnlineLookup",
    "OnlineLookup",
    "Prepared",
    "assemble",
    "prepare",
    "resp_client",
    "slot_commands",
]

PRESENT, NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE = (
    "PRESENT",
    "NULL_VALUE",
    "NOT_FOUND",
    "OUTSIDE_MAX_AGE",
)
REDIS_ERRORS = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.RedisClusterException,  # no node answers, too many redirections
    redis.exceptions.ClusterError,  # CLUSTERDOWN, a slot without a master
    OSError,
)


@dataclass(frozen=True)
class Prepared:
    plan: Plan
    entities: dict[str, list[Any]]
    count: int
    commands: list[tuple[bytes, tuple[bytes, ...]]]  # (key, fields), group-major
    payload: bytes  # the same HMGETs as one RESP pipeline


def prepare(
    registry: RegistryCache,
    entities: Any,
    features: Sequence[str] | None,
    feature_service: str | None,
    full_feature_names: bool,
    max_entities: int | None = None,
    max_features: int | None = MAX_FEATURES,
) -> Prepared:
    plan = make_plan(registry.snapshot, features, feature_service, full_feature_names, max_features)
    columns, count = validate_entities(entities, plan.join_keys, max_entities)
    commands: list[tuple[bytes, tuple[bytes, ...]]] = []
    parts: list[bytes] = []
    for group in plan.groups:
        keys = group.encoder.keys([columns[key] for key in group.join_keys])
        commands.extend((key, group.fields) for key in keys)
        head, fields = group.hmget_head, group.hmget_fields
        for key in keys:
            parts += (head, b"$%d\r\n" % len(key), key, b"\r\n", fields)
    return Prepared(plan, columns, count, commands, b"".join(parts))


def slot_commands(prepared: Prepared) -> list[tuple[int, bytes]]:
    """The request's ``HMGET``s one by one, each with its key's cluster slot."""
    count = prepared.count
    groups = prepared.plan.groups
    out: list[tuple[int, bytes]] = []
    for index, (key, _) in enumerate(prepared.commands):
        group = groups[index // count]
        packed = b"%s$%d\r\n%s\r\n%s" % (group.hmget_head, len(key), key, group.hmget_fields)
        out.append((key_slot(key), packed))
    return out


def resp_client(address: RedisAddress, timeout: float) -> RespClient | ClusterRespClient:
    """The asyncio client the lookups use for ``address``: one Redis, a sentinel's
    master, or a cluster."""
    if address.is_cluster:
        return ClusterRespClient(address, timeout)
    if address.is_sentinel:
        return SentinelRespClient(address, timeout)
    return RespClient(address, timeout)


def assemble(
    prepared: Prepared, replies: Sequence[Sequence[bytes | None]], now: float
) -> dict[str, Any]:
    """The column-major answer: entity columns first, then features in request order."""
    count = prepared.count
    plan = prepared.plan
    results: list[dict[str, Any]] = [
        {"values": values, "statuses": [PRESENT] * count, "event_timestamps": [EPOCH] * count}
        for values in prepared.entities.values()
    ]
    groups: list[tuple[Sequence[Sequence[bytes | None]], list[tuple[list[str], list[str]]]]] = []
    for index, group in enumerate(plan.groups):
        rows = replies[index * count : (index + 1) * count]
        per_view: list[tuple[list[str], list[str]]] = []
        for view_index, view in enumerate(group.views):
            ttl = view.ttl_seconds
            position = group.ts_offset + view_index
            texts: list[str] = []
            states: list[str] = []
            for row in rows:
                raw = row[position]
                if raw is None:
                    texts.append(EPOCH)
                    states.append(NOT_FOUND)
                else:
                    seconds, text = decode_timestamp(raw)
                    texts.append(text)
                    states.append(
                        OUTSIDE_MAX_AGE if ttl is not None and now - seconds > ttl else PRESENT
                    )
            per_view.append((texts, states))
        groups.append((rows, per_view))
    for column in plan.columns:
        rows, per_view = groups[column.group]
        texts, states = per_view[column.view_index]
        field = column.field_index
        values: list[Any] = []
        statuses: list[str] = []
        for row, state in zip(rows, states, strict=True):
            raw = row[field]
            if raw is None:
                values.append(None)
                statuses.append(NOT_FOUND)
                continue
            value, is_null = decode_value(raw)
            values.append(value)
            statuses.append(NULL_VALUE if is_null and state == PRESENT else state)
        results.append({"values": values, "statuses": statuses, "event_timestamps": texts})
    names = [*prepared.entities, *(column.name for column in plan.columns)]
    return {"metadata": {"feature_names": names}, "results": results}


def _unavailable(cause: Exception) -> OnlineStoreUnavailableError:
    """The error a lookup reports for a failed or timed-out Redis call (``cause``)."""
    error = OnlineStoreUnavailableError(str(cause) or type(cause).__name__)
    error.__cause__ = cause
    return error


class OnlineLookup:
    """Blocking online lookups (library use, scripts, tests)."""

    def __init__(self, registry: RegistryCache, client: OnlineClient) -> None:
        self.registry = registry
        self.client = client

    @classmethod
    def open(cls, settings: Project, timeout: float = 2.0) -> OnlineLookup:
        registry = RegistryCache(open_store(settings, redis_timeout=timeout))
        return cls(registry, online_client(parse_redis_url(settings.redis_url), timeout))

    def get_online_features(
        self,
        entities: Mapping[str, Sequence[Any]],
        features: Sequence[str] | None = None,
        feature_service: str | None = None,
        full_feature_names: bool = False,
    ) -> dict[str, Any]:
        prepared = prepare(self.registry, entities, features, feature_service, full_feature_names)
        try:
            pipe = self.client.pipeline(transaction=False)  # a cluster's first use connects
            for key, fields in prepared.commands:
                pipe.execute_command("HMGET", key, *fields)
            replies = pipe.execute()
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc
        return assemble(prepared, replies, time.time())

    def close(self) -> None:
        self.client.close()


class AsyncOnlineLookup:
    """Non-blocking online lookups with a bounded Redis timeout (the HTTP API's)."""

    def __init__(
        self,
        registry: RegistryCache,
        client: RespClient | ClusterRespClient,
        max_entities: int | None = None,
        max_features: int | None = MAX_FEATURES,
    ) -> None:
        self.registry = registry
        self.client = client
        # One of the two is set: the single-node path is one attribute test away.
        self._single = client if isinstance(client, RespClient) else None
        self._cluster = client if isinstance(client, ClusterRespClient) else None
        self.max_entities = max_entities
        self.max_features = max_features

    @classmethod
    def open(
        cls,
        settings: Project,
        timeout: float = 1.0,
        max_entities: int | None = None,
        max_features: int | None = MAX_FEATURES,
    ) -> AsyncOnlineLookup:
        registry = RegistryCache(open_store(settings, redis_timeout=timeout))
        client = resp_client(parse_redis_url(settings.redis_url), timeout)
        return cls(registry, client, max_entities, max_features)

    def prepare(
        self,
        entities: Any,
        features: Sequence[str] | None = None,
        feature_service: str | None = None,
        full_feature_names: bool = False,
    ) -> Prepared:
        return prepare(
            self.registry,
            entities,
            features,
            feature_service,
            full_feature_names,
            self.max_entities,
            self.max_features,
        )

    def read_then(
        self, prepared: Prepared, done: Callable[[dict[str, Any] | Exception], None]
    ) -> None:
        """Start the round trip; ``done`` gets the document, or the error
        (``OnlineStoreUnavailableError`` when Redis fails), from the event loop."""

        def replied(replies: Replies) -> None:
            if isinstance(replies, Exception):
                done(_unavailable(replies))
                return
            try:
                document = assemble(prepared, replies, time.time())
            except Exception as exc:
                done(exc)
                return
            done(document)

        single = self._single
        if single is not None:
            single.send(prepared.payload, len(prepared.commands), replied)
        else:
            assert self._cluster is not None
            self._cluster.send_commands(slot_commands(prepared), replied)

    async def read(self, prepared: Prepared) -> dict[str, Any]:
        try:
            single = self._single
            if single is not None:
                replies = await single.call(prepared.payload, len(prepared.commands))
            else:
                replies = await self._cluster_call(slot_commands(prepared))
        except (RespError, TimeoutError) as exc:
            raise _unavailable(exc) from exc
        return assemble(prepared, replies, time.time())

    async def _cluster_call(self, commands: list[tuple[int, bytes]]) -> list[Any]:
        assert self._cluster is not None
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

        def done(result: Replies) -> None:
            if future.done():
                return
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

        self._cluster.send_commands(commands, done)
        return await future

    async def get_online_features(
        self,
        entities: Any,
        features: Sequence[str] | None = None,
        feature_service: str | None = None,
        full_feature_names: bool = False,
    ) -> dict[str, Any]:
        return await self.read(
            self.prepare(entities, features, feature_service, full_feature_names)
        )

    async def ping(self) -> None:
        try:
            if self._single is not None:
                await self._single.call(pack_command(b"PING"), 1)
            else:
                assert self._cluster is not None
                await self._cluster.ping()
        except (RespError, TimeoutError) as exc:
            raise _unavailable(exc) from exc

    async def close(self) -> None:
        await self.client.close()
