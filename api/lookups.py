"""The lookup behind ``/get-online-features``: body -> validated request -> Redis -> document.

Shared by the FastAPI route (which documents it in OpenAPI), ``api.fastpath`` (which
serves it without the framework's per-request machinery) and ``api.protocol`` (which
serves it without an ASGI request cycle). The ``*_then`` forms take a callback, so the
inline route needs no task per request; the async forms await them. Every answer of both
``/get-online-features`` and ``/feature-services/{name}/online`` passes ``read_then``,
which offers it to the serving log (``featurestore.monitor.serving_log``) when one is on.

``stale_views`` names the requested feature views past their freshness objective (the
``x-featurestore-stale`` header, when ``FEATURESTORE_STALE_HEADER=1``): a lookup of each
view in a set the app's ``FreshnessWorker`` keeps current, no I/O.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from api.metrics import Metrics
from featurestore.errors import FeatureStoreError, InvalidRequestError, OnlineStoreUnavailableError
from featurestore.online import AsyncOnlineLookup, Plan, Prepared

if TYPE_CHECKING:
    from api.freshness_worker import FreshnessWorker

T = TypeVar("T")
STALE_HEADER = "x-featurestore-stale"


def parse_lookup(body: Any) -> tuple[Any, list[str] | None, str | None, bool]:
    """(entities, features, feature_service, full_feature_names) of a Feast request body."""
    if not isinstance(body, dict):
        raise InvalidRequestError("the body must be a JSON object")
    if "entities" not in body:
        raise InvalidRequestError("entities: field required")
    features = body.get("features")
    if features is not None and not (
        isinstance(features, list) and all(isinstance(f, str) for f in features)
    ):
        raise InvalidRequestError("features: must be a list of 'view:feature' strings")
    features = features or None  # [] and null both mean "none given", as in Feast
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
        known = service if service in lookup.registry.snapshot.services else None
        metrics.lookups.labels(known or "", "invalid").inc()
        raise


def prepare_body(lookup: AsyncOnlineLookup, metrics: Metrics, body: Any) -> Prepared:
    """The validated request of one ``/get-online-features`` body."""
    entities, features, service, full = parse_lookup(body)
    return prepare(lookup, metrics, entities, features, service, full)


def stale_views(freshness: FreshnessWorker | None, plan: Plan) -> str:
    """The views of ``plan`` past their objective, comma-separated ("" for none, and
    always without ``freshness``, i.e. with the header off)."""
    if freshness is None:
        return ""
    stale = freshness.stale
    if not stale:
        return ""
    return ",".join(
        view.name for group in plan.groups for view in group.views if view.name in stale
    )


def read_then(
    lookup: AsyncOnlineLookup,
    metrics: Metrics,
    prepared: Prepared,
    done: Callable[[dict[str, Any] | Exception], None],
) -> None:
    """Start the Redis round trip; ``done`` gets the document or the error, counted."""
    label = prepared.plan.feature_service or ""
    start = time.perf_counter()

    def finished(result: dict[str, Any] | Exception) -> None:
        if isinstance(result, OnlineStoreUnavailableError):
            metrics.redis_errors.inc()
            metrics.lookups.labels(label, "redis_error").inc()
        elif not isinstance(result, Exception):
            metrics.observe_lookup(label, time.perf_counter() - start, prepared.count)
            log = metrics.serving_log
            if log is not None:  # sampled: the answer as built, queued, never waited for
                log.offer(prepared, result)
        done(result)

    lookup.read_then(prepared, finished)


def lookup_then(
    lookup: AsyncOnlineLookup,
    metrics: Metrics,
    body: Any,
    done: Callable[[dict[str, Any] | Exception], None],
) -> None:
    """The answer to one ``/get-online-features`` body, in Feast's format, to ``done``
    (from the event loop; an invalid request's error maybe before this returns)."""
    try:
        prepared = prepare_body(lookup, metrics, body)
    except Exception as exc:
        done(exc)
        return
    read_then(lookup, metrics, prepared, done)


async def _awaited(start: Callable[[Callable[[T | Exception], None]], None]) -> T:
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()

    def done(result: T | Exception) -> None:
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)

    start(done)
    return await future


async def read(lookup: AsyncOnlineLookup, metrics: Metrics, prepared: Prepared) -> dict[str, Any]:
    return await _awaited(lambda done: read_then(lookup, metrics, prepared, done))


async def lookup_document(lookup: AsyncOnlineLookup, metrics: Metrics, body: Any) -> dict[str, Any]:
    """The answer to one ``/get-online-features`` body, in Feast's format."""
    return await _awaited(lambda done: lookup_then(lookup, metrics, body, done))
