"""The serving log on its own: real answers (the small online repo on a real Redis) into
real Parquet files; its queue, its files' rotation, size cap and crash leftovers."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from featurestore.errors import ConfigError
from featurestore.monitor.config import MonitorConfig, ServingLogConfig
from featurestore.monitor.serving_log import (
    ServingLog,
    log_files,
    read_log,
    registry_types,
    serving_log_config,
)
from featurestore.online import OnlineLookup, Prepared, prepare
from tests.online_repo import OnlineRepo, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis]

NOW = datetime.now(UTC) - timedelta(minutes=1)
FEATURES = ["item_stats:price", "item_stats:title"]


@pytest.fixture(scope="module")
def lookup(online_repo: OnlineRepo) -> Iterator[OnlineLookup]:  # noqa: F811
    online_repo.reset()
    online_repo.write(
        "item_stats",
        {
            "item_id": ["i1", "i2"],
            "price": [9.5, 3.25],
            "title": ["a", "b"],
            "event_timestamp": [NOW] * 2,
        },
    )
    opened = OnlineLookup.open(online_repo.settings)
    yield opened
    opened.close()


def _answer(lookup: OnlineLookup, items: list[str]) -> tuple[Prepared, dict[str, Any]]:
    """A real lookup's prepared request and answer, as the API's read_then has them."""
    entities = {"item_id": items}
    prepared = prepare(lookup.registry, entities, FEATURES, None, False)
    return prepared, lookup.get_online_features(entities, FEATURES)


def _service_answer(lookup: OnlineLookup) -> tuple[Prepared, dict[str, Any]]:
    entities: dict[str, list[Any]] = {"user_id": [1], "item_id": ["i1"]}
    prepared = prepare(lookup.registry, entities, None, "ranking_model", False)
    return prepared, lookup.get_online_features(entities, feature_service="ranking_model")


def _log(lookup: OnlineLookup, folder: Path, **options: Any) -> ServingLog:
    rate = options.pop("rate", 1.0)
    max_bytes = options.pop("max_bytes", 10**9)
    return ServingLog(folder, rate, max_bytes, registry_types(lookup.registry.store), **options)


def _rows(folder: Path, service: str | None = None) -> int:
    return sum(t.table.num_rows for t in read_log(folder, service))


def test_the_environment_overrides_the_project_rate(online_repo: OnlineRepo) -> None:  # noqa: F811
    from dataclasses import replace

    project = replace(
        online_repo.settings, monitor=MonitorConfig(serving_log=ServingLogConfig(0.5, 1000))
    )
    assert serving_log_config(project, {}) == ServingLogConfig(0.5, 1000)
    assert serving_log_config(project, {"FEATURESTORE_SERVING_LOG_RATE": "0.01"}) == (
        ServingLogConfig(0.01, 1000)
    )
    assert serving_log_config(project, {"FEATURESTORE_SERVING_LOG_RATE": ""}).sample_rate == 0.5
    for bad in ("abc", "1.5", "-0.1", "nan"):
        with pytest.raises(ConfigError, match=f"0..1, got '{bad}'"):
            serving_log_config(project, {"FEATURESTORE_SERVING_LOG_RATE": bad})


def test_rate_zero_opens_nothing(online_repo: OnlineRepo, lookup: OnlineLookup) -> None:  # noqa: F811
    assert ServingLog.open(online_repo.settings, lookup.registry.store, ServingLogConfig()) is None


def test_a_full_queue_drops_and_counts(lookup: OnlineLookup, tmp_path: Path) -> None:
    log = _log(lookup, tmp_path, queue_size=2)  # not started: nothing takes from the queue
    for item in ("i1", "i2", "i1", "i2", "i1"):
        log.offer(*_answer(lookup, [item]))  # returns at once even though the queue is full
    assert (log.queued, log.dropped) == (2, 3)
    log.close()
    assert (log.written, log.failed) == (2, 0)
    (logged,) = read_log(tmp_path, None)
    assert logged.table["entities"].combine_chunks().field("item_id").to_pylist() == ["i1", "i2"]


def test_rows_per_file_and_seconds_per_file_rotate(lookup: OnlineLookup, tmp_path: Path) -> None:
    log = _log(lookup, tmp_path, rows_per_file=4, seconds_per_file=3600)
    log.start()
    for _ in range(3):
        log.offer(*_answer(lookup, ["i1", "i2"]))  # 2 entity rows each
    assert log.flush()
    assert [_rows_of(f.path) for f in log_files(tmp_path, None)] == [4, 2]
    log.close()

    timed = tmp_path / "timed"
    log = _log(lookup, timed, seconds_per_file=0.2)
    log.start()
    log.offer(*_answer(lookup, ["i1"]))
    deadline = time.monotonic() + 10
    while not log_files(timed, None) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(log_files(timed, None)) == 1  # written by the clock, no flush
    log.close()


def _rows_of(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.read_metadata(path).num_rows)


def test_the_size_cap_deletes_the_oldest_files(lookup: OnlineLookup, tmp_path: Path) -> None:
    log = _log(lookup, tmp_path)
    log.start()
    log.offer(*_answer(lookup, ["i1"]))
    assert log.flush()
    (first,) = log_files(tmp_path, None)
    size = first.path.stat().st_size
    log.max_bytes = int(size * 3.5)  # room for three files of this size
    for round_ in range(6):  # a feature list, then a feature service, in turns
        log.offer(*(_answer(lookup, ["i2"]) if round_ % 2 else _service_answer(lookup)))
        assert log.flush()
        time.sleep(0.002)  # distinct first served_at per file
    log.close()
    kept = sorted(
        [*log_files(tmp_path, None), *log_files(tmp_path, "ranking_model")],
        key=lambda f: f.first,
    )
    assert first.path not in {f.path for f in kept}
    assert sum(f.path.stat().st_size for f in kept) <= log.max_bytes
    assert 2 <= len(kept) <= 3
    # What stays is the newest: every deleted file is older than every kept one.
    assert [int(f.path.name.rsplit("_", 1)[1].split(".")[0]) for f in kept] == list(
        range(8 - len(kept), 8)
    )


def test_the_newest_file_stays_even_past_the_cap(lookup: OnlineLookup, tmp_path: Path) -> None:
    log = _log(lookup, tmp_path, max_bytes=1)
    log.start()
    for item in ("i1", "i2"):
        log.offer(*_answer(lookup, [item]))
        assert log.flush()
    log.close()
    (kept,) = log_files(tmp_path, None)
    assert read_log(tmp_path, None)[0].table["entities"].combine_chunks().field(
        "item_id"
    ).to_pylist() == ["i2"]
    assert kept.path.name.endswith("_2.parquet")


def test_leftovers_of_a_crash(
    lookup: OnlineLookup, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "features"
    folder.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    orphan = folder / f".20260101T000000000000Z_20260101T000000000000Z_{gone.pid}_1.parquet.tmp"
    in_flight = (
        folder / f".20260101T000000000000Z_20260101T000000000000Z_{os.getpid()}_1.parquet.tmp"
    )
    orphan.write_bytes(b"PAR1 half a file")
    in_flight.write_bytes(b"PAR1 another worker's, being written")
    torn = folder / "20260101T000000000000Z_20260101T000000000000Z_1_1.parquet"
    torn.write_bytes(b"not parquet")  # a machine crash without fsync can leave this
    log = _log(lookup, tmp_path)
    log.start()
    log.offer(*_answer(lookup, ["i1"]))
    log.close()
    assert not orphan.exists()
    assert in_flight.exists()  # its process is alive: not ours to remove
    with caplog.at_level(logging.WARNING):
        (logged,) = read_log(tmp_path, None)
    assert logged.table.num_rows == 1
    assert "cannot be read" in caplog.text and torn.name in caplog.text


def test_a_window_reads_only_its_requests(lookup: OnlineLookup, tmp_path: Path) -> None:
    log = _log(lookup, tmp_path)
    log.start()
    log.offer(*_answer(lookup, ["i1"]))
    assert log.flush()
    time.sleep(0.01)
    middle = datetime.now(UTC)
    time.sleep(0.01)
    log.offer(*_answer(lookup, ["i2", "i1"]))
    log.close()
    assert _rows(tmp_path) == 3
    (after,) = read_log(tmp_path, None, start=middle)
    assert after.table.num_rows == 2
    (before,) = read_log(tmp_path, None, end=middle)
    assert before.table.num_rows == 1
    assert log_files(tmp_path, None, start=middle, end=middle + timedelta(days=1))[0].first > middle
    assert read_log(tmp_path, None, start=middle + timedelta(days=1)) == []


def test_the_rate_samples_that_share(lookup: OnlineLookup, tmp_path: Path) -> None:
    log = _log(lookup, tmp_path, rate=0.25, queue_size=10_000)
    answer = _answer(lookup, ["i1"])
    for _ in range(4000):
        log.offer(*answer)
    assert 800 < log.queued < 1200  # binomial: mean 1000, sd 27
    log.close()
    assert _rows(tmp_path) == log.queued == log.written


def test_a_sample_that_cannot_be_converted_is_counted_not_fatal(
    lookup: OnlineLookup, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = _log(lookup, tmp_path, rows_per_file=1)
    log.start()
    prepared, answer = _answer(lookup, ["i1"])
    wrong_type = {**answer, "results": [*answer["results"]]}
    wrong_type["results"][1] = {**answer["results"][1], "values": ["not a price"]}
    with caplog.at_level(logging.ERROR):
        log.offer(prepared, {"results": []})  # not an answer
        log.offer(prepared, wrong_type)  # not the feature's type
        log.offer(*_answer(lookup, ["i2"]))
        log.close()
    assert (log.queued, log.failed, log.written) == (3, 2, 1)
    assert "could not be converted" in caplog.text
    assert _rows(tmp_path) == 1
    assert len(log_files(tmp_path, None)) == 1  # no empty file for the lost one
