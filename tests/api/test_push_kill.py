"""kill -9 of the API during a flood of ``online_and_offline`` pushes, N times: every
acknowledged row is in the table exactly once after restart and compaction."""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path

import httpx
import pyarrow.parquet as pq

from featurestore.project import Project
from featurestore.push.compact import compact
from featurestore.push.spec import find_push
from tests.api_process import ApiProcess
from tests.push_project import SOURCE, TABLE, applied_push_project, db, push_project, rows

__all__ = ["applied_push_project", "db", "push_project"]

TRIALS = 3
BATCH = 50


def _flood(
    url: str, trial: int, acknowledged: list[str], sent: list[str], stop: threading.Event
) -> None:
    with httpx.Client(timeout=10.0) as client:
        n = 0
        while not stop.is_set():
            carriers = [f"K{trial}-{n}-{i}" for i in range(BATCH)]
            n += 1
            sent.extend(carriers)
            body = {"push_source_name": SOURCE, "to": "online_and_offline",
                    "df": rows(BATCH, carrier=carriers)}  # fmt: skip
            try:
                answer = client.post(f"{url}/push", json=body)
            except httpx.HTTPError:
                return  # the server died mid-request: not acknowledged
            if answer.status_code == 200:
                acknowledged.extend(carriers)


def test_every_acknowledged_row_exactly_once(push_project: Project, tmp_path: Path) -> None:
    acknowledged: list[str] = []
    sent: list[str] = []
    env = {"FEATURESTORE_PUSH_COMPACT_SECONDS": "0.3"}  # kills land mid-compaction too
    for trial in range(TRIALS):
        api = ApiProcess(push_project, tmp_path / f"api-{trial}.log", env).start()
        stop = threading.Event()
        flood = threading.Thread(target=_flood, args=(api.url, trial, acknowledged, sent, stop))
        flood.start()
        threading.Event().wait(random.uniform(0.8, 2.0))
        api.kill()
        stop.set()
        flood.join(15)
    with ApiProcess(push_project, tmp_path / "api-last.log", env):  # restarted, then stopped
        pass
    compact(push_project, find_push(TABLE, push_project.jobs_dir))
    stored = Counter(pq.read_table(push_project.layout.table(TABLE)).column("carrier").to_pylist())
    assert len(acknowledged) > TRIALS * BATCH  # the flood did run
    missing = [c for c in acknowledged if stored[c] != 1]
    assert missing == []
    assert max(stored.values()) == 1  # nothing twice, acknowledged or not
    assert set(stored) <= set(sent)
