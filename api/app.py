"""The HTTP service: ``create_app(settings)`` builds it, nothing happens at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import catalog, health, online
from featurestore.online import OnlineLookup
from featurestore.settings import Settings
from featurestore.store import open_store


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.lookup = OnlineLookup(open_store(settings))
        yield

    app = FastAPI(
        title="Feature store",
        summary="Online feature lookups, wire-compatible with Feast's feature server.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(online.router)
    app.include_router(catalog.router)
    return app


def create_app_from_env() -> FastAPI:
    """The factory uvicorn calls (``--factory``): settings from the environment."""
    return create_app(Settings.from_env())
