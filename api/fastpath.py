"""``POST /get-online-features`` served straight from ASGI, ahead of the framework.

Measured in-process (``bench/bench_serving.py`` and the profile in the README), FastAPI's
routing, dependency resolution and exception middleware cost about as much as the whole
Redis lookup of one entity. This middleware answers the hot route itself, with the same
code (``api.lookups``), the same limits, the same error shape and the same metrics; every
other route, and the OpenAPI description of this one, stay with FastAPI. It runs inside the
auth, CORS and metrics middleware, so those apply unchanged.

``FastPathApp`` goes one step further for this route: the framework's outer layers
(FastAPI's and Starlette's ``__call__``, ``ServerErrorMiddleware``, the telemetry and body
limit wrappers, which do nothing here since the fast path answers every error itself) are
skipped, and the request enters the app's own middleware directly. py-spy measured those
layers at about 7% of the server's CPU on a 1-entity lookup.

Under ``featurestore serve`` most requests to this route never reach ASGI: the server's
protocol (``api.protocol``) answers them inline with ``answer_then``. This middleware
answers the rest (and every request under another ASGI server or the test client).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import describe_error
from api.lookups import lookup_then
from api.metrics import Metrics
from featurestore.errors import InvalidRequestError, RequestTooLargeError
from featurestore.online import AsyncOnlineLookup

logger = logging.getLogger(__name__)

PATH = "/get-online-features"
_ROUTE = SimpleNamespace(path=PATH)  # what the metrics middleware labels the request with
_JSON_HEADERS = [(b"content-type", b"application/json")]


def error_answer(exc: Exception) -> tuple[int, bytes]:
    """(status, JSON body) of a failed lookup: the one error shape, 500 for the unknown."""
    described = describe_error(exc)
    if described is None:
        logger.error("unhandled error on POST %s", PATH, exc_info=exc)
        described = (500, {"detail": "internal server error", "code": "internal_error"})
    return described[0], orjson.dumps(described[1])


def answer_then(
    lookup: AsyncOnlineLookup, metrics: Metrics, body: bytes, done: Callable[[int, bytes], None]
) -> None:
    """(status, JSON body) of one ``/get-online-features`` request body, to ``done``: what
    both this middleware and the inline route of ``api.protocol`` send."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        done(*error_answer(InvalidRequestError(f"the body is not valid JSON: {exc}")))
        return

    def finished(result: dict[str, Any] | Exception) -> None:
        if isinstance(result, Exception):
            done(*error_answer(result))
            return
        try:
            payload = orjson.dumps(result)
        except Exception as exc:
            done(*error_answer(exc))
            return
        done(200, payload)

    lookup_then(lookup, metrics, parsed, finished)


async def answer(lookup: AsyncOnlineLookup, metrics: Metrics, body: bytes) -> tuple[int, bytes]:
    future: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
    answer_then(lookup, metrics, body, lambda status, payload: future.set_result((status, payload)))
    return await future


class OnlineFastPath:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTE
        state = scope["app"].state  # set by Starlette before any middleware runs
        try:
            body = await self._body(scope, receive)
        except Exception as exc:
            status, payload = error_answer(exc)
        else:
            status, payload = await answer(state.lookup, state.metrics, body)
        headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                raise RequestTooLargeError(int(value), self.limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise InvalidRequestError("the client disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise RequestTooLargeError(size, self.limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks) if len(chunks) != 1 else chunks[0]


class FastPathApp(FastAPI):
    """FastAPI, except that ``POST /get-online-features`` enters the user middleware stack
    (metrics, auth, CORS, ``OnlineFastPath``) without the framework's outer layers."""

    _fast_stack: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == PATH
            and scope["method"] == "POST"
            and getattr(self, "max_body_size", None) is None  # no framework body limit
        ):
            stack = self._fast_stack
            if stack is None:  # built on first use, after every add_middleware
                stack = self._fast_stack = self._build_fast_stack()
            scope["app"] = self
            await stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _build_fast_stack(self) -> ASGIApp:
        app: ASGIApp = self.router
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app
