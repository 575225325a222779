"""An outage's 503s log a line per interval with a count, not a line per request."""

from __future__ import annotations

import logging
import re

import pytest

import api.errors
from api.errors import describe_error
from api.log_throttle import LogThrottle
from featurestore.errors import OnlineStoreUnavailableError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ten_thousand_503s_log_a_few_lines_that_count_the_rest(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(api.errors, "throttled", LogThrottle(api.errors.logger, clock=clock))
    caplog.set_level(logging.WARNING, logger="api.errors")
    for i in range(10_000):  # 25 s of an outage at 400 failed requests a second
        clock.now += 0.0025
        described = describe_error(OnlineStoreUnavailableError(f"timeout #{i}"))
        assert described is not None and described[0] == 503
    messages = [r.getMessage() for r in caplog.records if r.name == "api.errors"]
    assert 1 < len(messages) <= 4, messages
    assert messages[0] == (
        "online store unavailable: the online store (Redis) is unavailable: timeout #0"
    )
    counted = [re.search(r"\((\d+) more like this in the last 10 s\)$", m) for m in messages[1:]]
    assert all(counted), messages
    held = sum(int(match.group(1)) for match in counted if match)
    assert held + len(messages) <= 10_000  # every line or count is one failure...
    assert held + len(messages) >= 10_000 - 4000  # ...and only the last interval's wait


def test_throttle_per_message_and_after_a_quiet_spell(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    logger = logging.getLogger("tests.throttle")
    throttle = LogThrottle(logger, interval=10, clock=clock)
    caplog.set_level(logging.INFO, logger="tests.throttle")
    for _ in range(3):
        throttle.warning("redis down: %s", "x")
        throttle.error("misconfigured: %s", "y")  # another kind: its own first line
    clock.now += 60  # quiet, then the failure again: at once, with what was held back
    throttle.warning("redis down: %s", "x")
    throttle.warning("redis down: %s", "x")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "redis down: x"),
        (logging.ERROR, "misconfigured: y"),
        (logging.WARNING, "redis down: x (2 more like this in the last 60 s)"),
    ]
