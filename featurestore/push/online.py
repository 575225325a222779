"""Checked rows into Redis, by the materializer's encoder and writer.

The bytes are the materializer's (``featurestore.materialize``: Feast's layout), and so
is the rule: a row is written only when its event time is newer than the one Redis holds
for its entity; an equal time is not written again. Within one batch, the first row
with an entity's newest event time is the one kept, as Feast's own push keeps it.

A write holds its view's lock for its two round trips (read the stored event times,
then write the newer rows), so two writes of this process to the same entity cannot
interleave between the read and the write. (Writers in other processes can, as with
Feast: both check, then both write; the later event time can lose only to a write that
raced it within one round trip.)

On a Redis Cluster the writer sends each master its rows as one pipeline, all masters at
once (``featurestore.materialize.cluster_writer``); the bytes are the same.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.materialize.keys import encode_keys
from featurestore.materialize.timestamps import epoch_micros, timestamp_bytes
from featurestore.materialize.values import encode_values
from featurestore.materialize.writer import RedisWriter
from featurestore.push.plan import ViewTarget
from featurestore.redis_client import OnlineClient
from featurestore.redis_layout import KeyEncoder


@dataclass
class OnlineOutcome:
    written: int = 0
    skipped: int = 0  # older than (or as old as) what Redis holds, or a batch duplicate


class OnlineWriter:
    """Writes checked rows of feature views to one Redis, a sentinel's master or a
    cluster (thread-safe)."""

    def __init__(self, client: OnlineClient, project: str, key_ttl_seconds: int | None) -> None:
        self.client = client
        self.project = project
        self.key_ttl_seconds = key_ttl_seconds
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, view: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(view, threading.Lock())

    def write(self, target: ViewTarget, rows: pa.Table) -> OnlineOutcome:
        if rows.num_rows == 0:
            return OnlineOutcome()
        encoder = KeyEncoder(
            self.project, [k for k, _ in target.join_keys], [t for _, t in target.join_keys]
        )
        keys = encode_keys(encoder, [rows.column(k).combine_chunks() for k, _ in target.join_keys])
        micros = epoch_micros(rows.column(target.timestamp))
        keep = _newest_per_key(keys, micros)
        duplicates = 0
        if keep is not None:
            duplicates = len(keys) - len(keep)
            indices = pa.array(keep, pa.int64())
            rows, keys, micros = rows.take(indices), keys.take(indices), micros[keep]
        values = [
            encode_values(rows.column(name), value_type) for name, value_type, _ in target.features
        ]
        fields = [field for _, _, field in target.features]
        writer = RedisWriter(
            self.client, target.ts_field, fields, self.key_ttl_seconds, background_send=False
        )
        with self._lock(target.view), writer:
            outcome = writer.write(keys, values, timestamp_bytes(micros), micros * 1_000)
        return OnlineOutcome(outcome.written, outcome.skipped + duplicates)


def _newest_per_key(keys: pa.Array, micros: np.ndarray) -> np.ndarray | None:
    """Row numbers to keep when an entity appears twice (its first row with the newest
    event time), in row order; None when every entity appears once."""
    if len(pc.unique(keys)) == len(keys):
        return None
    best: dict[bytes, int] = {}
    times = micros.tolist()
    for row, key in enumerate(keys.to_pylist()):
        kept = best.get(key)
        if kept is None or times[row] > times[kept]:
            best[key] = row
    return np.array(sorted(best.values()), dtype=np.int64)
