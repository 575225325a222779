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

With ``FEATURESTORE_STALE_HEADER=1`` (the app's ``state.stale_views``), an answer whose
requested views include some past their freshness objective names them in
``x-featurestore-stale`` (``api.lookups.stale_views``: set lookups, no I/O).
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import describe_error
from api.lookups import STALE_HEADER, prepare_body, read_then, stale_views
from api.metrics import Metrics
from featurestore.errors import InvalidRequestError, RequestTooLargeError
from featurestore.online import AsyncOnlineLookup

if TYPE_CHECKING:
    from api.freshness_worker import FreshnessWorker

logger = logging.getLogger(__name__)

PATH = "/get-online-features"
_ROUTE = SimpleNamespace(path=PATH)  # what the metrics middleware labels the request with
_JSON_HEADERS = [(b"content-type", b"application/json")]
_STALE = STALE_HEADER.encode()


class Answered(Protocol):
    """Where an answer goes: status, JSON body, and the stale views ("" for none)."""

    def __call__(self, status: int, payload: bytes, stale: str = "") -> None: ...


def error_answer(exc: Exception) -> tuple[int, bytes]:
    """(status, JSON body) of a failed lookup: the one error shape, 500 for the unknown."""
    described = describe_error(exc)
    if described is None:
        logger.error("unhandled error on POST %s", PATH, exc_info=exc)
        described = (500, {"detail": "internal server error", "code": "internal_error"})
    return described[0], orjson.dumps(described[1])


def answer_then(
    lookup: AsyncOnlineLookup,
    metrics: Metrics,
    body: bytes,
    done: Answered,
    freshness: FreshnessWorker | None = None,
) -> None:
    """(status, JSON body, stale views) of one ``/get-online-features`` request body, to
    ``done``: what both this middleware and the inline route of ``api.protocol`` send.
    Stale views are named only with ``freshness`` (the header on)."""
    try:
        prepared = prepare_body(lookup, metrics, orjson.loads(body))
    except orjson.JSONDecodeError as exc:
        done(*error_answer(InvalidRequestError(f"the body is not valid JSON: {exc}")))
        return
    except Exception as exc:
        done(*error_answer(exc))
        return
    stale = "" if freshness is None else stale_views(freshness, prepared.plan)

    def finished(result: dict[str, Any] | Exception) -> None:
        if isinstance(result, Exception):
            done(*error_answer(result))
            return
        try:
            payload = orjson.dumps(result)
        except Exception as exc:
            done(*error_answer(exc))
            return
        done(200, payload, stale)

    read_then(lookup, metrics, prepared, finished)


async def answer(
    lookup: AsyncOnlineLookup,
    metrics: Metrics,
    body: bytes,
    freshness: FreshnessWorker | None = None,
) -> tuple[int, bytes, str]:
    future: asyncio.Future[tuple[int, bytes, str]] = asyncio.get_running_loop().create_future()

    def done(status: int, payload: bytes, stale: str = "") -> None:
        future.set_result((status, payload, stale))

    answer_then(lookup, metrics, body, done, freshness)
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
        stale = ""
        try:
            body = await self._body(scope, receive)
        except Exception as exc:
            status, payload = error_answer(exc)
        else:
            status, payload, stale = await answer(
                state.lookup, state.metrics, body, state.stale_views
            )
        headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
        if stale:
            headers.append((_STALE, stale.encode()))
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
