"""The API's sample of served feature vectors: a bounded queue on the lookup path, a
writer thread that turns the samples into Parquet files in the data folder.

Off by default. With ``monitor.serving_log.sample_rate`` at 0 (the default) and no
``FEATURESTORE_SERVING_LOG_RATE`` the API makes no ``ServingLog``: no thread, no file,
and the lookup path checks one attribute for ``None``.

On the lookup path (the event loop), ``offer`` costs one ``random() < rate``. A sampled
answer goes on a bounded queue as it is: the request's ``Prepared`` and the answer
document, which nothing changes once it is built (no copy, no serialising on the loop).
When the queue is full the sample is dropped and counted: a lookup never waits for the
log. The counters (``queued``, ``dropped``, ``written``, ``failed``) are plain integers,
each written by one thread; the API exposes them as Prometheus counters.

The writer thread (``featurestore-serving-log``) turns samples into Arrow record batches
a thousand entity rows at a time (short holds of the GIL, never one long one), and
writes a file per shape (one feature service or one feature list) when it holds
``rows_per_file`` entity rows or its oldest sample is ``seconds_per_file`` old, and on
``flush`` and ``close`` (the end of the API's lifespan).

Files (``DataLayout.serving_log``)::

    monitor/serving/services/<feature service>/<first>_<last>_<pid>_<seq>.parquet
    monitor/serving/features/<first>_<last>_<pid>_<seq>.parquet     (lookups by feature list)

``first`` and ``last`` are the first and last ``served_at`` in the file
(``20261202T101500123456Z``), so a window's files are found by name and the oldest go
first; ``pid`` keeps the workers of one server apart. One row per entity per request:

    served_at         timestamp[us, UTC]    when the answer was built
    request           int64                 the request's number in its process
    feature_service   string                null for a feature list
    entities          struct<join key: int64 | int32 | string>
    values            struct<"view:feature": the feature's type, below>
    statuses          struct<"view:feature": string>  PRESENT, NULL_VALUE, NOT_FOUND,
                                                      OUTSIDE_MAX_AGE
    event_timestamps  struct<"view:feature": timestamp[ns, UTC]>  the served row's event
                                                      time (1970-01-01 when NOT_FOUND)

Types come from the registry: a feature's Feast value type picks its column's Arrow
type, so the files hold typed values, not JSON: INT32 int32, INT64 and UNIX_TIMESTAMP
(seconds, as answered) int64, FLOAT float32, DOUBLE float64, STRING string, BOOL bool,
BYTES binary (the answer's base64, decoded). Any other type (lists, maps) is the answered
value as JSON text in a string column. The schema's metadata (``featurestore.serving_log``,
JSON) names each feature's value type and encoding (``arrow`` or ``json``); ``answered``
turns a column back into exactly the values the API sent.

Crash safety: a file is written under a hidden temporary name (``.<name>.tmp``) and
renamed once complete (``os.replace``, atomic within one file system), so a file with its
final name is always a whole Parquet file. There is no fsync: after a crash of the
machine (not only of the process) the newest files may be lost or empty; ``read_log``
skips, with a warning, a file it cannot read. Temporary files of a process that is gone
are removed when a log starts.

Size: after each file, the oldest files (by first ``served_at``, over every service) are
deleted until the folder holds at most ``max_bytes``; the newest file always stays.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import re
import threading
import time
from base64 import b64decode, b64encode
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from featurestore import processes
from featurestore.errors import ConfigError
from featurestore.monitor.config import ServingLogConfig

if TYPE_CHECKING:
    from feast import FeatureStore

    from featurestore.online import Plan, Prepared
    from featurestore.project import Project

__all__ = [
    "RATE_ENV",
    "LogFile",
    "ServingLog",
    "answered",
    "log_files",
    "read_log",
    "registry_types",
    "serving_log_config",
]

logger = logging.getLogger(__name__)

RATE_ENV = "FEATURESTORE_SERVING_LOG_RATE"
METADATA_KEY = b"featurestore.serving_log"
FORMAT_VERSION = 1
CHUNK_ROWS = 1024  # entity rows per record batch the writer builds at a time

_ARROW_TYPES: dict[str, pa.DataType] = {
    "INT32": pa.int32(),
    "INT64": pa.int64(),
    "UNIX_TIMESTAMP": pa.int64(),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
    "STRING": pa.string(),
    "BOOL": pa.bool_(),
    "BYTES": pa.binary(),
}
_KEY_TYPES = {"INT32": pa.int32(), "INT64": pa.int64(), "UNIX_TIMESTAMP": pa.int64()}
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_SERVED_AT = pa.timestamp("us", tz="UTC")
_EVENT_TIME = pa.timestamp("ns", tz="UTC")
_STAMP = "%Y%m%dT%H%M%S%fZ"
_NAME = re.compile(r"^(\d{8}T\d{12}Z)_(\d{8}T\d{12}Z)_(\d+)_(\d+)\.parquet$")
_TMP = re.compile(r"^\..+_(\d+)_\d+\.parquet\.tmp$")
_SERVICES, _FEATURES = "services", "features"

# (view, feature) -> the Feast value type's name (``FLOAT``, ``INT64_LIST``, ...)
TypeSource = Callable[[], Mapping[tuple[str, str], str]]


def serving_log_config(
    project: Project, environ: Mapping[str, str] | None = None
) -> ServingLogConfig:
    """The project's ``monitor.serving_log``, its rate replaced by
    ``FEATURESTORE_SERVING_LOG_RATE`` when that is set (a number in 0..1)."""
    env = os.environ if environ is None else environ
    config = project.monitor.serving_log
    raw = env.get(RATE_ENV, "").strip()
    if not raw:
        return config
    try:
        rate = float(raw)
    except ValueError:
        rate = -1.0
    if not 0 <= rate <= 1:
        raise ConfigError(f"{RATE_ENV} must be a number in 0..1, got {raw!r}")
    return replace(config, sample_rate=rate)


def registry_types(store: FeatureStore) -> TypeSource:
    """Every feature's value type name from ``store``'s registry (its cached copy)."""

    def types() -> dict[tuple[str, str], str]:
        return {
            (view.name, feature.name): feature.dtype.to_value_type().name
            for view in store.list_feature_views(allow_cache=True)
            for feature in view.features
        }

    return types


# -- the shape of one plan's answers ------------------------------------------------------


@dataclass(frozen=True)
class _Feature:
    ref: str  # view:feature
    value_type: str | None  # None: unknown to the registry (stored as JSON)

    @property
    def encoding(self) -> str:
        return "arrow" if self.value_type in _ARROW_TYPES else "json"

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES.get(self.value_type or "", pa.string())


@dataclass(frozen=True)
class _Shape:
    """What every answer of one plan looks like in the log."""

    feature_service: str | None
    join_keys: tuple[tuple[str, str], ...]  # (name, value type name)
    features: tuple[_Feature, ...]
    schema: pa.Schema = field(compare=False, hash=False)

    @property
    def key(self) -> tuple[object, ...]:
        return (self.feature_service, self.join_keys, self.features)


def _shape(plan: Plan, types: Mapping[tuple[str, str], str]) -> _Shape:
    features = []
    for column in plan.columns:
        group = plan.groups[column.group]
        view = group.views[column.view_index]
        wanted = group.fields[column.field_index]
        name = next(n for n, info in view.features.items() if info.field == wanted)
        features.append(_Feature(f"{view.name}:{name}", types.get((view.name, name))))
    join_keys = tuple((key, value_type.name) for key, value_type in plan.join_keys.items())
    metadata = {
        "version": FORMAT_VERSION,
        "feature_service": plan.feature_service,
        "join_keys": dict(join_keys),
        "features": [
            {"ref": f.ref, "value_type": f.value_type, "encoding": f.encoding} for f in features
        ],
    }
    schema = pa.schema(
        [
            pa.field("served_at", _SERVED_AT, nullable=False),
            pa.field("request", pa.int64(), nullable=False),
            pa.field("feature_service", pa.string()),
            pa.field(
                "entities",
                pa.struct([pa.field(k, _KEY_TYPES.get(t, pa.string())) for k, t in join_keys]),
            ),
            pa.field("values", pa.struct([pa.field(f.ref, f.arrow_type) for f in features])),
            pa.field("statuses", pa.struct([pa.field(f.ref, pa.string()) for f in features])),
            pa.field(
                "event_timestamps", pa.struct([pa.field(f.ref, _EVENT_TIME) for f in features])
            ),
        ],
        metadata={METADATA_KEY: orjson.dumps(metadata)},
    )
    return _Shape(plan.feature_service, join_keys, tuple(features), schema)


def _typed(values: list[Any], feature: _Feature) -> pa.Array:
    """Answered values as the feature's column."""
    if feature.encoding == "json":
        return pa.array([None if v is None else orjson.dumps(v).decode() for v in values])
    arrow_type = feature.arrow_type
    if feature.value_type == "BYTES":
        values = [None if v is None else b64decode(v) for v in values]
    elif feature.value_type in ("FLOAT", "DOUBLE"):
        values = [_NON_FINITE.get(v, v) if isinstance(v, str) else v for v in values]
    return pa.array(values, arrow_type)


def answered(
    column: pa.Array | pa.ChunkedArray, value_type: str | None, encoding: str
) -> list[Any]:
    """A logged ``values`` column back as the JSON values the API answered."""
    values = column.to_pylist()
    if encoding == "json":
        return [None if v is None else orjson.loads(v) for v in values]
    if value_type == "BYTES":
        return [None if v is None else b64encode(v).decode("ascii") for v in values]
    if value_type in ("FLOAT", "DOUBLE"):
        return [_json_float(v) for v in values]
    return values


def _json_float(value: float | None) -> float | str | None:
    if value is None or value - value == 0:  # finite
        return value
    if value != value:
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


class _Buffer:
    """The samples of one shape waiting for their file: whole record batches, and the
    last few hundred rows still as Python lists."""

    def __init__(self, shape: _Shape) -> None:
        self.shape = shape
        self.batches: list[pa.RecordBatch] = []
        self.rows = 0  # entity rows, in batches and lists
        self.requests = 0
        self.lost = 0  # requests dropped because their values did not convert
        self.first = self.last = 0  # served_at, microseconds
        self._reset()

    def _reset(self) -> None:
        width = len(self.shape.features)
        self.served: list[int] = []
        self.request_ids: list[int] = []
        self.keys: list[list[Any]] = [[] for _ in self.shape.join_keys]
        self.values: list[list[Any]] = [[] for _ in range(width)]
        self.statuses: list[list[str]] = [[] for _ in range(width)]
        self.times: list[list[str]] = [[] for _ in range(width)]

    def add(self, served_us: int, request: int, prepared: Prepared, document: Any) -> None:
        count = prepared.count
        offset = len(prepared.entities)
        results = document["results"][offset:]
        keys = [prepared.entities[key] for key, _ in self.shape.join_keys]
        parts = [(r["values"], r["statuses"], r["event_timestamps"]) for r in results]
        lengths = {len(part) for columns in parts for part in columns} | {len(k) for k in keys}
        if len(parts) != len(self.shape.features) or lengths != {count}:
            raise ValueError("the answer does not match its request")
        # Checked first: a sample is added whole or not at all.
        self.served += [served_us] * count
        self.request_ids += [request] * count
        for column, values in zip(self.keys, keys, strict=True):
            column += values
        for index, (values, statuses, times) in enumerate(parts):
            self.values[index] += values
            self.statuses[index] += statuses
            self.times[index] += times
        if not self.requests:
            self.first = served_us
        self.last = served_us
        self.requests += 1
        self.rows += count
        if len(self.served) >= CHUNK_ROWS:
            self.convert()

    def convert(self) -> None:
        """The rows still in lists as one record batch. Rows that do not fit their types
        are dropped (counted in ``lost``, logged), never the whole buffer."""
        if not self.served:
            return
        try:
            batch = self._batch()
        except Exception:
            logger.exception("serving log: sampled answers could not be converted; dropped")
            lost = len(set(self.request_ids))
            self.lost += lost
            self.requests -= lost
            self.rows -= len(self.served)
        else:
            self.batches.append(batch)
        self._reset()

    def _batch(self) -> pa.RecordBatch:
        shape = self.shape
        names = [f.ref for f in shape.features]
        count = len(self.served)
        service = (
            pa.nulls(count, pa.string())
            if shape.feature_service is None
            else pa.array([shape.feature_service] * count, pa.string())
        )
        entity_type = shape.schema.field("entities").type
        columns = [
            pa.array(self.served, pa.int64()).cast(_SERVED_AT),
            pa.array(self.request_ids, pa.int64()),
            service,
            pa.StructArray.from_arrays(
                [pa.array(v, entity_type.field(i).type) for i, v in enumerate(self.keys)],
                fields=list(entity_type),
            ),
            pa.StructArray.from_arrays(
                [_typed(v, f) for v, f in zip(self.values, shape.features, strict=True)],
                fields=list(shape.schema.field("values").type),
            ),
            pa.StructArray.from_arrays(
                [pa.array(s, pa.string()) for s in self.statuses], names=names
            ),
            pa.StructArray.from_arrays(
                [pa.array(t, pa.string()).cast(_EVENT_TIME) for t in self.times], names=names
            ),
        ]
        return pa.RecordBatch.from_arrays(columns, schema=shape.schema)

    def table(self) -> pa.Table:
        self.convert()
        return pa.Table.from_batches(self.batches, schema=self.shape.schema)


# -- the log ------------------------------------------------------------------------------


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class ServingLog:
    """Samples served answers at ``sample_rate`` into Parquet files under ``folder``.

    ``offer`` is the lookup path's call (event loop only); ``start`` starts the writer
    thread (``open`` returns a started log), ``flush`` waits for every queued sample to be
    in a file, ``close`` flushes and stops the thread.
    """

    def __init__(
        self,
        folder: Path,
        sample_rate: float,
        max_bytes: int,
        types: TypeSource,
        *,
        queue_size: int = 1024,
        rows_per_file: int = 100_000,
        seconds_per_file: float = 60.0,
    ) -> None:
        if not 0 < sample_rate <= 1:
            raise ConfigError(f"a serving log needs a sample rate in (0, 1], got {sample_rate}")
        self.folder = folder
        self.sample_rate = sample_rate
        self.max_bytes = max_bytes
        self.rows_per_file = rows_per_file
        self.seconds_per_file = seconds_per_file
        self._types = types
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._random = random.random
        self._requests = 0
        self._shapes: dict[int, tuple[Plan, _Shape]] = {}  # by id(plan); the writer's
        self._pid = os.getpid()
        self._files = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        # Counters, each written by one thread: queued and dropped by the event loop,
        # written and failed (requests) by the writer.
        self.queued = 0
        self.dropped = 0
        self.written = 0
        self.failed = 0

    @classmethod
    def open(
        cls, project: Project, store: FeatureStore, config: ServingLogConfig | None = None
    ) -> ServingLog | None:
        """The project's started log, or ``None`` when its sample rate is 0."""
        config = serving_log_config(project) if config is None else config
        if config.sample_rate <= 0:
            return None
        log = cls(
            project.layout.serving_log,
            config.sample_rate,
            config.max_bytes,
            registry_types(store),
        )
        log.start()
        return log

    # -- the lookup path (event loop) ---------------------------------------------------

    def offer(self, prepared: Prepared, document: dict[str, Any]) -> None:
        """Maybe queue one answer; never blocks."""
        if self._random() >= self.sample_rate:
            return
        try:
            self._queue.put_nowait((time.time(), prepared, document))
        except queue.Full:
            self.dropped += 1
            return
        self.queued += 1

    # -- control ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        _remove_orphans(self.folder)
        self._thread = threading.Thread(
            target=self._run, name="featurestore-serving-log", daemon=True
        )
        self._thread.start()

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every sample queued before this call is in a file (``False``: not
        within ``timeout`` seconds)."""
        if self._thread is None or not self._thread.is_alive():
            return False
        marker = _Flush()
        self._queue.put(marker, timeout=timeout)
        return marker.done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued and stop the writer."""
        if self._closed:
            return
        self._closed = True
        self.start()  # a log never started still writes what it queued
        assert self._thread is not None
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            logger.warning("serving log: the writer did not take the stop request")
        self._thread.join(timeout)

    # -- the writer thread --------------------------------------------------------------

    def _run(self) -> None:
        buffers: dict[tuple[object, ...], _Buffer] = {}
        deadline: float | None = None  # when the oldest buffered sample must be written
        rows = 0
        while True:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            if isinstance(item, _Flush):
                self._write_all(buffers)
                rows, deadline = 0, None
                item.done.set()
                continue
            if item is not None:
                rows += self._add(buffers, *item)
                if deadline is None and buffers:
                    deadline = time.monotonic() + self.seconds_per_file
            if buffers and (rows >= self.rows_per_file or time.monotonic() >= (deadline or 0)):
                self._write_all(buffers)
                rows, deadline = 0, None
        self._write_all(buffers)

    def _add(
        self,
        buffers: dict[tuple[object, ...], _Buffer],
        served_at: float,
        prepared: Prepared,
        document: Any,
    ) -> int:
        try:
            shape = self._shape(prepared.plan)
            buffer = buffers.get(shape.key)
            if buffer is None:
                buffer = buffers[shape.key] = _Buffer(shape)
            self._requests += 1
            buffer.add(round(served_at * 1_000_000), self._requests, prepared, document)
        except Exception:
            logger.exception("serving log: a sample could not be converted; it is dropped")
            self.failed += 1
            return 0
        return prepared.count

    def _shape(self, plan: Plan) -> _Shape:
        cached = self._shapes.get(id(plan))
        if cached is not None and cached[0] is plan:
            return cached[1]
        try:
            types = self._types()
        except Exception:
            logger.exception("serving log: the registry's feature types could not be read")
            types = {}
        shape = _shape(plan, types)
        if len(self._shapes) >= 256:  # plans of old registry snapshots
            self._shapes.clear()
        self._shapes[id(plan)] = (plan, shape)
        return shape

    def _write_all(self, buffers: dict[tuple[object, ...], _Buffer]) -> None:
        for buffer in buffers.values():
            try:
                self._write(buffer)
            except Exception:
                logger.exception(
                    "serving log: %d sampled requests could not be written", buffer.requests
                )
                self.failed += buffer.requests
            else:
                self.written += buffer.requests
            self.failed += buffer.lost
        buffers.clear()
        if self._files:
            try:
                _enforce_cap(self.folder, self.max_bytes)
            except OSError:
                logger.exception("serving log: the oldest files could not be removed")

    def _write(self, buffer: _Buffer) -> None:
        table = buffer.table()
        if not table.num_rows:
            return
        folder = _service_folder(self.folder, buffer.shape.feature_service)
        folder.mkdir(parents=True, exist_ok=True)
        self._files += 1
        name = f"{_stamp(buffer.first)}_{_stamp(buffer.last)}_{self._pid}_{self._files}.parquet"
        temporary = folder / f".{name}.tmp"
        try:
            pq.write_table(table, temporary, compression="zstd")
            os.replace(temporary, folder / name)
        finally:
            temporary.unlink(missing_ok=True)


def _stamp(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1_000_000, UTC).strftime(_STAMP)


def _parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, _STAMP).replace(tzinfo=UTC)


def _service_folder(root: Path, feature_service: str | None) -> Path:
    if feature_service is None:
        return root / _FEATURES
    return root / _SERVICES / quote(feature_service, safe="").replace(".", "%2E")


def _remove_orphans(root: Path) -> None:
    """Temporary files of processes that are gone (a crash mid-write)."""
    for path in root.rglob(".*.tmp"):
        match = _TMP.match(path.name)
        if match and not processes.alive(int(match.group(1))):
            path.unlink(missing_ok=True)


def _enforce_cap(root: Path, max_bytes: int) -> None:
    """Delete the oldest files until the log holds at most ``max_bytes`` (the newest
    file always stays)."""
    newest_first = sorted(_all_files(root), key=lambda f: (f.first, f.path.name), reverse=True)
    total = 0
    full = False
    for index, found in enumerate(newest_first):
        if not full:
            try:
                total += found.path.stat().st_size
            except FileNotFoundError:  # another worker removed it
                continue
            full = index > 0 and total > max_bytes
        if full:  # this file and every older one
            found.path.unlink(missing_ok=True)


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFile:
    path: Path
    feature_service: str | None
    first: datetime  # first and last served_at in the file
    last: datetime


def _all_files(root: Path) -> Iterator[LogFile]:
    services = root / _SERVICES
    if services.is_dir():
        for folder in sorted(services.iterdir()):
            yield from _files_in(folder, unquote(folder.name))
    yield from _files_in(root / _FEATURES, None)


def _files_in(folder: Path, feature_service: str | None) -> Iterator[LogFile]:
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        match = _NAME.match(path.name)
        if match:
            first, last = _parse_stamp(match.group(1)), _parse_stamp(match.group(2))
            yield LogFile(path, feature_service, first, last)


def log_files(
    root: Path,
    feature_service: str | None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[LogFile]:
    """The complete files of one feature service (``None``: feature lists) that may hold
    requests served in ``[start, end)``, oldest first."""
    found = _files_in(_service_folder(root, feature_service), feature_service)
    return sorted(
        (f for f in found if (start is None or f.last >= start) and (end is None or f.first < end)),
        key=lambda f: (f.first, f.path.name),
    )


@dataclass(frozen=True)
class LoggedFeature:
    ref: str
    value_type: str | None
    encoding: str  # arrow or json


@dataclass(frozen=True)
class LoggedTable:
    """One file's requests in the window, and what its columns mean."""

    path: Path
    table: pa.Table
    join_keys: dict[str, str]
    features: list[LoggedFeature]


def read_log(
    root: Path,
    feature_service: str | None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[LoggedTable]:
    """Every logged request of ``feature_service`` served in ``[start, end)``, a table
    per file (files may differ in columns: features added to the service, for one)."""
    tables = []
    for found in log_files(root, feature_service, start, end):
        try:
            table = pq.read_table(found.path)
        except (OSError, pa.ArrowException) as exc:
            logger.warning("serving log: skipping %s, which cannot be read (%s)", found.path, exc)
            continue
        meta = orjson.loads((table.schema.metadata or {}).get(METADATA_KEY, b"{}"))
        if meta.get("version") != FORMAT_VERSION:
            logger.warning("serving log: skipping %s, not a version %d file", found.path, 1)
            continue
        table = table.replace_schema_metadata(None)
        served = table["served_at"]
        if start is not None:
            table = table.filter(pc.greater_equal(served, pa.scalar(start, _SERVED_AT)))
            served = table["served_at"]
        if end is not None:
            table = table.filter(pc.less(served, pa.scalar(end, _SERVED_AT)))
        if table.num_rows:
            features = [
                LoggedFeature(f["ref"], f["value_type"], f["encoding"]) for f in meta["features"]
            ]
            tables.append(LoggedTable(found.path, table, dict(meta["join_keys"]), features))
    return tables


def logged_refs(tables: Sequence[LoggedTable]) -> list[str]:
    """Every feature ref of the tables, first seen first."""
    return list(dict.fromkeys(f.ref for t in tables for f in t.features))
