"""Online feature lookups: Feast's ``/get-online-features`` and a row-major route per model."""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from api.body import read_json
from api.deps import AppMetrics, Limits, Lookup
from api.schemas import (
    ErrorResponse,
    GetOnlineFeaturesRequest,
    GetOnlineFeaturesResponse,
    RecordsRequest,
    RecordsResponse,
)
from featurestore.errors import FeatureStoreError, InvalidRequestError, OnlineStoreUnavailableError
from featurestore.online import AsyncOnlineLookup
from featurestore.online.lookup import Prepared

router = APIRouter(tags=["online"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown feature service"},
    413: {"model": ErrorResponse, "description": "Request body larger than the limit"},
    422: {"model": ErrorResponse, "description": "Invalid request (names the problem)"},
    503: {"model": ErrorResponse, "description": "The online store is unavailable"},
}


def _body_schema(model: type[Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def _json(document: Any) -> Response:
    return Response(orjson.dumps(document), media_type="application/json")


def _parse_lookup(body: Any) -> tuple[Any, list[str] | None, str | None, bool]:
    if not isinstance(body, dict):
        raise InvalidRequestError("the body must be a JSON object")
    if "entities" not in body:
        raise InvalidRequestError("entities: field required")
    features = body.get("features") or None
    if features is not None and not (
        isinstance(features, list) and all(isinstance(f, str) for f in features)
    ):
        raise InvalidRequestError("features: must be a list of 'view:feature' strings")
    service = body.get("feature_service")
    if service is not None and not isinstance(service, str):
        raise InvalidRequestError("feature_service: must be a string")
    full = body.get("full_feature_names", False)
    if not isinstance(full, bool):
        raise InvalidRequestError("full_feature_names: must be true or false")
    return body["entities"], features, service, full


async def _read(
    lookup: AsyncOnlineLookup, metrics: AppMetrics, prepared: Prepared, label: str
) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        document = await lookup.read(prepared)
    except OnlineStoreUnavailableError:
        metrics.redis_errors.inc()
        metrics.lookups.labels(label, "redis_error").inc()
        raise
    metrics.lookup_latency.labels(label).observe(time.perf_counter() - start)
    metrics.lookups.labels(label, "ok").inc()
    metrics.entities.observe(prepared.count)
    return document


def _prepare(
    lookup: AsyncOnlineLookup,
    metrics: AppMetrics,
    entities: Any,
    features: list[str] | None,
    service: str | None,
    full: bool,
) -> Prepared:
    try:
        return lookup.prepare(entities, features, service, full)
    except FeatureStoreError:
        known = service is not None and service in lookup.registry.snapshot.services
        metrics.lookups.labels(service if known else "", "invalid").inc()
        raise


@router.post(
    "/get-online-features",
    responses={200: {"model": GetOnlineFeaturesResponse}, **_ERRORS},
    openapi_extra=_body_schema(GetOnlineFeaturesRequest),
    summary="Latest feature values for a list of entities (Feast's feature-server format)",
)
async def get_online_features(
    request: Request, lookup: Lookup, metrics: AppMetrics, limits: Limits
) -> Response:
    """Give `features` ('view:feature', answered in that order) or `feature_service`.
    Statuses: PRESENT, NULL_VALUE (stored null), NOT_FOUND (no row for the entity),
    OUTSIDE_MAX_AGE (row older than the view's TTL; its value is still returned)."""
    entities, features, service, full = _parse_lookup(
        await read_json(request, limits.max_body_bytes)
    )
    prepared = _prepare(lookup, metrics, entities, features, service, full)
    return _json(await _read(lookup, metrics, prepared, service or ""))


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
    openapi_extra=_body_schema(RecordsRequest),
    summary="A model's features as one record per entity",
)
async def feature_service_records(
    name: str, request: Request, lookup: Lookup, metrics: AppMetrics, limits: Limits
) -> Response:
    """The features of feature service `name`, row-major: `records[i]` maps each entity
    column and feature to its value for entity `i`; `statuses[i]` gives each feature's status."""
    body = await read_json(request, limits.max_body_bytes)
    if not isinstance(body, dict) or "entities" not in body:
        raise InvalidRequestError("the body must be a JSON object with 'entities'")
    full = body.get("full_feature_names", False)
    if not isinstance(full, bool):
        raise InvalidRequestError("full_feature_names: must be true or false")
    prepared = _prepare(lookup, metrics, _columns(body["entities"]), None, name, full)
    document = await _read(lookup, metrics, prepared, name)
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
        {"feature_service": name, "feature_names": names, "records": records, "statuses": statuses}
    )
