"""A redis-server of the test's own, which it can freeze.

A frozen server (SIGSTOP) keeps its port: the kernel still accepts connections and
buffers what is sent, but nothing is ever answered, as with a wedged or partitioned
Redis. Code without a Redis timeout waits until the server resumes; ``frozen`` resumes
it after ``thaw_after`` seconds at the latest, so such code returns late (and its test
fails on the elapsed time) instead of hanging the suite.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from featurestore.redis_server import LocalRedis, free_port


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[LocalRedis]:
    server = LocalRedis(workdir=tmp_path / "own-redis", port=free_port())
    server.start(daemonize=False, persist=False)
    yield server
    server.stop()


@contextmanager
def frozen(server: LocalRedis, thaw_after: float = 10.0) -> Iterator[None]:
    """``server`` stopped (SIGSTOP) for the block, resumed (SIGCONT) when it ends or after
    ``thaw_after`` seconds, whichever comes first."""
    pid = server.pid()
    assert pid is not None and server.owned(), "freeze only a server the test started"
    os.kill(pid, signal.SIGSTOP)
    thaw = threading.Timer(thaw_after, os.kill, (pid, signal.SIGCONT))
    thaw.daemon = True
    thaw.start()
    try:
        yield
    finally:
        thaw.cancel()
        os.kill(pid, signal.SIGCONT)
