"""Prometheus metrics at ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
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
async def metrics(app_metrics: AppMetrics) -> Response:
    return Response(generate_latest(app_metrics.registry), media_type=CONTENT_TYPE_LATEST)
