"""Pure ASGI middleware (no per-request task overhead): API-key auth and request metrics."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

import orjson
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.keys import (
    READ,
    WRITE,
    WRITE_TAG,
    bearer_allowed,
    granted_scopes,
    key_digests,
    parse_api_keys,
)
from api.metrics import Metrics

__all__ = [
    "OPEN_PATHS",
    "ApiKeyAuth",
    "RequestMetrics",
    "bearer_allowed",
    "key_digests",
    "write_routes",
]

OPEN_PATHS = frozenset({"/health", "/ready"})


def write_routes(routes: Iterable[BaseRoute]) -> list[re.Pattern[str]]:
    """The path patterns of the routes tagged ``write`` (included routers' routes too):
    those need the write scope."""
    return [
        route.path_regex
        for route in iter_route_contexts(list(routes))
        if WRITE_TAG in (getattr(route, "tags", None) or ())
    ]


_UNAUTHORIZED = orjson.dumps({"detail": "missing or invalid API key", "code": "unauthorized"})


class ApiKeyAuth:
    """``Authorization: Bearer <key>`` against keys compared in constant time (``api.keys``).

    Every failure to name a key gets the same 401, so the answer says nothing about which
    keys exist; a valid key without the scope the route needs gets 403 ``forbidden``.
    ``write_routes`` are the path patterns of the routes that need the write scope; every
    other path needs the read scope, but ``/health`` and ``/ready``, which stay open.
    """

    def __init__(
        self, app: ASGIApp, keys: Iterable[str], write_routes: Iterable[re.Pattern[str]]
    ) -> None:
        self.app = app
        self.keys = parse_api_keys(keys)
        self.write_routes = list(write_routes)

    def _needs(self, path: str) -> str:
        return WRITE if any(route.match(path) for route in self.write_routes) else READ

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        granted = granted_scopes(self.keys, header)
        needed = self._needs(scope["path"])
        if needed in granted:
            await self.app(scope, receive, send)
            return
        if granted:
            status = 403
            detail = f"this API key lacks the {needed} scope this route needs"
            body = orjson.dumps({"detail": detail, "code": "forbidden"})
        else:
            status, body = 401, _UNAUTHORIZED
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
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
