"""Read-only catalog routes: views, features, models, lineage, search, and a browsing page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.catalog_worker import CatalogWorker
from featurestore.catalog import Catalog
from featurestore.errors import UnknownObjectError

router = APIRouter(prefix="/catalog", tags=["catalog"])
_PAGE = Path(__file__).resolve().parents[1] / "static" / "catalog.html"


async def _catalog(request: Request) -> Catalog:
    """The catalog, from the registry the online path keeps: it is re-read in the
    background every FEATURESTORE_REGISTRY_REFRESH seconds, so an apply shows up here
    without a restart and no request waits for the registry. Built in the catalog's own
    thread and cached until the registry snapshot, a job file or a table's version
    changes (``api.catalog_worker``), so the routes are async: their work is turning a
    few cached objects into JSON."""
    worker: CatalogWorker = request.app.state.catalog
    return await worker.get(request.app.state.lookup.registry.snapshot)


CatalogDep = Annotated[Catalog, Depends(_catalog)]


@router.get("", response_class=HTMLResponse, summary="The catalog page, for people")
def page() -> HTMLResponse:
    return HTMLResponse(_PAGE.read_text())


@router.get("/feature-views", summary="Feature views with lineage and freshness")
async def feature_views(catalog: CatalogDep) -> list[dict[str, Any]]:
    return [view.to_dict() for view in catalog.views.values()]


@router.get("/feature-views/{name}", summary="One feature view")
async def feature_view(name: str, catalog: CatalogDep) -> dict[str, Any]:
    return catalog.view(name).to_dict()


@router.get("/features", summary="Search features by name, tag, entity or description")
async def features(
    catalog: CatalogDep,
    q: Annotated[str, Query(description="Words to match, e.g. 'wind'")] = "",
    tag: Annotated[str | None, Query(description="key or key:value")] = None,
    entity: Annotated[str | None, Query(description="Entity name or join key")] = None,
) -> list[dict[str, Any]]:
    return [
        {**hit.feature.to_dict(), "score": hit.score, "matched": hit.matched}
        for hit in catalog.search(q, tag=tag, entity=entity)
    ]


@router.get("/features/{ref}", summary="One feature (view:feature): type, owner, job, models")
async def feature(ref: str, catalog: CatalogDep) -> dict[str, Any]:
    if ref not in catalog.features:  # a name in the path: 404, as for views and services
        raise UnknownObjectError("feature", ref)
    return {**catalog.feature(ref).to_dict(), "lineage": catalog.lineage(ref)}


@router.get("/feature-services", summary="Feature services, one per model")
async def feature_services(catalog: CatalogDep) -> list[dict[str, Any]]:
    return [service.to_dict() for service in catalog.services.values()]


@router.get("/feature-services/{name}", summary="One feature service and its features")
async def feature_service(name: str, catalog: CatalogDep) -> dict[str, Any]:
    service = catalog.service(name)
    return {
        **service.to_dict(),
        "feature_details": [catalog.features[ref].to_dict() for ref in service.features],
    }


@router.get("/entities", summary="Entities and the views keyed by them")
async def entities(catalog: CatalogDep) -> list[dict[str, Any]]:
    return [entity.to_dict() for entity in catalog.entities.values()]
