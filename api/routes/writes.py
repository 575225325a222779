"""The write endpoints: ``/push`` and ``/write-to-online-store`` (Feast's wire format).

The body is read with the API's size limit (``FEATURESTORE_MAX_BODY_BYTES``, 413 past it)
and its fields checked here (Feast's request: ``push_source_name`` or
``feature_view_name``, ``df`` as columns, ``to``; and ours: ``on_bad_rows``). The write
itself (``featurestore.push.service``: rows checked, logged offline when asked, written
to Redis) runs in the writes' own threads (``api.write_pool``: at most
``FEATURESTORE_WRITE_THREADS`` at once, 503 ``server_busy`` past that), so lookups keep
being served while writes wait on Redis or the disk; the answer comes when the rows are
in Redis (and fsynced in the push log for ``to: offline`` / ``online_and_offline``).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from api.body import read_json
from api.deps import AppMetrics, Limits, Lookup, Writes
from api.schemas import (
    ErrorResponse,
    PushRequest,
    WriteResponse,
    WriteToOnlineStoreRequest,
    request_body,
)
from featurestore.errors import InvalidRequestError
from featurestore.push.service import PushService

router = APIRouter(tags=["write"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown push source or feature view"},
    413: {"model": ErrorResponse, "description": "Request body larger than the limit"},
    422: {
        "model": ErrorResponse,
        "description": "Invalid request, or rows that break a rule (`bad_rows`: each bad "
        "row, its column, rule and value; nothing written)",
    },
    503: {
        "model": ErrorResponse,
        "description": "The online store is unavailable, or every write thread is busy "
        "(`server_busy`: retry)",
    },
}
_PUSH_KEYS = {"push_source_name", "df", "to", "on_bad_rows", "allow_registry_cache"}
_PUSH_KEYS |= {"transform_on_write"}
_WRITE_KEYS = {"feature_view_name", "df", "on_bad_rows", "allow_registry_cache"}
_WRITE_KEYS |= {"transform_on_write"}


def _fields(document: Any, name_key: str, known: set[str]) -> dict[str, Any]:
    """The body's fields, checked by hand (pydantic would walk every value of ``df``)."""
    if not isinstance(document, dict):
        raise InvalidRequestError("body: expected a JSON object")
    unknown = sorted(set(document) - known)
    if unknown:
        raise InvalidRequestError(f"body: unknown field(s) {', '.join(unknown)}")
    if name_key not in document:
        raise InvalidRequestError(f"{name_key}: Field required")
    if not isinstance(document[name_key], str):
        raise InvalidRequestError(f"{name_key}: a string is expected")
    if "df" not in document:
        raise InvalidRequestError("df: Field required (column name -> list of values)")
    for key in ("to", "on_bad_rows"):
        if document.get(key) is not None and not isinstance(document[key], str):
            raise InvalidRequestError(f"{key}: a string is expected")
    for key in ("allow_registry_cache", "transform_on_write"):
        if key in document and not isinstance(document[key], bool):
            raise InvalidRequestError(f"{key}: true or false is expected")
    return document


def _service(request: Request) -> PushService:
    service: PushService = request.app.state.push
    return service


@router.post(
    "/push",
    responses=_ERRORS,
    openapi_extra=request_body(PushRequest),
    summary="Push rows through a push source",
)
async def push_rows(
    request: Request, lookup: Lookup, limits: Limits, writes: Writes, metrics: AppMetrics
) -> WriteResponse:
    body = _fields(await read_json(request, limits.max_body_bytes), "push_source_name", _PUSH_KEYS)
    service = _service(request)
    source = body["push_source_name"]
    started = time.perf_counter()
    result = await writes.run(
        service.push,
        source,
        body["df"],
        body.get("to") or "online",
        body.get("on_bad_rows"),
        plans=lookup.registry.snapshot.plans,
    )
    metrics.observe_push(source, time.perf_counter() - started)
    return WriteResponse(**result.as_dict())


@router.post(
    "/write-to-online-store",
    responses=_ERRORS,
    openapi_extra=request_body(WriteToOnlineStoreRequest),
    summary="Write rows of one feature view",
)
async def write_rows(
    request: Request, lookup: Lookup, limits: Limits, writes: Writes, metrics: AppMetrics
) -> WriteResponse:
    body = _fields(
        await read_json(request, limits.max_body_bytes), "feature_view_name", _WRITE_KEYS
    )
    service = _service(request)
    view = body["feature_view_name"]
    started = time.perf_counter()
    result = await writes.run(
        service.write_to_online_store,
        view,
        body["df"],
        body.get("on_bad_rows"),
        plans=lookup.registry.snapshot.plans,
    )
    metrics.observe_push(view, time.perf_counter() - started)
    return WriteResponse(**result.as_dict())
