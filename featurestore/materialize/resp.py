"""Redis commands for a whole batch, as one buffer of RESP, built by Arrow kernels.

A command is laid out as in ``featurestore.resp_wire``. Arguments that are the same in
every row (the command name, hash field names) are packed once; the per-row arguments
(key, values) are Arrow binary arrays, turned into their ``$len`` fragments and joined
row-wise by ``binary_join_element_wise``. The joined array's data buffer is then the
batch's commands, back to back, ready for one ``sendall``; a row of the array is one
entity's command, so a cluster's writer can pick each master's rows (``take``) first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.resp_wire import bulk, header

Part: TypeAlias = pa.Array | bytes


def bulk_column(arguments: pa.Array) -> pa.Array:
    """Each row's argument, packed: ``$<len>\\r\\n<bytes>\\r\\n``."""
    lengths = pc.cast(pc.binary_length(arguments), pa.string()).cast(pa.binary())
    return pc.binary_join_element_wise(b"$", lengths, b"\r\n", arguments, b"\r\n", b"")


def join_rows(parts: Sequence[Part]) -> pa.Array:
    """Row-wise concatenation of packed columns and constants."""
    merged: list[Part] = []
    for part in parts:  # fuse neighbouring constants: fewer kernel arguments
        if isinstance(part, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] = merged[-1] + part
        else:
            merged.append(part)
    if not any(isinstance(p, pa.Array) for p in merged):
        raise ValueError("at least one per-row argument is needed")
    return pc.binary_join_element_wise(*merged, b"")


def buffer_of(rows: pa.Array) -> memoryview:
    """The commands of every row, back to back, without copying."""
    if len(rows) == 0:
        return memoryview(b"")
    count = rows.offset + len(rows) + 1
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=count)
    first, last = int(offsets[rows.offset]), int(offsets[count - 1])
    return memoryview(rows.buffers()[2])[first:last]


def ts_commands(keys: pa.Array, ts_field: bytes) -> pa.Array:
    """Each row's ``HMGET key _ts:view``: the event time stored for the entity."""
    return join_rows([header(3) + bulk(b"HMGET"), bulk_column(keys), bulk(ts_field)])


def write_commands(
    keys: pa.Array,
    values: Sequence[pa.Array],
    ts_bytes: pa.Array,
    fields: Sequence[bytes],
    ts_field: bytes,
    ttl: int | None,
) -> pa.Array:
    """Each row's write: ``HSET key field value ... _ts:view ts``, and with a key TTL
    ``MULTI; HSET; EXPIRE; EXEC``, so a key is never left without its TTL."""
    packed_key = bulk_column(keys)
    argc = 2 + 2 * (len(fields) + 1)
    parts: list[Part] = [header(argc) + bulk(b"HSET"), packed_key]
    for field, column in zip(fields, values, strict=True):
        parts += [bulk(field), bulk_column(column)]
    parts += [bulk(ts_field), bulk_column(ts_bytes)]
    if ttl:
        seconds = str(ttl).encode()
        parts = [header(1) + bulk(b"MULTI"), *parts]
        parts += [header(3) + bulk(b"EXPIRE"), packed_key, bulk(seconds)]
        parts += [header(1) + bulk(b"EXEC")]
    return join_rows(parts)
