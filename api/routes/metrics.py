"""Prometheus metrics at ``/metrics``; the freshness gauges come from the app's
``FreshnessWorker`` (a scrape waits at most one refresh, off the event loop)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import AppMetrics

router = APIRouter(tags=["metrics"])


_TEXT = {
    "description": "Prometheus' text format",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}


@router.get(
    "/metrics", summary="Prometheus metrics", response_class=Response, responses={200: _TEXT}
)
async def metrics(request: Request, app_metrics: AppMetrics) -> Response:
    freshness = getattr(request.app.state, "freshness", None)
    if freshness is not None:
        app_metrics.freshness.report = await freshness.current() or ()
    return Response(generate_latest(app_metrics.registry), media_type=CONTENT_TYPE_LATEST)
