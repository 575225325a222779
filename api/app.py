"""The HTTP service: ``create_app(settings)`` builds it, nothing happens at import time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.catalog_worker import CatalogWorker
from api.errors import install_error_handlers
from api.fastpath import FastPathApp, OnlineFastPath
from api.freshness_worker import FreshnessWorker
from api.metrics import Metrics
from api.middleware import ApiKeyAuth, RequestMetrics, write_routes
from api.openapi import build_examples, install_openapi
from api.push_worker import CompactionWorker, StreamWorkers
from api.routes import catalog, health, metrics, monitor, online, writes
from api.settings import ApiSettings
from api.write_pool import WritePool
from featurestore.catalog import CatalogCache
from featurestore.errors import ConfigError
from featurestore.monitor.freshness import freshness_report
from featurestore.monitor.serving_log import ServingLog, serving_log_config
from featurestore.online import AsyncOnlineLookup, ClusterRespClient
from featurestore.project import Project
from featurestore.push.service import PushService
from featurestore.push.stream import parse_streams
from featurestore.redis_client import online_client
from featurestore.settings import parse_redis_url


def create_app(settings: Project, api_settings: ApiSettings | None = None) -> FastAPI:
    """The API for one project; ``api_settings`` default to the environment's."""
    api = ApiSettings.from_env() if api_settings is None else api_settings
    log_config = serving_log_config(settings)  # a bad FEATURESTORE_SERVING_LOG_RATE fails here
    try:
        parse_streams(api.push_streams)  # a bad FEATURESTORE_PUSH_STREAMS fails here too
    except ValueError as exc:
        raise ConfigError(str(exc)) from None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lookup = AsyncOnlineLookup.open(
            settings,
            timeout=api.redis_timeout,
            max_entities=api.max_entities,
            max_features=api.max_features,
        )
        lookup.registry.start(api.registry_refresh_seconds)
        app.state.lookup = lookup
        app.state.catalog = CatalogWorker(CatalogCache(lookup.registry.store, settings))
        app.state.write_pool = WritePool(api.write_threads, wait=api.redis_timeout / 2)
        store = lookup.registry.store
        online = store.config.online_store
        client = online_client(parse_redis_url(settings.redis_url), api.redis_timeout)
        push = PushService(store, settings, client, getattr(online, "key_ttl_seconds", None))
        app.state.push = push
        compaction = CompactionWorker(settings, push, api.push_compact_seconds)
        compaction.start()
        streams = StreamWorkers(push, client, api.push_streams)
        streams.start()
        freshness = FreshnessWorker(lambda now: freshness_report(settings, store, now))
        app.state.freshness = freshness
        if api.stale_header:  # the first answers already know (waits at most WAIT s)
            await freshness.current()
            freshness.start()
            app.state.stale_views = freshness
        app.state.monitor_thread = ThreadPoolExecutor(1, thread_name_prefix="monitor")
        metrics: Metrics = app.state.metrics
        metrics.push = push
        metrics.cluster = lookup.client if isinstance(lookup.client, ClusterRespClient) else None
        metrics.serving_log = ServingLog.open(settings, lookup.registry.store, log_config)
        examples = asyncio.create_task(build_examples(app))
        try:
            yield
        finally:
            examples.cancel()
            await streams.stop()
            await compaction.stop()  # seals this process's push log segments
            await freshness.stop()
            freshness.close()
            log, metrics.serving_log = metrics.serving_log, None
            if log is not None:
                await asyncio.to_thread(log.close)  # writes what is still queued
            app.state.catalog.close()
            app.state.write_pool.close()
            app.state.monitor_thread.shutdown(wait=False, cancel_futures=True)
            await lookup.registry.stop()
            await lookup.close()

    app = FastPathApp(
        title="Feature store",
        summary="Online feature lookups, wire-compatible with Feast's feature server.",
        description=(
            "Drop-in for `feast serve` (`/get-online-features`, `/push`, "
            "`/write-to-online-store`, `/health`), reading Feast's Redis layout directly. "
            "Errors are `{detail, code}` JSON. When API keys are configured, send "
            "`Authorization: Bearer <key>`."
        ),
        version="0.1.0",
        lifespan=lifespan,
        # Our metrics are Prometheus (/metrics); FastAPI's OpenTelemetry hooks would check
        # for providers on every request (measured: ~10% of a 1-entity lookup).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.api_settings = api
    app.state.metrics = Metrics()
    app.state.stale_views = None  # the FreshnessWorker when FEATURESTORE_STALE_HEADER=1
    install_error_handlers(app)
    install_openapi(app)
    for router in (health.router, online.router, writes.router, metrics.router, catalog.router):
        app.include_router(router)
    app.include_router(monitor.router)  # the monitor page, beside the catalog
    app.add_middleware(OnlineFastPath, max_body_bytes=api.max_body_bytes)
    if api.api_keys:
        routes = write_routes(app.routes)
        app.add_middleware(ApiKeyAuth, keys=api.api_keys, write_routes=routes)
    if api.cors_origins:  # outside the auth: preflights carry no key, and 401s need CORS
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(api.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)
    return app


def create_app_from_env() -> FastAPI:
    """The factory uvicorn calls (``--factory``): settings from the environment."""
    return create_app(Project.find(), ApiSettings.from_env())
