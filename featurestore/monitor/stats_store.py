"""Where the monitor's statistics live: a table's records and histogram edges in
``data/monitor/stats/<table>/``, and which record is current for which partition (see
``featurestore.monitor.stats``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurestore.monitor.stats_compute import BINS, kind_of

if TYPE_CHECKING:
    import pyarrow as pa

    from featurestore.job_spec import Job
    from featurestore.layout import DataLayout

logger = logging.getLogger(__name__)

FORMAT = 1
_STALE_SECONDS = 3600  # leftovers of a killed writer older than this are removed
_DAY, _HOUR = timedelta(days=1), timedelta(hours=1)


@dataclass(frozen=True)
class Slot:
    """One partition of a version: its folder relative to the version, and its files."""

    key: str  # partition_date=20130101[/partition_hour=5]
    files: tuple[tuple[str, int, int, int], ...]  # name, inode, size, mtime_ns

    @property
    def start(self) -> datetime:
        return slot_start(self.key)


@dataclass(frozen=True)
class Record:
    """A record: a run's statistics (``source`` run) or the reader's (recomputed)."""

    name: str
    run_id: str
    source: str
    start: datetime | None  # a run's window
    end: datetime | None
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)

    def matches(self, slot: Slot) -> bool:
        entry = self.slots.get(slot.key)
        return entry is not None and tuple(map(tuple, entry["files"])) == slot.files

    def covers(self, start: datetime) -> bool:
        return self.start is not None and self.end is not None and self.start <= start < self.end


def slot_start(key: str) -> datetime:
    values = dict(part.split("=", 1) for part in key.split("/"))
    day = datetime.strptime(values["partition_date"], "%Y%m%d").replace(tzinfo=UTC)
    return day.replace(hour=int(values.get("partition_hour", 0)))


def slot_end(key: str) -> datetime:
    return slot_start(key) + (_HOUR if "partition_hour=" in key else _DAY)


def slot_key(partition_date: int, partition_hour: int | None) -> str:
    key = f"partition_date={partition_date}"
    return key if partition_hour is None else f"{key}/partition_hour={partition_hour}"


def current_version(layout: DataLayout, table: str) -> Path | None:
    link = layout.table(table)
    target = link.resolve() if link.is_symlink() else None
    return target if target is not None and target.is_dir() else None


def version_slots(version: Path) -> dict[str, Slot]:
    """Every partition of a version that holds files, by key."""
    found: dict[str, Slot] = {}
    for folder, _dirs, files in os.walk(version):
        names = sorted(name for name in files if name.endswith(".parquet"))
        if names:
            key = Path(folder).relative_to(version).as_posix()
            infos = [os.stat(os.path.join(folder, name)) for name in names]
            identity = (
                (n, i.st_ino, i.st_size, i.st_mtime_ns) for n, i in zip(names, infos, strict=True)
            )
            found[key] = Slot(key, tuple(identity))
    return found


def read_records(folder: Path) -> list[Record]:
    """Every complete record of a table, oldest first (unreadable ones are skipped)."""
    records = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path.name == "edges.json":
            continue
        try:
            meta = json.loads(path.read_text())
            start, end = meta.get("start"), meta.get("end")
            records.append(Record(path.stem, str(meta["run_id"]), str(meta["source"]),
                                   datetime.fromisoformat(start) if start else None,
                                   datetime.fromisoformat(end) if end else None,
                                   dict(meta["slots"])))  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("ignoring the unreadable statistics record %s", path)
    return sorted(records, key=lambda r: (r.run_id, r.source == "run"))


def write_record(folder: Path, name: str, rows: pa.Table, meta: dict[str, Any]) -> Path:
    """The rows, then the description that makes them a record; each atomically."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.parquet.{os.getpid()}.tmp"
    pq.write_table(rows, tmp, compression="zstd")
    os.replace(tmp, folder / f"{name}.parquet")
    tmp = folder / f".{name}.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(meta, separators=(",", ":")))
    os.replace(tmp, folder / f"{name}.json")
    return folder / f"{name}.json"


def data_records(records: Sequence[Record], slots: Mapping[str, Slot]) -> dict[str, Record]:
    """Per partition of the version, the newest record of exactly its files."""
    found: dict[str, Record] = {}
    for record in records:  # oldest first: the newest match wins
        for key in record.slots.keys() & slots.keys():
            if record.matches(slots[key]):
                found[key] = record
    return found


def quarantine_records(records: Sequence[Record], slots: Mapping[str, Slot]) -> dict[str, Record]:
    """Per partition key, the run record its quarantine counts come from: the run that
    wrote its current files or, for a partition whose rows were all quarantined (it has
    no files), the newest run whose window covers it, if that run says so."""
    runs = [record for record in records if record.source == "run"]
    found = data_records(runs, slots)
    for key in {key for record in runs for key in record.slots if key not in slots}:
        newest = next((r for r in reversed(runs) if r.covers(slot_start(key))), None)
        if newest is not None and newest.slots.get(key, {}).get("rows", -1) == 0:
            found[key] = newest
    return found


def prune(folder: Path, slots: Mapping[str, Slot], keep: str) -> None:
    """Delete the records no partition of the current version takes its statistics or
    quarantine counts from, and what killed writers left behind."""
    records = read_records(folder)
    used = {r.name for r in data_records(records, slots).values()}
    used |= {r.name for r in quarantine_records(records, slots).values()}
    for record in records:
        if record.name not in used and record.name != keep:
            for suffix in (".json", ".parquet"):
                (folder / f"{record.name}{suffix}").unlink(missing_ok=True)
    names, now = {r.name for r in records}, time.time()
    for path in folder.iterdir():
        leftover = path.name.endswith(".tmp") or (
            path.suffix == ".parquet" and path.stem not in names
        )
        with contextlib.suppress(OSError):
            if leftover and now - path.stat().st_mtime > _STALE_SECONDS:
                path.unlink()


# -- histogram edges ----------------------------------------------------------------------


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """The statistics folder's lock: one writer of ``edges.json`` at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _load_edges(folder: Path) -> dict[str, tuple[float, float]]:
    try:
        columns = json.loads((folder / "edges.json").read_text())["columns"]
    except (OSError, ValueError, KeyError):
        return {}
    return {name: (float(e["lo"]), float(e["hi"])) for name, e in columns.items()}


def decide_edges(
    folder: Path,
    columns: Sequence[tuple[str, str]],
    job: Job | None,
    decided_by: str,
    extremes: Any = None,
) -> dict[str, tuple[float, float]]:
    """Each numeric feature's edges: stored ones, then the header's ``min`` and ``max``,
    then (for the rest, if ``extremes`` is given) the finite extremes of the values, a
    callable from column names to (min, max). The new ones are stored (when the folder
    cannot be written they are still used, and decided again next time)."""
    numeric = [name for name, type_ in columns if kind_of(type_) == "numeric"]
    edges = _load_edges(folder)
    if all(name in edges for name in numeric):
        return edges
    try:
        with _locked(folder):
            edges = _load_edges(folder)
            added = _new_edges([n for n in numeric if n not in edges], job, decided_by, extremes)
            if added:
                document: dict[str, Any] = {"format": FORMAT, "bins": BINS, "columns": {}}
                with contextlib.suppress(OSError, ValueError):
                    document = json.loads((folder / "edges.json").read_text())
                document["columns"].update(added)
                tmp = folder / f".edges.json.{os.getpid()}.tmp"
                tmp.write_text(json.dumps(document, indent=1))
                os.replace(tmp, folder / "edges.json")
    except OSError as exc:
        logger.warning("histogram edges not stored in %s: %s", folder, exc)
        added = _new_edges([n for n in numeric if n not in edges], job, decided_by, extremes)
    return {**edges, **{n: (e["lo"], e["hi"]) for n, e in added.items()}}


def _new_edges(
    missing: Sequence[str], job: Job | None, decided_by: str, extremes: Any
) -> dict[str, dict[str, Any]]:
    declared = job.column_map if job is not None else {}
    bounds = {n: (declared[n].min, declared[n].max) if n in declared else (None, None)
              for n in missing}  # fmt: skip
    scanned = [n for n in missing if None in bounds[n]]
    found = extremes(scanned) if extremes is not None and scanned else {}
    added: dict[str, dict[str, Any]] = {}
    for name in missing:
        low, high = bounds[name]
        low = found.get(name, (None, None))[0] if low is None else low
        high = found.get(name, (None, None))[1] if high is None else high
        if low is None or high is None:
            continue  # no finite value yet: the first one decides
        low, high = float(low), float(high)
        if not low < high:
            low, high = min(low, high) - 0.5, max(low, high) + 0.5
        added[name] = {"lo": low, "hi": high, "decided_by": decided_by,
                       "from": "data" if name in scanned else "header"}  # fmt: skip
    return added
