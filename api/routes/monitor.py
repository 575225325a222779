"""The monitor page of a feature service, beside the catalog: ``GET /monitor/{name}``.

The page is ``featurestore.monitor.report``'s, built from the project's feature tables,
statistics and serving log. That takes from a fraction of a second to several on big
tables, so it is built in the monitor's own thread (``app.state.monitor_thread``, one:
concurrent requests queue behind each other, never in front of a lookup) and is not
cached: each request shows the data as it is. An unknown feature service is a 404 before
any work, from the catalog the other routes use.

The page loads plotly.js from ``/static/plotly.min.js``, the plotly package's own file,
which carries the package's version in its address and so is cached for a year. Both
routes need the read scope when API keys are configured, like the catalog's.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib import metadata, resources
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from api.routes.catalog import CatalogDep
from featurestore.monitor.report import build_report

router = APIRouter(tags=["monitor"])

PLOTLY_PATH = "/static/plotly.min.js"
_YEAR = 365 * 24 * 3600


def plotly_address() -> str:
    """Where the page loads plotly.js from: versioned, so a new plotly is a new address."""
    return f"{PLOTLY_PATH}?v={metadata.version('plotly')}"


@router.get(
    "/monitor/{feature_service}",
    response_class=HTMLResponse,
    summary="A feature service's monitor report, for people: drift, trend, freshness, skew",
)
async def monitor_page(
    feature_service: str,
    request: Request,
    catalog: CatalogDep,
    reference: Annotated[
        str | None,
        Query(description="The reference window, as `featurestore monitor drift` takes it"),
    ] = None,
    current: Annotated[
        str | None,
        Query(description="The current window, as `featurestore monitor drift` takes it"),
    ] = None,
) -> HTMLResponse:
    catalog.service(feature_service)  # an unknown one: 404, before any work
    build = partial(
        build_report,
        request.app.state.settings,
        request.app.state.lookup.registry.store,
        feature_service,
        reference,
        current,
        plotly_js=plotly_address(),
    )
    thread: ThreadPoolExecutor = request.app.state.monitor_thread
    page = await asyncio.get_running_loop().run_in_executor(thread, build)
    return HTMLResponse(page)


@router.get(PLOTLY_PATH, include_in_schema=False)
async def plotly_js() -> FileResponse:
    """plotly.js, from the installed plotly package (nothing from a CDN)."""
    path = resources.files("plotly") / "package_data" / "plotly.min.js"
    return FileResponse(
        str(path),
        media_type="text/javascript",
        headers={"Cache-Control": f"public, max-age={_YEAR}, immutable"},
    )
