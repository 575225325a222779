"""Dependencies shared by the routes (async, so FastAPI does not send them to a thread)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.metrics import Metrics
from api.settings import ApiSettings
from api.write_pool import WritePool
from featurestore.online import AsyncOnlineLookup


async def _lookup(request: Request) -> AsyncOnlineLookup:
    lookup: AsyncOnlineLookup = request.app.state.lookup
    return lookup


async def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def _api_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.api_settings
    return settings


async def _write_pool(request: Request) -> WritePool:
    pool: WritePool = request.app.state.write_pool
    return pool


Lookup = Annotated[AsyncOnlineLookup, Depends(_lookup)]
AppMetrics = Annotated[Metrics, Depends(_metrics)]
Limits = Annotated[ApiSettings, Depends(_api_settings)]
Writes = Annotated[WritePool, Depends(_write_pool)]
