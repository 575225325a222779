"""The lookup behind ``/get-online-features``: body -> validated request -> Redis -> document.

Shared by the FastAPI route (which documents it in OpenAPI) and ``api.fastpath`` (which
serves it without the framework's per-request machinery).
"""

from __future__ import annotations

import time
from typing import Any

from api.metrics import Metrics
from featurestore.errors import FeatureStoreError, InvalidRequestError, OnlineStoreUnavailableError
from featurestore.online import AsyncOnlineLookup, Prepared


def parse_lookup(body: Any) -> tuple[Any, list[str] | None, str | None, bool]:
    """(entities, features, feature_service, full_feature_names) of a Feast request body."""
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


def prepare(
    lookup: AsyncOnlineLookup,
    metrics: Metrics,
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


async def read(lookup: AsyncOnlineLookup, metrics: Metrics, prepared: Prepared) -> dict[str, Any]:
    label = prepared.plan.feature_service or ""
    start = time.perf_counter()
    try:
        document = await lookup.read(prepared)
    except OnlineStoreUnavailableError:
        metrics.redis_errors.inc()
        metrics.lookups.labels(label, "redis_error").inc()
        raise
    metrics.observe_lookup(label, time.perf_counter() - start, prepared.count)
    return document


async def lookup_document(lookup: AsyncOnlineLookup, metrics: Metrics, body: Any) -> dict[str, Any]:
    """The answer to one ``/get-online-features`` body, in Feast's format."""
    entities, features, service, full = parse_lookup(body)
    return await read(lookup, metrics, prepare(lookup, metrics, entities, features, service, full))
