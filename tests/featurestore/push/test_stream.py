"""The Redis Stream consumer: rows in, bad entries dead-lettered, acknowledged after the
write, pending entries of a dead consumer taken over."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from featurestore.project import Project
from featurestore.push.service import PushService
from featurestore.push.stream import StreamConsumer
from tests.push_project import SOURCE

STREAM = "departures"


def _entry(carrier: str, hour: object = 5, delay: object = 2.5) -> dict[str, object]:
    return {"carrier": carrier, "origin": "EWR", "event_timestamp": "2013-01-01T05:00:00Z",
            "hour": str(hour), "departures_1h": "3", "dep_delay_avg_1h": str(delay),
            "cancelled_1h": "0", "status": "normal"}  # fmt: skip


def _hashes(db: redis.Redis) -> list[bytes]:
    return list(db.scan_iter(_type="HASH"))


@pytest.fixture
def service(push_project: Project) -> Iterator[PushService]:
    svc = PushService.for_project(push_project)
    yield svc
    svc.close()


def _consumer(service: PushService, name: str = "c1", **kwargs: object) -> StreamConsumer:
    return StreamConsumer(service, service.online.client, STREAM, SOURCE, consumer=name,
                          block_ms=50, **kwargs)  # type: ignore[arg-type]  # fmt: skip


def test_rows_are_written_bad_entries_dead_lettered_all_acknowledged(
    service: PushService, db: redis.Redis
) -> None:
    db.xadd(STREAM, _entry("UA"))
    db.xadd(STREAM, _entry("AA", hour=77))  # breaks hour <= 23
    db.xadd(STREAM, _entry("B6", delay=3))  # an int for the DOUBLE: refused by the header
    db.xadd(STREAM, {"carrier": "DL", "colour": "red"})  # not a row of the source
    consumer = _consumer(service)
    consumer.ensure_group()
    assert consumer.poll() == 4
    assert consumer.stats.pushed == 1 and consumer.stats.dead == 3
    reasons = sorted(f[b"_reason"].decode() for _, f in db.xrange(f"{STREAM}:dead"))
    assert reasons[0] == "breaks 'dep_delay_avg_1h is DOUBLE'"
    assert reasons[1] == "breaks 'hour <= 23'"
    assert reasons[2].startswith("unknown column 'colour'")
    assert db.xpending(STREAM, "featurestore")["pending"] == 0
    assert consumer.update_lag() == 0
    assert service.stream_lag[(STREAM, "featurestore")] == 0
    assert len(_hashes(db)) == 1


def test_a_dead_consumers_pending_entries_are_taken_over(
    service: PushService, db: redis.Redis
) -> None:
    first = _consumer(service, "gone")
    first.ensure_group()
    db.xadd(STREAM, _entry("UA"))
    db.xadd(STREAM, _entry("AA"))
    # "gone" read them and died before writing: delivered, never acknowledged
    db.xreadgroup("featurestore", "gone", {STREAM: ">"}, count=10)
    assert db.xpending(STREAM, "featurestore")["pending"] == 2
    restarted = _consumer(service, "new-name", claim_idle_ms=0)
    assert restarted.claim_abandoned() == 2
    assert db.xpending(STREAM, "featurestore")["pending"] == 0
    assert len(_hashes(db)) == 2


def test_a_failed_write_is_not_acknowledged_and_is_retried(
    service: PushService, db: redis.Redis, push_project: Project
) -> None:
    consumer = _consumer(service)
    consumer.ensure_group()
    db.xadd(STREAM, _entry("UA"))
    real = service.push
    failures = iter([OSError("disk full")])

    def failing(*args: object, **kwargs: object) -> object:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(*args, **kwargs)  # type: ignore[arg-type]

    service.push = failing  # type: ignore[method-assign]
    with pytest.raises(OSError):
        consumer.poll()
    assert db.xpending(STREAM, "featurestore")["pending"] == 1
    assert consumer.poll() == 1  # its own pending entry, read again first
    assert db.xpending(STREAM, "featurestore")["pending"] == 0


def test_run_consumes_until_stopped(service: PushService, db: redis.Redis) -> None:
    consumer = _consumer(service)
    thread = threading.Thread(target=consumer.run)
    thread.start()
    for i in range(20):
        db.xadd(STREAM, _entry(f"C{i}"))
    deadline = threading.Event()
    for _ in range(100):
        if consumer.stats.pushed == 20:
            break
        deadline.wait(0.05)
    consumer.stop()
    thread.join(5)
    assert consumer.stats.pushed == 20
