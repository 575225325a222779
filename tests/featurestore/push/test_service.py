"""One write through ``PushService``, on real Redis, compared with vanilla Feast's push."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
import pyarrow.parquet as pq
import pytest
import redis
from feast import FeatureStore
from feast.data_source import PushMode
from feast.repo_config import RepoConfig

from featurestore.project import Project
from featurestore.push.compact import compact
from featurestore.push.service import BadRowsError, PushService
from featurestore.push.spec import find_push
from featurestore.redis_server import LocalRedis
from featurestore.store import repo_config
from tests.push_project import SOURCE, TABLE, dump, rows

FEAST_DB = 10


@pytest.fixture
def service(push_project: Project) -> Iterator[PushService]:
    svc = PushService.for_project(push_project)
    yield svc
    svc.close()


@pytest.fixture
def vanilla(push_project: Project, redis_server: LocalRedis) -> Iterator[FeatureStore]:
    """Feast's own Redis online store on db 10, over the same registry."""
    ours = repo_config(push_project)
    config = RepoConfig(
        project=ours.project,
        provider="local",
        registry=ours.registry,
        online_store={
            "type": "redis",
            "connection_string": f"127.0.0.1:{redis_server.port},db={FEAST_DB}",
        },
        offline_store={"type": "file"},
        entity_key_serialization_version=3,
    )
    client = redis.Redis(port=redis_server.port, db=FEAST_DB)
    client.flushdb()
    yield FeatureStore(config=config, repo_path=str(push_project.repo_path))
    client.close()


def _frame(columns: dict[str, list[object]]) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
    return frame


def test_redis_holds_the_bytes_feast_push_writes(
    service: PushService, vanilla: FeatureStore, db: redis.Redis, redis_server: LocalRedis
) -> None:
    first = rows(50, start_hour=5)
    later = rows(50, start_hour=6, dep_delay_avg_1h=[float(i) for i in range(50)])
    older = rows(50, start_hour=4, status=["delayed"] * 50)  # older: written by neither
    for batch in (first, later, older):
        service.push(SOURCE, batch)
        vanilla.push(SOURCE, _frame(batch), to=PushMode.ONLINE)
    feast_db = redis.Redis(port=redis_server.port, db=FEAST_DB)
    ours, theirs = dump(db), dump(feast_db)
    feast_db.close()
    assert len(ours) == 50
    assert ours == theirs


def test_within_a_request_the_first_row_with_the_newest_time_wins_as_in_feast(
    service: PushService, vanilla: FeatureStore, db: redis.Redis, redis_server: LocalRedis
) -> None:
    batch = rows(4, carrier=["UA"] * 4, departures_1h=[1, 2, 3, 4],
                 event_timestamp=["2013-01-01T05:00:00Z", "2013-01-01T07:00:00Z",
                                  "2013-01-01T07:00:00Z", "2013-01-01T06:00:00Z"])  # fmt: skip
    result = service.push(SOURCE, batch)
    assert (result.online_written, result.online_skipped) == (1, 3)
    vanilla.push(SOURCE, _frame(batch), to=PushMode.ONLINE)
    feast_db = redis.Redis(port=redis_server.port, db=FEAST_DB)
    assert dump(db) == dump(feast_db)
    feast_db.close()


def test_an_equal_event_time_is_not_written_again(service: PushService, db: redis.Redis) -> None:
    service.push(SOURCE, rows(1))
    before = dump(db)
    again = service.push(SOURCE, rows(1, departures_1h=[99]))
    assert (again.online_written, again.online_skipped) == (0, 1)
    assert dump(db) == before


def test_reject_writes_nothing_anywhere(
    service: PushService, push_project: Project, db: redis.Redis
) -> None:
    with pytest.raises(BadRowsError) as caught:
        service.push(SOURCE, rows(3, hour=[5, 77, 6]), to="online_and_offline")
    assert "row 1: hour = 77 breaks 'hour <= 23'" in str(caught.value)
    assert db.dbsize() == 0
    assert not (push_project.layout.push_log(TABLE)).exists()
    assert service.counts[(SOURCE, "rejected")] == 1


def test_quarantine_writes_the_good_rows_and_keeps_the_bad_with_their_rule(
    service: PushService, push_project: Project, db: redis.Redis
) -> None:
    batch = rows(3, hour=[5, 77, 5], dep_delay_avg_1h=[2.5, 2.5, 3])
    result = service.push(SOURCE, batch, to="online_and_offline", on_bad_rows="quarantine")
    assert (result.rows, result.accepted, result.quarantined, result.logged) == (3, 1, 2, 1)
    assert db.dbsize() == 1  # never reached Redis: hour 77, the int for a float
    service.close()
    compacted = compact(push_project, find_push(TABLE, push_project.jobs_dir))
    assert (compacted.written, compacted.quarantined) == (1, 2)
    table = pq.read_table(push_project.layout.table(TABLE))
    assert table.column("carrier").to_pylist() == ["C0"]
    [kept] = push_project.layout.quarantine(TABLE).glob("*.parquet")
    bad = pq.read_table(kept).select(["carrier", "_rule", "_value"]).to_pylist()
    assert bad == [
        {"carrier": "C1", "_rule": "hour <= 23", "_value": "77"},
        {"carrier": "C2", "_rule": "dep_delay_avg_1h is DOUBLE", "_value": "3"},
    ]


def test_offline_rows_after_compaction_are_the_rows_pushed(
    service: PushService, push_project: Project
) -> None:
    """Feast's offline push appends the pushed frame to the batch source as it is; after
    compaction our table holds exactly those rows (values, in the declared types),
    partitioned by day."""
    batch = rows(20, start_hour=5)
    service.push(SOURCE, batch, to="offline")
    service.close()
    compact(push_project, find_push(TABLE, push_project.jobs_dir))
    ours = pq.read_table(push_project.layout.table(TABLE)).drop_columns(["partition_date"])
    expected = _frame(batch)
    expected["hour"] = expected["hour"].astype("int32")
    got = ours.to_pandas().sort_values("carrier").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got, expected.sort_values("carrier").reset_index(drop=True), check_dtype=False
    )
    assert str(got["event_timestamp"].dtype).startswith("datetime64")


def test_future_event_times_beyond_the_tolerance_are_refused(
    service: PushService, db: redis.Redis
) -> None:
    future = datetime.now(UTC).replace(year=datetime.now(UTC).year + 1).isoformat()
    with pytest.raises(BadRowsError, match="event_timestamp <= now \\+ 5m"):
        service.push(SOURCE, rows(1, event_timestamp=[future]))
    assert db.dbsize() == 0
