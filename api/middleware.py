"""Pure ASGI middleware (no per-request task overhead): API-key auth and request metrics."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics

OPEN_PATHS = frozenset({"/health", "/ready"})


def key_digests(keys: Iterable[str]) -> list[bytes]:
    """What ``bearer_allowed`` compares against. Digests have one length, so comparing
    them reveals not even a key's length."""
    return [hashlib.sha256(key.encode()).digest() for key in keys]


def bearer_allowed(digests: list[bytes], header: bytes) -> bool:
    """Whether an ``Authorization`` header carries one of the keys, compared in constant
    time (every key, no early exit)."""
    scheme, _, token = header.partition(b" ")
    if scheme.lower() != b"bearer":
        token = b""
    digest = hashlib.sha256(token.strip()).digest()
    ok = False
    for key in digests:
        ok |= hmac.compare_digest(key, digest)
    return ok and bool(token.strip())


class ApiKeyAuth:
    """``Authorization: Bearer <key>`` against keys compared in constant time.

    Every key is compared (no early exit) and every failure gets the same 401, so the
    answer says nothing about which keys exist. ``/health`` and ``/ready`` stay open.
    """

    def __init__(self, app: ASGIApp, keys: Iterable[str]) -> None:
        self.app = app
        self.digests = key_digests(keys)

    def _allowed(self, header: bytes) -> bool:
        return bearer_allowed(self.digests, header)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        if self._allowed(header):
            await self.app(scope, receive, send)
            return
        body = orjson.dumps({"detail": "missing or invalid API key", "code": "unauthorized"})
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RequestMetrics:
    """Counts requests and observes their latency per endpoint (the route's path template)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            endpoint = getattr(scope.get("route"), "path", None) or "(unmatched)"
            self.metrics.observe_request(
                endpoint, scope["method"], status, time.perf_counter() - start
            )
