"""Feast's write endpoints: ``/push`` and ``/write-to-online-store`` (done by Feast)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import Lookup
from api.schemas import ErrorResponse, PushRequest, WriteToOnlineStoreRequest
from featurestore.online.writes import push, write_to_online_store

router = APIRouter(tags=["write"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown push source or feature view"},
    422: {"model": ErrorResponse, "description": "Invalid rows (names the problem)"},
    503: {"model": ErrorResponse, "description": "The online store is unavailable"},
}


@router.post("/push", responses=_ERRORS, summary="Push rows through a push source")
async def push_rows(body: PushRequest, lookup: Lookup) -> dict[str, int]:
    store = lookup.registry.store
    rows = await run_in_threadpool(push, store, body.push_source_name, body.df, body.to)
    return {"rows": rows}


@router.post("/write-to-online-store", responses=_ERRORS, summary="Write rows of one feature view")
async def write_rows(body: WriteToOnlineStoreRequest, lookup: Lookup) -> dict[str, int]:
    store = lookup.registry.store
    rows = await run_in_threadpool(write_to_online_store, store, body.feature_view_name, body.df)
    return {"rows": rows}
