"""Read-only catalog routes: views, features, models, lineage, search, and a browsing page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from featurestore.catalog import Catalog, load_catalog
from featurestore.errors import UnknownObjectError

router = APIRouter(prefix="/catalog", tags=["catalog"])
_PAGE = Path(__file__).resolve().parents[1] / "static" / "catalog.html"


def _catalog(request: Request) -> Catalog:
    """The catalog, from the registry the online path keeps: it is re-read in the
    background every FEATURESTORE_REGISTRY_REFRESH seconds, so an apply shows up here
    without a restart and no request waits for the registry."""
    return load_catalog(request.app.state.lookup.registry.store, request.app.state.settings)


CatalogDep = Annotated[Catalog, Depends(_catalog)]


@router.get("", response_class=HTMLResponse, summary="The catalog page, for people")
def page() -> HTMLResponse:
    return HTMLResponse(_PAGE.read_text())


@router.get("/feature-views", summary="Feature views with lineage and freshness")
def feature_views(catalog: CatalogDep) -> list[dict[str, Any]]:
    return [view.to_dict() for view in catalog.views.values()]


@router.get("/feature-views/{name}", summary="One feature view")
def feature_view(name: str, catalog: CatalogDep) -> dict[str, Any]:
    return catalog.view(name).to_dict()


@router.get("/features", summary="Search features by name, tag, entity or description")
def features(
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
def feature(ref: str, catalog: CatalogDep) -> dict[str, Any]:
    if ref not in catalog.features:  # a name in the path: 404, as for views and services
        raise UnknownObjectError("feature", ref)
    return {**catalog.feature(ref).to_dict(), "lineage": catalog.lineage(ref)}


@router.get("/feature-services", summary="Feature services, one per model")
def feature_services(catalog: CatalogDep) -> list[dict[str, Any]]:
    return [service.to_dict() for service in catalog.services.values()]


@router.get("/feature-services/{name}", summary="One feature service and its features")
def feature_service(name: str, catalog: CatalogDep) -> dict[str, Any]:
    service = catalog.service(name)
    return {
        **service.to_dict(),
        "feature_details": [catalog.features[ref].to_dict() for ref in service.features],
    }


@router.get("/entities", summary="Entities and the views keyed by them")
def entities(catalog: CatalogDep) -> list[dict[str, Any]]:
    return [entity.to_dict() for entity in catalog.entities.values()]
