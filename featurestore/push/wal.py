"""The write-ahead log of pushed rows: appended and fsynced before a push is answered.

One folder per push source (``DataLayout.push_log``); in it, segment files written by
one process each::

    data/push/departure_status/
        00001764748800123456789-4242-000001.log    sealed: complete, never written again
        00001764748812345678901-4242-000002.open   the active segment of process 4242

A segment is a sequence of records, each ``b"FSW1"``, the payload's length and CRC-32
(u32 little-endian each), then the payload: one Arrow IPC stream (schema and one batch)
of the pushed rows, the table's declared columns plus ``_rule``, ``_column`` and
``_value`` (null for a good row; the rule, column and value a quarantined row broke).

- ``append`` writes one record and fsyncs the file before it returns (and, for a new
  segment, the folder): what it returned for survives a crash of the process or the
  machine.
- A crash mid-record leaves a torn tail that was never acknowledged; readers stop at the
  first record whose header, length or checksum does not hold.
- The writing process holds an exclusive ``flock`` on its ``.open`` segment (created
  under a temporary name and locked before it is given its name, so no one else ever
  sees it unlocked while its owner lives). The owner seals it (renames it to ``.log``)
  when it grows past ``max_segment_bytes``, when asked (``seal``), and on close. A
  segment whose lock can be taken belongs to a dead process: ``sealed_segments`` seals
  it for it (a ``kill -9`` releases the lock with the process).

Compaction (``featurestore.push.compact``) folds sealed segments into the table and
deletes them; names sort by creation time, so segments are folded in push order per
process.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

MAGIC = b"FSW1"
_HEAD = struct.Struct("<4sII")
OPEN, SEALED = ".open", ".log"
DEFAULT_SEGMENT_BYTES = 64 << 20


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode_record(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    payload = sink.getvalue().to_pybytes()
    return _HEAD.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


class PushLog:
    """The appending side of one push source's log, for this process (thread-safe)."""

    def __init__(self, folder: Path, max_segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self.folder = folder
        self.max_segment_bytes = max_segment_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._seq = 0
        self._pid = os.getpid()

    def append(self, table: pa.Table) -> int:
        """Append one record and fsync it; the bytes appended."""
        record = encode_record(table)
        with self._lock:
            if self._fd is None or self._pid != os.getpid():
                self._open()
            assert self._fd is not None
            view = memoryview(record)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fdatasync(self._fd)
            self._size += len(record)
            if self._size >= self.max_segment_bytes:
                self._seal()
        return len(record)

    def seal(self) -> None:
        """Seal the active segment (if any): its rows can now be compacted."""
        with self._lock:
            self._seal()

    close = seal

    def _open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._pid = os.getpid()
        self._seq += 1
        name = f"{time.time_ns():023d}-{self._pid}-{self._seq:06d}"
        tmp = self.folder / f".tmp-{name}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = self.folder / f"{name}{OPEN}"
        os.rename(tmp, path)
        _fsync(self.folder)
        self._fd, self._path, self._size = fd, path, 0

    def _seal(self) -> None:
        fd, path = self._fd, self._path
        if fd is None or path is None:
            return
        self._fd = self._path = None
        try:
            if self._size:
                os.rename(path, path.with_suffix(SEALED))
            else:
                os.unlink(path)
            _fsync(self.folder)
        finally:
            os.close(fd)  # releases the lock, after the rename


def seal_abandoned(folder: Path) -> int:
    """Seal the ``.open`` segments of processes that are gone; how many."""
    sealed = 0
    for path in sorted(folder.glob(f"*{OPEN}")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # sealed by its owner meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its owner is alive
            if not path.exists():
                continue
            if os.fstat(fd).st_size:
                os.rename(path, path.with_suffix(SEALED))
            else:
                os.unlink(path)
            sealed += 1
        finally:
            os.close(fd)
    if sealed:
        _fsync(folder)
    for stale in folder.glob(".tmp-*"):  # created by a process killed before it locked it
        if time.time() - stale.stat().st_mtime > 60:
            stale.unlink(missing_ok=True)
    return sealed


def sealed_segments(folder: Path) -> list[Path]:
    """The segments ready to compact, oldest first (abandoned ones sealed first)."""
    if not folder.is_dir():
        return []
    seal_abandoned(folder)
    return sorted(folder.glob(f"*{SEALED}"))


@dataclass(frozen=True)
class Segment:
    path: Path
    tables: list[pa.Table]
    torn: bool  # the file ends in a record that was never completed


def read_segment(path: Path) -> Segment:
    """Every complete record of a segment, in order."""
    data = path.read_bytes()
    tables: list[pa.Table] = []
    at = 0
    while at < len(data):
        if len(data) - at < _HEAD.size:
            return Segment(path, tables, True)
        magic, length, crc = _HEAD.unpack_from(data, at)
        payload = data[at + _HEAD.size : at + _HEAD.size + length]
        if magic != MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
            return Segment(path, tables, True)
        tables.append(pa.ipc.open_stream(payload).read_all())
        at += _HEAD.size + length
    return Segment(path, tables, False)


@dataclass(frozen=True)
class LogStatus:
    bytes: int  # every segment's size, sealed or open
    segments: int
    oldest: float | None  # creation time (Unix seconds) of the oldest segment


def log_status(folder: Path) -> LogStatus:
    """How much is waiting to be compacted, and since when."""
    if not folder.is_dir():
        return LogStatus(0, 0, None)
    size, count, oldest = 0, 0, None
    for path in folder.iterdir():
        if path.suffix not in (OPEN, SEALED):
            continue
        try:
            size += path.stat().st_size
        except FileNotFoundError:
            continue
        count += 1
        created = int(path.name.split("-", 1)[0]) / 1e9
        oldest = created if oldest is None else min(oldest, created)
    return LogStatus(size, count, oldest)


def iter_rows(segments: list[Path]) -> Iterator[tuple[Path, pa.Table]]:
    for path in segments:
        for table in read_segment(path).tables:
            yield path, table
