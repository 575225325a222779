"""Protobuf wire bytes for whole Arrow columns at once, without a message per value.

A protobuf scalar field is a tag byte followed by a varint, 4 or 8 little-endian bytes,
or a varint length and the bytes. Here each row's bytes are laid out in a fixed-width
numpy matrix (one row per value, unused cells masked off) and the masked cells become
the data buffer of an Arrow binary array, so a column of a million values is a handful
of vectorised numpy operations.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

_VARINT_MAX = 10  # bytes of the longest varint (a negative int64)
_SHIFTS = np.arange(0, 7 * _VARINT_MAX, 7, dtype=np.uint64)
_THRESHOLDS = np.array([1 << (7 * i) for i in range(1, _VARINT_MAX)], dtype=np.uint64)

U8Matrix = npt.NDArray[np.uint8]
Lengths = npt.NDArray[np.int64]


def binary_from_matrix(matrix: U8Matrix, lengths: Lengths) -> pa.BinaryArray:
    """An Arrow binary array whose row ``i`` is ``matrix[i, :lengths[i]]``."""
    rows, width = matrix.shape
    mask = np.arange(width, dtype=np.int64)[None, :] < lengths[:, None]
    data = np.ascontiguousarray(matrix)[mask]
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.BinaryArray.from_buffers(
        pa.binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def varint_matrix(values: npt.NDArray[np.uint64]) -> tuple[U8Matrix, Lengths]:
    """Varint bytes of unsigned 64-bit values (a negative int64 is its two's complement)."""
    lengths = 1 + (values[:, None] >= _THRESHOLDS[None, :]).sum(axis=1, dtype=np.int64)
    groups = ((values[:, None] >> _SHIFTS[None, :]) & np.uint64(0x7F)).astype(np.uint8)
    more = np.arange(_VARINT_MAX, dtype=np.int64)[None, :] < (lengths - 1)[:, None]
    groups |= np.where(more, np.uint8(0x80), np.uint8(0))
    return groups, lengths


def tagged_varints(
    tag: int, values: npt.NDArray[np.int64], present: npt.NDArray[np.bool_]
) -> pa.BinaryArray:
    """``tag`` + varint per value; an empty string where ``present`` is false."""
    groups, lengths = varint_matrix(values.astype(np.int64, copy=False).view(np.uint64))
    matrix = np.empty((len(values), 1 + _VARINT_MAX), dtype=np.uint8)
    matrix[:, 0] = tag
    matrix[:, 1:] = groups
    return binary_from_matrix(matrix, np.where(present, lengths + 1, 0))


def tagged_fixed(
    tag: int, raw: npt.NDArray[np.uint8], present: npt.NDArray[np.bool_]
) -> pa.BinaryArray:
    """``tag`` + the fixed-width little-endian bytes in each row of ``raw`` (n x width)."""
    rows, width = raw.shape
    matrix = np.empty((rows, 1 + width), dtype=np.uint8)
    matrix[:, 0] = tag
    matrix[:, 1:] = raw
    return binary_from_matrix(matrix, np.where(present, 1 + width, 0).astype(np.int64))


def tagged_bytes(tag: int, data: pa.Array) -> pa.BinaryArray:
    """``tag`` + varint length + bytes per value; an empty string for a null."""
    data = data.cast(pa.binary())
    present = ~np.asarray(data.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    lengths = np.asarray(pc.fill_null(pc.binary_length(data), 0).to_numpy(), dtype=np.int64)
    head = tagged_varints(tag, lengths, present)
    joined = pc.binary_join_element_wise(head, pc.fill_null(data, b""), b"")
    return joined
