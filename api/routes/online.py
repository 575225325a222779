"""Online feature lookups: Feast's ``/get-online-features`` and a row-major route per model."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from api.body import read_json
from api.deps import AppMetrics, Limits, Lookup
from api.lookups import STALE_HEADER, lookup_document, prepare, read, stale_views
from api.schemas import (
    ErrorResponse,
    GetOnlineFeaturesRequest,
    GetOnlineFeaturesResponse,
    RecordsRequest,
    RecordsResponse,
    request_body,
)
from featurestore.errors import InvalidRequestError

router = APIRouter(tags=["online"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown feature service"},
    413: {"model": ErrorResponse, "description": "Request body larger than the limit"},
    422: {"model": ErrorResponse, "description": "Invalid request (names the problem)"},
    503: {"model": ErrorResponse, "description": "The online store is unavailable"},
}


def _json(document: Any, stale: str = "") -> Response:
    headers = {STALE_HEADER: stale} if stale else None
    return Response(orjson.dumps(document), media_type="application/json", headers=headers)


@router.post(
    "/get-online-features",
    responses={200: {"model": GetOnlineFeaturesResponse}, **_ERRORS},
    openapi_extra=request_body(GetOnlineFeaturesRequest),
    summary="Latest feature values for a list of entities (Feast's feature-server format)",
)
async def get_online_features(
    request: Request, lookup: Lookup, metrics: AppMetrics, limits: Limits
) -> Response:
    """Served by `api.fastpath` (same code, no framework overhead); documented here.

    Give `features` ('view:feature', answered in that order) or `feature_service`.
    Statuses: PRESENT, NULL_VALUE (stored null), NOT_FOUND (no row for the entity),
    OUTSIDE_MAX_AGE (row older than the view's TTL; its value is still returned).
    With `FEATURESTORE_STALE_HEADER=1`, the `x-featurestore-stale` header lists the
    requested feature views past their freshness objective (absent when none is)."""
    body = await read_json(request, limits.max_body_bytes)
    return _json(await lookup_document(lookup, metrics, body))


def _columns(entities: Any) -> Any:
    """Row-major entities (a list of objects) as the column-major form lookups take."""
    if not isinstance(entities, list):
        return entities
    if not entities or not all(isinstance(row, dict) for row in entities):
        raise InvalidRequestError("entities: must be a non-empty list of objects or of columns")
    keys = list(entities[0])
    for index, row in enumerate(entities):
        if list(row) != keys and set(row) != set(keys):
            raise InvalidRequestError(
                f"entities[{index}] has keys {sorted(row)}, entities[0] has {sorted(keys)}"
            )
    return {key: [row[key] for row in entities] for key in keys}


@router.post(
    "/feature-services/{name}/online",
    responses={200: {"model": RecordsResponse}, **_ERRORS},
    openapi_extra=request_body(RecordsRequest),
    summary="A model's features as one record per entity",
)
async def feature_service_records(
    name: str, request: Request, lookup: Lookup, metrics: AppMetrics, limits: Limits
) -> Response:
    """The features of feature service `name`, row-major: `records[i]` maps each entity
    column and feature to its value for entity `i`; `statuses[i]` gives each feature's status.

    With `FEATURESTORE_STALE_HEADER=1`, the `x-featurestore-stale` header lists the
    service's feature views past their freshness objective (absent when none is)."""
    body = await read_json(request, limits.max_body_bytes)
    if not isinstance(body, dict) or "entities" not in body:
        raise InvalidRequestError("the body must be a JSON object with 'entities'")
    full = body.get("full_feature_names", False)
    if not isinstance(full, bool):
        raise InvalidRequestError("full_feature_names: must be true or false")
    prepared = prepare(lookup, metrics, _columns(body["entities"]), None, name, full)
    document = await read(lookup, metrics, prepared)
    names: list[str] = document["metadata"]["feature_names"]
    results = document["results"]
    n_entities = len(prepared.entities)
    records = [
        {n: r["values"][i] for n, r in zip(names, results, strict=True)}
        for i in range(prepared.count)
    ]
    statuses = [
        {n: r["statuses"][i] for n, r in zip(names[n_entities:], results[n_entities:], strict=True)}
        for i in range(prepared.count)
    ]
    return _json(
        {"feature_service": name, "feature_names": names, "records": records, "statuses": statuses},
        stale_views(request.app.state.stale_views, prepared.plan),
    )
