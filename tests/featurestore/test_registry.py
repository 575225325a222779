"""The applied registry: two models share the weather and carrier views."""

from __future__ import annotations

import pytest

from featurestore.project import Project
from featurestore.store import open_store

pytestmark = pytest.mark.slow


def test_feature_services_share_views(demo_project: Project) -> None:
    store = open_store(demo_project)
    views_of = {
        service.name: {p.name for p in service.feature_view_projections}
        for service in store.list_feature_services()
    }
    assert views_of == {
        "departure_delay_model": {"weather_hourly", "carrier_daily", "plane_daily"},
        "cancellation_model": {"weather_hourly", "carrier_daily"},
    }
    shared = views_of["departure_delay_model"] & views_of["cancellation_model"]
    assert shared == {"weather_hourly", "carrier_daily"}


def test_sources_point_at_the_projects_feature_tables(demo_project: Project) -> None:
    store = open_store(demo_project)
    for view in store.list_feature_views():
        path = view.batch_source.path  # type: ignore[attr-defined]
        assert path == str(demo_project.data_dir / "features" / f"{view.name}.parquet")
