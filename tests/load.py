"""A fixed-rate HTTP load from a background thread, for the fault and soak tests.

``Load(url, mix, rate)`` sends one request every ``1/rate`` seconds (cycling through
``mix``), each on a pooled keep-alive connection, whatever the server's answers take, up
to ``concurrency`` in flight; a request that would exceed that is recorded as
``skipped`` (the server is too slow for the rate), never queued. Each request's outcome
is a ``Sample``: when it was sent, its kind, its status (or the client-side error: a
timeout is a hung connection) and how long it took.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class Call:
    kind: str  # the figures' label, e.g. "lookup 10"
    method: str
    path: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    sent: float  # time.monotonic()
    kind: str
    status: int | str  # HTTP status, or "timeout" / "error: ..." / "skipped"
    seconds: float
    body: bytes = b""
    call: Call | None = None


class Load:
    def __init__(
        self,
        url: str,
        mix: Sequence[Call] | Callable[[int], Call],
        rate: float,
        *,
        concurrency: int = 64,
        timeout: float = 10.0,
        keep_bodies: bool = False,
    ) -> None:
        self.url = url
        self.next_call: Callable[[int], Call] = (
            mix if callable(mix) else (lambda i: mix[i % len(mix)])  # type: ignore[index]
        )
        self.rate = rate
        self.concurrency = concurrency
        self.timeout = timeout
        self.keep_bodies = keep_bodies
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[Sample]:
        self._stop.set()
        self._thread.join(self.timeout + 30)
        return self.samples

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in list(self.samples) if start <= s.sent < end]

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(
            base_url=self.url, limits=limits, timeout=self.timeout
        ) as client:
            in_flight: set[asyncio.Task[None]] = set()
            begin = time.monotonic()
            i = 0
            while not self._stop.is_set():
                due = begin + i / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                call = self.next_call(i)
                i += 1
                if len(in_flight) >= self.concurrency:
                    self.samples.append(Sample(time.monotonic(), call.kind, "skipped", 0.0))
                    continue
                task = asyncio.create_task(self._send(client, call))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if in_flight:
                await asyncio.wait(in_flight)

    async def _send(self, client: httpx.AsyncClient, call: Call) -> None:
        sent = time.monotonic()
        status: int | str
        body = b""
        try:
            answer = await client.request(
                call.method, call.path, json=call.body, headers=call.headers
            )
            status = answer.status_code
            body = answer.content if self.keep_bodies else b""
        except httpx.TimeoutException:
            status = "timeout"
        except httpx.HTTPError as exc:
            status = f"error: {type(exc).__name__}"
        self.samples.append(Sample(sent, call.kind, status, time.monotonic() - sent, body, call))
