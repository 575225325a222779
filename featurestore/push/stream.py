"""Consuming a Redis Stream into a push source: the same checks and writer as ``/push``.

Each stream entry is one row: its fields are column names, its values the column's
value as text (a string column's text as it is; any other column's as JSON: ``5``,
``2.5``, ``true``, ``null``; a timestamp as ISO 8601). The consumer reads with a
consumer group, so several consumers share a stream and each entry is handled once
per group:

- ``XREADGROUP ... >`` reads up to ``batch`` new entries (blocking up to ``block_ms``);
- entries that are not a row (a field the source does not have, a value that is not
  JSON) or whose row breaks a rule are added to the dead-letter stream ``<stream>:dead``
  with the reason, the rule and the entry's own fields;
- the good rows are pushed (``PushService.push``, ``to`` as configured); only after the
  write succeeded are the batch's entries acknowledged (``XACK``): at least once. A
  write that fails (Redis away, a full disk) leaves them pending, and they are read
  again (``XREADGROUP ... 0``) before any new entry;
- entries pending for longer than ``claim_idle_ms`` at a consumer that is gone (a
  killed process, a renamed consumer) are taken over with ``XAUTOCLAIM``, so a restart
  under any name loses nothing. A row seen twice is harmless: Redis does not rewrite an
  equal event time, and compaction keeps one row per entity and event time.

The group's lag (entries not yet delivered plus those delivered but not acknowledged)
is kept in ``PushService.stream_lag``, a Prometheus gauge on the API's ``/metrics``.

On a Redis Cluster a stream is one key, so it lives on one master, and every command the
consumer sends names that one key (its dead letters, ``<stream>:dead``, are another key,
maybe on another master): redis-py's cluster client routes each, MOVED included.

Kafka (Feast's ``KafkaSource``) would plug in at the same two points: a reader that
yields batches of rows with their offsets, and a commit of the offsets after
``PushService.push`` returns (README "Real-time features").
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from featurestore.errors import FeatureStoreError, OnlineStoreUnavailableError
from featurestore.push.service import PushService
from featurestore.push.validate import check_rows
from featurestore.redis_client import OnlineClient
from featurestore.value_types import ValueType

logger = logging.getLogger(__name__)

DEAD_SUFFIX = ":dead"


@dataclass
class StreamStats:
    read: int = 0
    pushed: int = 0
    dead: int = 0
    batches: int = 0
    errors: int = 0
    last_error: str = ""


@dataclass
class StreamConsumer:
    """Consumes ``stream`` into the push source ``source`` with group ``group``."""

    service: PushService
    client: OnlineClient
    stream: str
    source: str
    group: str = "featurestore"
    consumer: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    to: str = "online_and_offline"
    batch: int = 1000
    block_ms: int = 1000
    claim_idle_ms: int = 30_000
    start_id: str = "0"  # where a new group starts: "0" the whole stream, "$" new entries
    stats: StreamStats = field(default_factory=StreamStats)
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def dead_letters(self) -> str:
        return f"{self.stream}{DEAD_SUFFIX}"

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Consume until ``stop``; a failing write is retried with a back-off."""
        self.ensure_group()
        backoff = 0.1
        last_claim = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_claim > self.claim_idle_ms / 3000:
                    last_claim = time.monotonic()
                    self.claim_abandoned()
                handled = self.poll()
                backoff = 0.1
                if not handled:
                    self.update_lag()
            except (FeatureStoreError, redis.RedisError, OSError) as exc:
                self.stats.errors += 1
                self.stats.last_error = str(exc)
                logger.warning("stream %s: %s; retrying in %.1f s", self.stream, exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def poll(self, new: bool = True) -> int:
        """Handle this consumer's pending entries, else up to ``batch`` new ones; how many."""
        entries = self._read("0")  # pending here: a failed write, a restart under this name
        if not entries and new:
            entries = self._read(">", block=True)
        if entries:
            self.handle(entries)
        return len(entries)

    def _read(self, start: str, block: bool = False) -> list[tuple[bytes, dict[bytes, bytes]]]:
        answer: Any = self.client.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: start},
            count=self.batch,
            block=self.block_ms if block else None,
        )
        if not answer:
            return []
        _, entries = answer[0]
        return [(entry_id, fields) for entry_id, fields in entries if fields is not None]

    def claim_abandoned(self) -> int:
        """Take over entries pending too long at other consumers; handle them."""
        claimed = 0
        cursor = "0-0"
        while True:
            answer: Any = self.client.xautoclaim(
                self.stream, self.group, self.consumer, self.claim_idle_ms, cursor, count=self.batch
            )
            cursor, entries = answer[0], answer[1]
            entries = [(i, f) for i, f in entries if f is not None]
            if entries:
                self.handle(entries)
                claimed += len(entries)
            if cursor in (b"0-0", "0-0") or not entries:
                return claimed

    def handle(self, entries: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Push the rows of ``entries``, dead-letter the rest, then acknowledge them all."""
        plan = self.service.plan("push source", self.source)
        types = {c.name: c.value_type for c in plan.schema.columns}
        rows: list[dict[str, Any]] = []
        ids: list[bytes] = []
        dead: list[tuple[bytes, dict[bytes, bytes], str]] = []
        for entry_id, fields in entries:
            try:
                rows.append(_row(fields, types))
                ids.append(entry_id)
            except ValueError as exc:
                dead.append((entry_id, fields, str(exc)))
        good_rows = rows
        by_id = dict(entries)
        if rows:
            columns = {name: [row.get(name) for row in rows] for name in types}
            checked = check_rows(plan.schema, columns)
            if checked.bad_rows:
                by_row = {p.row: p for p in checked.problems}
                good_rows = []
                for index, row in enumerate(rows):
                    problem = by_row.get(index)
                    if problem is None:
                        good_rows.append(row)
                    else:
                        entry_id = ids[index]
                        dead.append((entry_id, by_id[entry_id], f"breaks {problem.rule!r}"))
        if good_rows:
            columns = {name: [row.get(name) for row in good_rows] for name in types}
            try:
                self.service.push(self.source, columns, to=self.to, on_bad_rows="reject")
            except OnlineStoreUnavailableError:
                raise  # not acknowledged: read again once Redis is back
        if dead:
            pipe = self.client.pipeline(transaction=False)
            for entry_id, fields, reason in dead:
                letter = {b"_id": entry_id, b"_reason": reason.encode(), **fields}
                pipe.xadd(self.dead_letters, letter)  # type: ignore[arg-type]
            pipe.execute()
        self.client.xack(self.stream, self.group, *[e[0] for e in entries])
        self.stats.read += len(entries)
        self.stats.pushed += len(good_rows)
        self.stats.dead += len(dead)
        self.stats.batches += 1
        self.update_lag()

    def update_lag(self) -> int:
        lag = 0
        groups: Any = self.client.xinfo_groups(self.stream)
        for info in groups:
            name = info.get("name")
            name = name.decode() if isinstance(name, bytes) else name
            if name == self.group:
                lag = int(info.get("lag") or 0) + int(info.get("pending") or 0)
        self.service.stream_lag[(self.stream, self.group)] = lag
        return lag


def _row(fields: dict[bytes, bytes], types: dict[str, ValueType]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for raw_name, raw_value in fields.items():
        try:
            name = raw_name.decode()
            text = raw_value.decode()
        except UnicodeDecodeError:
            raise ValueError("a field or value is not UTF-8") from None
        if name not in types:
            raise ValueError(f"unknown column {name!r}; the source has {', '.join(types)}")
        if types[name] in (ValueType.STRING, ValueType.UNIX_TIMESTAMP):
            row[name] = None if text == "" else text
            continue
        try:
            row[name] = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"column {name!r}: {text[:40]!r} is not a JSON value") from None
    missing = [name for name in types if name not in row]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}")
    return row


def parse_streams(text: str) -> list[tuple[str, str]]:
    """``FEATURESTORE_PUSH_STREAMS``: ``stream=push_source,...``."""
    pairs = []
    for item in text.split(","):
        if not item.strip():
            continue
        stream, sep, source = item.partition("=")
        if not sep or not stream.strip() or not source.strip():
            raise ValueError(
                f"FEATURESTORE_PUSH_STREAMS: expected stream=push_source, got {item!r}"
            )
        pairs.append((stream.strip(), source.strip()))
    return pairs
