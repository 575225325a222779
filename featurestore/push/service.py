"""One write of rows: checked, logged offline when asked, written online, counted.

Every write path calls ``PushService`` (the HTTP routes, ``featurestore push``, the
Python API, the stream consumer), so each gets the same rules and the same bytes:

1. the rows are checked against the target's ``WriteSchema`` (``featurestore.push.validate``);
2. with bad rows, ``reject`` (the default) raises ``BadRowsError`` naming each and writes
   nothing; ``quarantine`` goes on with the good rows and keeps the bad ones with their
   rule (in the push log, folded into ``<table>.quarantine/`` by compaction; for a job's
   view, straight into its quarantine folder);
3. ``to: offline`` / ``online_and_offline`` rows of a declared push source are appended
   to its log and fsynced (``featurestore.push.wal``) *before* Redis is written: a write
   that fails after that is answered with an error, and its retry's rows are the same
   entity and event time, which compaction keeps once;
4. online, each view fed by the source is written by ``OnlineWriter`` (a view with a
   type our encoder lacks, a list, is written by Feast's own path with the checked rows);
5. the answer (``WriteResult``) comes when all of that is done.

A push source Feast knows but no ``.push`` file declares is checked by its views'
types, and its offline rows are written by Feast's offline store, as before.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeAlias

import pandas as pd
import pyarrow as pa
from feast import FeatureStore
from feast.data_source import PushMode

from featurestore.errors import InvalidRequestError, RequestError
from featurestore.project import Project
from featurestore.push.online import OnlineWriter
from featurestore.push.plan import PushPlan, push_plan, view_plan
from featurestore.push.spec import ON_BAD_ROWS
from featurestore.push.validate import Checked, check_rows
from featurestore.push.wal import PushLog
from featurestore.redis_client import OnlineClient

TO = ("online", "offline", "online_and_offline")
Rows: TypeAlias = Mapping[str, Sequence[Any]] | pa.Table | pd.DataFrame


class BadRowsError(RequestError):
    """Rows broke a rule and the write was refused whole (nothing written)."""

    code = "bad_rows"

    def __init__(self, checked: Checked) -> None:
        self.checked = checked
        super().__init__(checked.summary())


@dataclass
class WriteResult:
    rows: int  # rows received
    accepted: int  # rows that passed every rule
    quarantined: int
    online_written: int  # per view, summed: rows newer than what Redis held
    online_skipped: int  # not newer (or a repeat within the request)
    logged: int  # rows appended to the offline log

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class PushService:
    """Writes for one project (thread-safe); plans are cached until ``invalidate``."""

    def __init__(
        self,
        store: FeatureStore,
        project: Project | None,
        client: OnlineClient,
        key_ttl_seconds: int | None = None,
    ) -> None:
        self.store = store
        self.project = project
        self.online = OnlineWriter(client, store.project, key_ttl_seconds)
        self._plans: dict[Any, Any] = {}
        self._logs: dict[str, PushLog] = {}
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()  # (target, outcome) -> rows
        self.stream_lag: dict[tuple[str, str], int] = {}  # set by featurestore.push.stream

    @classmethod
    def for_project(cls, project: Project) -> PushService:
        from featurestore.redis_client import online_client
        from featurestore.settings import parse_redis_url, redis_timeout_from_env
        from featurestore.store import open_store

        store = open_store(project)
        client = online_client(parse_redis_url(project.redis_url), redis_timeout_from_env())
        online = store.config.online_store
        return cls(store, project, client, getattr(online, "key_ttl_seconds", None))

    def invalidate(self) -> None:
        """Forget the plans (the registry changed)."""
        with self._lock:
            self._plans.clear()

    def plan(self, kind: str, name: str, plans: dict[Any, Any] | None = None) -> PushPlan:
        """The plan of a write, cached in ``plans`` (the API's registry snapshot keeps
        one such dict, so a refreshed registry starts afresh) or in the service."""
        cache = self._plans if plans is None else plans
        key = ("push", kind, name)
        plan = cache.get(key)
        if plan is None:
            maker = push_plan if kind == "push source" else view_plan
            plan = maker(self.store, self.project, name)
            with self._lock:
                cache[key] = plan
        return plan

    def log(self, table: str) -> PushLog:
        assert self.project is not None
        with self._lock:
            log = self._logs.get(table)
            if log is None:
                log = self._logs[table] = PushLog(self.project.layout.push_log(table))
            return log

    def logs(self) -> list[PushLog]:
        with self._lock:
            return list(self._logs.values())

    def close(self) -> None:
        for log in self.logs():
            log.close()

    def push(
        self,
        source: str,
        rows: Rows,
        to: str = "online",
        on_bad_rows: str | None = None,
        now: datetime | None = None,
        plans: dict[Any, Any] | None = None,
    ) -> WriteResult:
        """Push rows through the push source ``source``."""
        if to not in TO:
            raise InvalidRequestError(f"'to' must be one of {', '.join(TO)}, got {to!r}")
        plan = self.plan("push source", source, plans)
        return self._write(plan, rows, to, on_bad_rows, now)

    def write_to_online_store(
        self,
        view: str,
        rows: Rows,
        on_bad_rows: str | None = None,
        now: datetime | None = None,
        plans: dict[Any, Any] | None = None,
    ) -> WriteResult:
        """Write rows of one feature view online (``/write-to-online-store``)."""
        plan = self.plan("feature view", view, plans)
        return self._write(plan, rows, "online", on_bad_rows, now)

    def _write(
        self, plan: PushPlan, rows: Rows, to: str, on_bad_rows: str | None, now: datetime | None
    ) -> WriteResult:
        mode = on_bad_rows or (plan.spec.on_bad_rows if plan.spec else "reject")
        if mode not in ON_BAD_ROWS:
            raise InvalidRequestError(
                f"'on_bad_rows' must be one of {', '.join(ON_BAD_ROWS)}, got {mode!r}"
            )
        checked = check_rows(plan.schema, rows, now)
        bad = checked.bad_rows
        if bad and mode == "reject":
            self.counts[(plan.name, "rejected")] += bad
            raise BadRowsError(checked)
        if bad and plan.spec is None and plan.quarantine_table is None:
            raise InvalidRequestError(
                f"{plan.kind} {plan.name!r} has no declared table to quarantine rows in; "
                "send on_bad_rows: reject"
            )
        good = checked.good()
        logged = 0
        offline = to in ("offline", "online_and_offline")
        if plan.spec is not None and (bad or (offline and good.num_rows)):
            record = _log_record(good if offline else good.slice(0, 0), checked)
            self.log(plan.spec.name).append(record)
            logged = good.num_rows if offline else 0
        elif bad:
            self._quarantine_now(plan, checked)
        if offline and plan.feast_offline and good.num_rows:
            self.store.push(
                plan.name, good.to_pandas(), allow_registry_cache=True, to=PushMode.OFFLINE
            )
        written = skipped = 0
        if to != "offline" and good.num_rows:
            for target in plan.views:
                if not target.online:
                    continue
                if target.supported:
                    outcome = self.online.write(target, good)
                    written += outcome.written
                    skipped += outcome.skipped
                else:
                    self.store.write_to_online_store(
                        target.view, good.to_pandas(), allow_registry_cache=True
                    )
                    written += good.num_rows
        self.counts[(plan.name, "pushed")] += good.num_rows
        if bad:
            self.counts[(plan.name, "quarantined")] += bad
        return WriteResult(checked.rows, good.num_rows, bad, written, skipped, logged)

    def _quarantine_now(self, plan: PushPlan, checked: Checked) -> None:
        """A job view's bad rows, straight into its quarantine folder (fsynced)."""
        from ingestion import storage

        assert self.project is not None and plan.quarantine_table is not None
        folder = self.project.layout.quarantine(plan.quarantine_table)
        folder.mkdir(parents=True, exist_ok=True)
        run_id = storage.new_run_id()
        table = checked.rejected().append_column(
            "_run_id", pa.array([f"write-{run_id}"] * checked.bad_rows, pa.string())
        )
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        storage.write_file(folder / f"write-{run_id}.parquet", memoryview(sink.getvalue()))
        storage.fsync_path(folder)


def _log_record(good: pa.Table, checked: Checked) -> pa.Table:
    """The log's record of one write: its good rows (null rule), then its bad ones."""
    nulls = pa.nulls(good.num_rows, pa.string())
    rows = good.append_column("_rule", nulls).append_column("_column", nulls)
    rows = rows.append_column("_value", nulls)
    if checked.bad_rows:
        rows = pa.concat_tables([rows, checked.rejected()])
    return rows
