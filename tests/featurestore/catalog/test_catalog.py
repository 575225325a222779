"""The catalog on the real demo project: lineage, freshness, search."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from featurestore.catalog import Catalog, feature_service_module, load_catalog
from featurestore.errors import InvalidRequestError, UnknownFeatureError
from featurestore.project import Project
from featurestore.store import open_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def catalog(demo_project: Project) -> Catalog:
    return load_catalog(open_store(demo_project))


def test_lineage_from_job_to_models(demo_project: Project, catalog: Catalog) -> None:
    lineage = catalog.lineage("carrier_daily:cancel_rate_7d")
    assert lineage["job"] == "carrier_daily"
    assert str(lineage["job_file"]).endswith("ingestion/jobs/carrier_daily.sql")
    assert lineage["table"] == "data/features/carrier_daily.parquet"  # relative to the project
    assert lineage["source"] == "carrier_daily_source"
    assert lineage["feature_view"] == "carrier_daily"
    assert lineage["feature_services"] == ["cancellation_model"]


def test_feature_details(catalog: Catalog) -> None:
    wind = catalog.feature("weather_hourly:wind_speed")
    assert wind.dtype == "Float64"
    assert wind.description == "Wind speed, mph"
    assert wind.owner == "data-team@example.com"
    assert wind.tags["domain"] == "weather"
    assert wind.entities == ["airport"] and wind.join_keys == ["origin"]
    assert wind.used_by == ["cancellation_model", "departure_delay_model"]
    assert wind.freshness.rows == 26_115
    assert wind.freshness.latest_event == datetime(2013, 12, 30, 23, tzinfo=UTC)
    assert wind.freshness.materialized_until == datetime(2014, 1, 2, tzinfo=UTC)


def test_shared_views_are_visible(catalog: Catalog) -> None:
    assert catalog.views["weather_hourly"].used_by == [
        "cancellation_model",
        "departure_delay_model",
    ]
    assert catalog.views["plane_daily"].used_by == ["departure_delay_model"]
    assert catalog.services["cancellation_model"].join_keys == ["carrier", "origin"]


def test_search_by_name_tag_entity_and_description(catalog: Catalog) -> None:
    refs = lambda hits: [h.feature.ref for h in hits]  # noqa: E731
    assert refs(catalog.search("wind")) == [
        "weather_hourly:wind_dir", "weather_hourly:wind_gust", "weather_hourly:wind_speed",
    ]  # fmt: skip
    assert set(refs(catalog.search(tag="domain:fleet"))) == {
        f"plane_daily:{f}" for f in catalog.views["plane_daily"].features
    }
    carrier_views = {r.split(":")[0] for r in refs(catalog.search(entity="carrier"))}
    assert carrier_views == {"carrier_daily", "departure_status"}
    assert refs(catalog.search("cancelled 7 days")) == ["carrier_daily:cancel_rate_7d"]
    assert refs(catalog.search("seats", entity="origin")) == []


def test_unknown_feature(catalog: Catalog) -> None:
    with pytest.raises(UnknownFeatureError):
        catalog.feature("weather_hourly:nope")


def test_codegen_refuses_unknown_and_existing(catalog: Catalog) -> None:
    with pytest.raises(UnknownFeatureError):
        feature_service_module(catalog, "m", ["plane_daily:nope"])
    with pytest.raises(InvalidRequestError, match="already exists"):
        feature_service_module(catalog, "cancellation_model", ["plane_daily:seats"])
    code = feature_service_module(
        catalog, "fleet_model", ["plane_daily:seats", "carrier_daily:cancel_rate_7d"]
    )
    assert "from feature_views import carrier_daily, plane_daily" in code
    compile(code, "fleet_model.py", "exec")
