"""One table from exception type to HTTP status, one handler, one JSON error shape.

Every error body is ``{"detail": "<what is wrong>", "code": "<machine-readable code>"}``.
Unknown exceptions are logged and answered with a generic 500 that leaks nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.log_throttle import LogThrottle
from featurestore.errors import (
    ConfigError,
    FeatureStoreError,
    MonitorError,
    OnlineStoreUnavailableError,
    RequestError,
    RequestTooLargeError,
    ServerBusyError,
    UnknownFeatureServiceError,
    UnknownObjectError,
)

logger = logging.getLogger(__name__)
throttled = LogThrottle(logger)  # an outage fails every request alike: a line per 10 s

# First match wins: subclasses before their bases.
STATUS_BY_ERROR: list[tuple[type[Exception], int]] = [
    (UnknownFeatureServiceError, 404),
    (UnknownObjectError, 404),
    (RequestTooLargeError, 413),
    (RequestError, 422),
    (MonitorError, 422),  # a window with no rows, a window it cannot read
    (OnlineStoreUnavailableError, 503),
    (ServerBusyError, 503),
    (ConfigError, 500),
    (redis.exceptions.ConnectionError, 503),
    (redis.exceptions.TimeoutError, 503),
]


def error_response(
    status: int, detail: str, code: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def describe_error(exc: Exception) -> tuple[int, dict[str, str]] | None:
    """(status, body) of a known error; None for anything else (a bug: answer 500)."""
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            if isinstance(exc, ServerBusyError):
                throttled.warning("%s", exc)
                return status, {"detail": str(exc), "code": exc.code}
            if status == 503:
                throttled.warning("online store unavailable: %s", exc)
                detail = "the online store (Redis) is unavailable"
                return status, {"detail": detail, "code": "online_store_unavailable"}
            if status >= 500:
                throttled.error("server misconfigured: %s", exc)
                return status, {"detail": "server misconfigured", "code": "config_error"}
            if isinstance(exc, FeatureStoreError):
                return status, {"detail": str(exc), "code": exc.code}
    return None


async def _handle_known(request: Request, exc: Exception) -> JSONResponse:
    described = describe_error(exc)
    if described is None:
        return await _handle_unknown(request, exc)
    status, body = described
    return JSONResponse(body, status_code=status)


async def _handle_unknown(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal server error", "internal_error")


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return error_response(422, "; ".join(problems) or "invalid request", "invalid_request")


async def _handle_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    # Starlette's 405 names the allowed methods in an ``Allow`` header (RFC 9110): keep it.
    return error_response(exc.status_code, str(exc.detail), code, exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    for error_type, _ in STATUS_BY_ERROR:
        app.add_exception_handler(error_type, _handle_known)
    app.add_exception_handler(FeatureStoreError, _handle_known)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(HTTPException, _handle_http)
    app.add_exception_handler(Exception, _handle_unknown)
