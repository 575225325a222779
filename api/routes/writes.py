"""Feast's write endpoints: ``/push`` and ``/write-to-online-store`` (done by Feast).

The body is read with the API's size limit (``FEATURESTORE_MAX_BODY_BYTES``, 413 past it)
before it is parsed, then checked against Feast's request model. Feast's blocking write
runs in the writes' own threads (``api.write_pool``), never in the shared thread pool.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError

from api.body import read_json
from api.deps import Limits, Lookup, Writes
from api.schemas import ErrorResponse, PushRequest, WriteToOnlineStoreRequest, request_body
from featurestore.errors import InvalidRequestError
from featurestore.online.writes import push, write_to_online_store

router = APIRouter(tags=["write"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown push source or feature view"},
    413: {"model": ErrorResponse, "description": "Request body larger than the limit"},
    422: {"model": ErrorResponse, "description": "Invalid rows (names the problem)"},
    503: {"model": ErrorResponse, "description": "The online store is unavailable"},
}


M = TypeVar("M", bound=BaseModel)


async def _body(request: Request, limits: Limits, model: type[M]) -> M:
    document = await read_json(request, limits.max_body_bytes)
    try:
        return model.model_validate(document, strict=True)  # "true" is not a boolean
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()[:5]
        ]
        raise InvalidRequestError("; ".join(problems)) from None


@router.post(
    "/push",
    responses=_ERRORS,
    openapi_extra=request_body(PushRequest),
    summary="Push rows through a push source",
)
async def push_rows(
    request: Request, lookup: Lookup, limits: Limits, writes: Writes
) -> dict[str, int]:
    body = await _body(request, limits, PushRequest)
    store = lookup.registry.store
    rows = await writes.run(push, store, body.push_source_name, body.df, body.to)
    return {"rows": rows}


@router.post(
    "/write-to-online-store",
    responses=_ERRORS,
    openapi_extra=request_body(WriteToOnlineStoreRequest),
    summary="Write rows of one feature view",
)
async def write_rows(
    request: Request, lookup: Lookup, limits: Limits, writes: Writes
) -> dict[str, int]:
    body = await _body(request, limits, WriteToOnlineStoreRequest)
    store = lookup.registry.store
    rows = await writes.run(write_to_online_store, store, body.feature_view_name, body.df)
    return {"rows": rows}
