"""``kill -9`` of the API while it takes writes: no acknowledged write is lost.

A write is acknowledged when its answer is a 200: by then Feast has written it to Redis,
so a crash of the API a moment later must not lose it. Each trial kills the API at a
random moment under a fixed-rate load of ``/write-to-online-store`` and ``/push`` calls
(each for its own item), starts it again, and reads every acknowledged item back over
HTTP: all are there, with the value written.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import httpx
import pytest

from featurestore.redis_server import LocalRedis
from tests.api.test_faults_under_load import _writes
from tests.api_process import ApiProcess
from tests.load import Load
from tests.online_repo import make_repo
from tests.reliability import Figures, scaled

pytestmark = [pytest.mark.redis, pytest.mark.reliability]


def _read_back(url: str, items: dict[str, float]) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    names = sorted(items)
    for first in range(0, len(names), 100):
        chunk = names[first : first + 100]
        body = {"features": ["item_stats:price"], "entities": {"item_id": chunk}}
        answer = httpx.post(f"{url}/get-online-features", json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        prices = answer.json()["results"][1]["values"]
        found.update(zip(chunk, prices, strict=True))
    return found


def test_acknowledged_writes_survive_kill_9(
    tmp_path: Path, redis_server: LocalRedis, figures: Figures
) -> None:
    trials = scaled(3, 20)
    project, _ = make_repo(tmp_path, f"redis://127.0.0.1:{redis_server.port}/3")
    chance = random.Random(13)
    acknowledged: dict[str, float] = {}
    killed_in_flight = 0
    first = 0
    for trial in range(trials):
        api = ApiProcess(project, tmp_path / f"api-{trial}.log").start()
        offset = first

        def call(i: int, offset: int = offset):  # type: ignore[no-untyped-def]
            return _writes(offset + i)

        with Load(api.url, call, rate=100.0, timeout=5.0) as load:
            time.sleep(chance.uniform(0.3, 1.5))
            api.kill()
        first += len(load.samples) + 1
        for sample in load.samples:
            df = sample.call.body["df"]
            if sample.status == 200:
                acknowledged[df["item_id"][0]] = df["price"][0]
            elif not isinstance(sample.status, int):
                killed_in_flight += 1
    with ApiProcess(project, tmp_path / "api-check.log") as api:
        found = _read_back(api.url, acknowledged)
    lost = sorted(name for name, price in acknowledged.items() if found.get(name) != price)
    figures.record(
        "kill -9",
        "API during writes",
        trials=trials,
        acknowledged=len(acknowledged),
        unanswered_at_kill=killed_in_flight,
        lost=len(lost),
    )
    assert acknowledged, "the load should get writes acknowledged before each kill"
    assert not lost, f"acknowledged writes lost: {lost[:10]}"
