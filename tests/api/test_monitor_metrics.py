"""Freshness on the API: per-view gauges at /metrics, computed off the event loop and
kept ~30 s, and the optional ``x-featurestore-stale`` header on online answers, over
real HTTP (the test client's ASGI path and the server process's inline protocol)."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api import create_app
from api.freshness_worker import FreshnessWorker
from api.settings import ApiSettings
from featurestore.errors import ConfigError
from featurestore.monitor.freshness import freshness_report
from featurestore.monitor.model import Freshness
from featurestore.store import open_store
from tests.api_process import ApiProcess
from tests.featurestore.monitor.test_freshness import freshness_project

# freshness_project: weather_hourly fresh (1000 weeks), carrier_daily stale (2 days TTL,
# 2013 data), plane_daily and weather_raw never materialized (stale), departure_status
# never pushed nor materialized (stale, no table).
STALE = {
    "weather_hourly": 0.0, "carrier_daily": 1.0, "plane_daily": 1.0, "weather_raw": 1.0,
    "departure_status": 1.0,
}  # fmt: skip
WEATHER = {"features": ["weather_hourly:temp"], "entities": {"origin": ["JFK"]}}
BOTH = {
    "features": ["carrier_daily:flights_1d", "weather_hourly:temp"],
    "entities": {"origin": ["JFK"], "carrier": ["AA"]},
}
DELAY_ENTITIES = {"origin": ["JFK"], "carrier": ["AA"], "tailnum": ["N101XX"]}
HEADER = "x-featurestore-stale"


def gauges(text: str) -> dict[str, dict[str, float]]:
    """The freshness gauges of a scrape: metric name -> feature view -> value."""
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("featurestore_feature_"):
            values = found.setdefault(family.name, {})
            for sample in family.samples:
                values[sample.labels["feature_view"]] = sample.value
    return found


@pytest.mark.redis
def test_gauges_per_view_on_metrics(tmp_path: Path, clean_redis_url: str) -> None:
    project = freshness_project(tmp_path / "flights", clean_redis_url)
    with TestClient(create_app(project, ApiSettings())) as client:
        first = client.get("/metrics")
        second = client.get("/metrics")
        worker: FreshnessWorker = client.app.state.freshness  # type: ignore[attr-defined]
        refreshes = worker.refreshes
    assert first.status_code == 200
    assert refreshes == 1  # the second scrape, within 30 s, read the kept report
    expected = {f.view: f for f in freshness_report(project, open_store(project))}
    now = datetime.now(UTC)
    found = gauges(first.text)
    assert gauges(second.text)["featurestore_feature_stale"] == STALE
    assert found["featurestore_feature_stale"] == STALE
    objectives = {view: f.objective_seconds for view, f in expected.items()}
    assert found["featurestore_feature_freshness_objective_seconds"] == objectives
    served = found["featurestore_feature_served_age_seconds"]
    assert set(served) == {"weather_hourly", "carrier_daily"}  # the materialized ones
    for view, age in served.items():
        assert age == pytest.approx(expected[view].served_age_seconds, abs=60)
    newest = found["featurestore_feature_newest_event_age_seconds"]
    assert set(newest) == set(STALE) - {"departure_status"}  # the ones with rows offline
    assert expected["departure_status"].newest_event is None
    for view, age in newest.items():
        event = expected[view].newest_event
        assert event is not None
        assert age == pytest.approx((now - event).total_seconds(), abs=60)


@pytest.mark.redis
def test_stale_header_lists_only_stale_requested_views(
    tmp_path: Path, clean_redis_url: str
) -> None:
    project = freshness_project(tmp_path / "flights", clean_redis_url)
    with TestClient(create_app(project, ApiSettings())) as client:
        answer = client.post("/get-online-features", json=BOTH)
        assert answer.status_code == 200
        assert HEADER not in answer.headers  # off unless FEATURESTORE_STALE_HEADER=1
        records = client.post(
            "/feature-services/cancellation_model/online", json={"entities": DELAY_ENTITIES}
        )
        assert records.status_code == 200 and HEADER not in records.headers
    with TestClient(create_app(project, ApiSettings(stale_header=True))) as client:
        worker: FreshnessWorker = client.app.state.freshness  # type: ignore[attr-defined]
        refreshes = worker.refreshes
        answer = client.post("/get-online-features", json=BOTH)
        assert answer.status_code == 200
        assert answer.headers[HEADER] == "carrier_daily"
        assert answer.json()["results"][2]["values"] != [None]  # the answer is unchanged
        fresh = client.post("/get-online-features", json=WEATHER)
        assert fresh.status_code == 200 and HEADER not in fresh.headers
        service = client.post(
            "/get-online-features",
            json={"feature_service": "departure_delay_model", "entities": DELAY_ENTITIES},
        )
        assert service.headers[HEADER] == "carrier_daily,plane_daily"
        records = client.post(
            "/feature-services/cancellation_model/online", json={"entities": DELAY_ENTITIES}
        )
        assert records.status_code == 200 and records.headers[HEADER] == "carrier_daily"
        unknown = client.post(
            "/get-online-features",
            json={"features": ["carrier_daily:nope"], "entities": {"carrier": ["AA"]}},
        )
        assert unknown.status_code == 422 and HEADER not in unknown.headers
        for _ in range(20):
            client.post("/get-online-features", json=BOTH)
        assert worker.refreshes == refreshes  # answers never compute freshness


@pytest.mark.redis
def test_stale_header_from_the_server_process(tmp_path: Path, clean_redis_url: str) -> None:
    """``featurestore serve``'s own protocol answers lookups inline: the same header."""
    project = freshness_project(tmp_path / "flights", clean_redis_url)
    env = {"FEATURESTORE_STALE_HEADER": "1"}
    with ApiProcess(project, tmp_path / "api.log", env) as api:
        answer = httpx.post(f"{api.url}/get-online-features", json=BOTH, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.headers[HEADER] == "carrier_daily"
        fresh = httpx.post(f"{api.url}/get-online-features", json=WEATHER, timeout=10)
        assert fresh.status_code == 200 and HEADER not in fresh.headers
        scraped = httpx.get(f"{api.url}/metrics", timeout=30)
    assert gauges(scraped.text)["featurestore_feature_stale"] == STALE


def test_stale_header_setting() -> None:
    assert not ApiSettings.from_env({}).stale_header
    assert ApiSettings.from_env({"FEATURESTORE_STALE_HEADER": "1"}).stale_header
    assert not ApiSettings.from_env({"FEATURESTORE_STALE_HEADER": "0"}).stale_header
    with pytest.raises(ConfigError, match="FEATURESTORE_STALE_HEADER must be 1 or 0"):
        ApiSettings.from_env({"FEATURESTORE_STALE_HEADER": "maybe"})


# -- the worker: a report kept max_age seconds, refreshed off the event loop -----------


def _report(now: datetime, served: float = 10.0) -> list[Freshness]:
    newest = now - timedelta(seconds=served)
    return [
        Freshness("v", now, 60.0, newest, newest, served, False, "ttl"),
        Freshness("w", now, 60.0, newest, None, None, True, "ttl", "never materialized"),
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_slow_refresh_never_blocks_the_loop_and_is_shared() -> None:
    release = threading.Event()
    calls: list[datetime] = []

    def slow(now: datetime) -> list[Freshness]:
        calls.append(now)
        release.wait(30)
        return _report(now)

    worker = FreshnessWorker(slow, max_age=30.0, wait=30.0)

    async def main() -> list[list[Freshness] | None]:
        scrapes = [asyncio.create_task(worker.current()) for _ in range(4)]
        started = time.monotonic()
        for _ in range(20):  # the loop keeps running while the refresh waits
            await asyncio.sleep(0.01)
        assert time.monotonic() - started < 5
        assert not any(scrape.done() for scrape in scrapes)
        release.set()
        return await asyncio.wait_for(asyncio.gather(*scrapes), 30)

    try:
        reports = asyncio.run(main())
    finally:
        release.set()
        worker.close()
    assert len(calls) == 1  # four scrapes, one refresh
    assert all(report is not None and [f.view for f in report] == ["v", "w"] for report in reports)
    assert worker.stale == {"w"}


def test_kept_for_max_age_then_refreshed_and_a_hung_refresh_is_waited_for_at_most_wait() -> None:
    clock = Clock()
    hang = threading.Event()
    calls: list[datetime] = []

    def compute(now: datetime) -> list[Freshness]:
        calls.append(now)
        if len(calls) == 3:
            hang.wait(30)
        if len(calls) == 4:
            raise OSError("the disk went away")
        return _report(now)

    worker = FreshnessWorker(compute, max_age=30.0, wait=0.2, clock=clock)

    async def main() -> None:
        first = await worker.current()
        assert first is not None and len(calls) == 1
        clock.now = 29.0
        await worker.current()
        assert len(calls) == 1  # kept
        clock.now = 30.0
        later = await worker.current()
        assert len(calls) == 2 and later is not None
        # Ages are those of the time of asking: the report moved to now.
        await asyncio.sleep(0.05)
        moved = await worker.current()
        assert moved is not None and moved[0].served_age_seconds is not None
        assert moved[0].served_age_seconds > later[0].served_age_seconds  # type: ignore[operator]
        clock.now = 60.0
        started = time.monotonic()
        kept = await worker.current()  # the third refresh hangs: the last report, in ~wait
        assert time.monotonic() - started < 5
        assert kept is not None and len(calls) == 3
        hang.set()
        for _ in range(100):
            if worker.refreshes == 3:
                break
            await asyncio.sleep(0.02)
        clock.now = 120.0
        failed = await worker.current()  # the fourth fails: the last report stays
        assert failed is not None and worker.last_error == "OSError: the disk went away"
        assert worker.refreshes == 3

    try:
        asyncio.run(main())
    finally:
        hang.set()
        worker.close()


def test_the_stale_set_follows_the_clock_between_refreshes() -> None:
    """With the header on, a view that passes its objective is stale within a tick,
    without a refresh (the report's times moved to now)."""
    calls: list[datetime] = []

    def compute(now: datetime) -> list[Freshness]:
        calls.append(now)
        return _report(now, served=59.5)  # "v" passes its 60 s objective in half a second

    worker = FreshnessWorker(compute, max_age=3600.0)

    async def main() -> None:
        await worker.current()
        assert worker.stale == {"w"}
        worker.start(tick=0.05)
        for _ in range(100):
            if "v" in worker.stale:
                break
            await asyncio.sleep(0.05)
        await worker.stop()

    try:
        asyncio.run(main())
    finally:
        worker.close()
    assert worker.stale == {"v", "w"} and len(calls) == 1
