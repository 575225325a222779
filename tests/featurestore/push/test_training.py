"""A training set over pushed rows equals one over the same rows ingested by a job."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.project import Project
from featurestore.push.compact import compact
from featurestore.push.service import PushService
from featurestore.push.spec import find_push
from featurestore.redis_server import LocalRedis
from featurestore.store import open_store
from ingestion import run_jobs
from tests.conftest import copy_project, feast_cli

FEATURES = ["hour", "departures_1h", "dep_delay_avg_1h", "cancelled_1h", "status"]


def _feed(n: int) -> pa.Table:
    carriers = ["UA", "AA", "B6", "DL"]
    return pa.table({
        "carrier": [carriers[i % 4] for i in range(n)],
        "origin": [("EWR", "JFK", "LGA")[i % 3] for i in range(n)],
        "event_timestamp": pa.array(
            [datetime(2013, 1, 1 + i // 48, (i // 2) % 24, tzinfo=UTC) for i in range(n)],
            pa.timestamp("us", tz="UTC")),
        "hour": pa.array([(i // 2) % 24 for i in range(n)], pa.int32()),
        "departures_1h": [i % 7 for i in range(n)],
        "dep_delay_avg_1h": [None if i % 11 == 0 else i / 4 for i in range(n)],
        "cancelled_1h": [i % 2 for i in range(n)],
        "status": [("normal", "delayed", "ground_stop")[i % 3] for i in range(n)],
    })  # fmt: skip


def test_pushed_rows_train_like_the_same_rows_from_a_job(
    tmp_path: Path, redis_server: LocalRedis
) -> None:
    repo = copy_project(tmp_path)
    feed = _feed(200)
    pq.write_table(feed, tmp_path / "data" / "raw" / "status_feed.parquet")
    header = (repo.parent / "ingestion" / "jobs" / "departure_status.push").read_text()
    header = header.replace("name: departure_status", "name: departure_status_batch")
    header = header.replace("-- start", "-- x").split("\n--\n")[0]
    job = f"{header}\n-- start: 2013-01-01\nSELECT * FROM status_feed\n"
    (repo.parent / "ingestion" / "jobs" / "departure_status_batch.sql").write_text(job)
    project_file = tmp_path / "featurestore.yaml"
    project_file.write_text(project_file.read_text() + (
        "  status_feed:\n    format: parquet\n    path: data/raw/status_feed.parquet\n"
    ))  # fmt: skip
    (repo / "batch_status.py").write_text(
        "from datetime import timedelta\nfrom pathlib import Path\n"
        "from entities import airport, carrier\n"
        "from featurestore.definitions import job_feature_view\n"
        "departure_status_batch = job_feature_view('departure_status_batch', "
        "repo_path=Path(__file__).resolve().parent, entities=[carrier, airport], "
        "ttl=timedelta(hours=2))\n"
    )
    project = Project.for_repo(repo, redis_url=f"redis://127.0.0.1:{redis_server.port}/11")
    [result] = run_jobs(project, ["departure_status_batch"], start=datetime(2013, 1, 1, tzinfo=UTC),
                        end=datetime(2013, 1, 6, tzinfo=UTC))  # fmt: skip
    assert (result.status, result.rows) == ("success", 200), result.error
    applied = feast_cli(repo, project.redis_url, "apply")
    assert applied.returncode == 0, applied.stderr
    service = PushService.for_project(project)
    for start in range(0, feed.num_rows, 64):
        service.push("departure_status_push", feed.slice(start, 64), to="offline")
    service.close()
    compact(project, find_push("departure_status", project.jobs_dir))

    entities = pd.DataFrame({
        "carrier": [("UA", "AA", "B6", "DL", "ZZ")[i % 5] for i in range(300)],
        "origin": [("EWR", "JFK", "LGA")[i % 3] for i in range(300)],
        "event_timestamp": pd.to_datetime(
            [datetime(2013, 1, 1 + i // 80, (i * 7) % 24, 30, tzinfo=UTC) for i in range(300)]),
    })  # fmt: skip
    store = open_store(project)

    def training(view: str) -> pd.DataFrame:
        frame = store.get_historical_features(
            entity_df=entities, features=[f"{view}:{f}" for f in FEATURES]
        ).to_df()
        return frame.sort_values(["carrier", "origin", "event_timestamp"]).reset_index(drop=True)

    pushed, batch = training("departure_status"), training("departure_status_batch")
    assert len(pushed) == 300
    assert pushed[FEATURES].notna().any(axis=None)
    pd.testing.assert_frame_equal(pushed, batch)
