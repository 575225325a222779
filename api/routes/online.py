"""Online feature lookups, wire-compatible with Feast's feature server."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import Lookup
from api.schemas import ErrorResponse, GetOnlineFeaturesRequest, GetOnlineFeaturesResponse

router = APIRouter(tags=["online"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown feature service"},
    422: {"model": ErrorResponse, "description": "Invalid request (names the problem)"},
    503: {"model": ErrorResponse, "description": "The online store is unavailable"},
}


@router.post(
    "/get-online-features",
    response_model=GetOnlineFeaturesResponse,
    responses=_ERRORS,
    summary="Latest feature values for a list of entities",
)
def get_online_features(body: GetOnlineFeaturesRequest, lookup: Lookup) -> JSONResponse:
    answer = lookup.get_online_features(
        entities=body.entities,
        features=body.features,
        feature_service=body.feature_service,
        full_feature_names=body.full_feature_names,
    )
    return JSONResponse(answer)
