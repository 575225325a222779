"""Liveness (``/health``, always answers while the process runs) and readiness (``/ready``)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import Lookup
from api.schemas import ReadyResponse
from featurestore.errors import OnlineStoreUnavailableError

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=ReadyResponse,
    responses={503: {"model": ReadyResponse, "description": "Redis or the registry is not usable"}},
    summary="Readiness: Redis answers and the registry was loaded",
)
async def ready(lookup: Lookup, response: Response) -> ReadyResponse:
    try:
        await lookup.ping()
        redis_state = "ok"
    except OnlineStoreUnavailableError as exc:
        redis_state = exc.reason
    registry = lookup.registry
    registry_state = "ok" if registry.last_error is None else registry.last_error
    if registry_state == "ok" and not registry.snapshot.views:
        registry_state = "no feature views (run feast apply)"
    is_ready = redis_state == "ok" and registry_state == "ok"
    if not is_ready:
        response.status_code = 503
    return ReadyResponse(ready=is_ready, redis=redis_state, registry=registry_state)
