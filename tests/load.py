"""A fixed-rate HTTP load from a background thread, for the fault and soak tests.

``Load(url, mix, rate)`` sends one request every ``1/rate`` seconds (cycling through
``mix``), each on a pooled keep-alive connection (``_Pool``: HTTP/1.1 over asyncio
streams), whatever the server's answers take, up to ``concurrency`` in flight; a request
that would exceed that is recorded as ``skipped`` (the server is too slow for the rate),
never queued. Each request's outcome is a ``Sample``: when it was sent, its kind, its
status (or the client-side error: a timeout is a hung connection) and how long it took.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson


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
    call: Call
    status: int | str  # HTTP status, or "timeout" / "error: ..." / "skipped"
    seconds: float
    body: bytes = b""

    @property
    def kind(self) -> str:
        return self.call.kind


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
        pool = _Pool(self.url, self.concurrency)
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
                self.samples.append(Sample(time.monotonic(), call, "skipped", 0.0))
                continue
            task = asyncio.create_task(self._send(pool, call))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight)
        pool.close()

    async def _send(self, pool: _Pool, call: Call) -> None:
        sent = time.monotonic()
        status: int | str
        body = b""
        try:
            async with asyncio.timeout(self.timeout):
                status, body = await pool.request(call)
        except TimeoutError:
            status = "timeout"
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            status = f"error: {type(exc).__name__}"
        self.samples.append(
            Sample(sent, call, status, time.monotonic() - sent, body if self.keep_bodies else b"")
        )


class _Pool:
    """Keep-alive HTTP/1.1 connections, one request at a time each: a client whose cost
    per request is a few microseconds, so that what the load measures is the server
    (httpx's pool, measured here, added seconds at 100+ connections)."""

    def __init__(self, url: str, size: int) -> None:
        parsed = urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.size = size

    async def request(self, call: Call) -> tuple[int, bytes]:
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            payload = b"" if call.body is None else orjson.dumps(call.body)
            head = [f"{call.method} {call.path} HTTP/1.1", f"host: {self.host}:{self.port}"]
            head += [f"{name}: {value}" for name, value in call.headers.items()]
            if call.body is not None:
                head += ["content-type: application/json"]
            head += [f"content-length: {len(payload)}", "", ""]
            writer.write("\r\n".join(head).encode() + payload)
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    close = True
            body = await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        if close:
            writer.close()
        else:
            self.idle.append((reader, writer))
        return status, body

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
