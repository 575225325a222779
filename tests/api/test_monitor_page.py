"""The monitor page on the API (``api/routes/monitor.py``): its errors, plotly.js served
from the package, its place in the OpenAPI description and behind API keys, the catalog's
links to it; and, once the monitor's drift is there, the page of the demo's model over
HTTP and in a real headless Chromium (from the catalog's link).

The browser test needs Debian's chromium and chromium-driver (``make browser``); its
screenshot is saved to tests/artifacts/monitor-page.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata, resources

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.routes.monitor import PLOTLY_PATH, plotly_address
from api.settings import ApiSettings
from featurestore.project import Project
from tests.browser import ARTIFACTS, headless_chromium, serve_in_thread
from tests.featurestore.monitor.test_report import check_rendered
from tests.online_repo import OnlineRepo, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis]
KEY = "monitor-key-3b1d"
PLOTLY_FILE = resources.files("plotly") / "package_data" / "plotly.min.js"


@pytest.fixture(scope="module")
def client(online_repo: OnlineRepo) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(online_repo.settings, ApiSettings())) as test_client:
        yield test_client


def test_an_unknown_feature_service_is_a_404_naming_the_known_ones(client: TestClient) -> None:
    for path in ("/monitor/nope", "/monitor/nope?reference=x&current=y", "/monitor/%3Cb%3E"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["code"] == "unknown_feature_service"
        assert "known feature services: ranking_model" in answer.json()["detail"]
    assert client.get("/monitor/").status_code == 404
    assert client.get("/monitor/a/b").json()["code"] == "not_found"


def test_plotly_js_is_the_packages_own_and_cached_for_a_year(client: TestClient) -> None:
    answer = client.get(plotly_address())
    assert answer.status_code == 200
    assert answer.content == PLOTLY_FILE.read_bytes()
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plotly_address() == f"{PLOTLY_PATH}?v={metadata.version('plotly')}"


def test_the_page_is_in_the_openapi_description(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    page = paths["/monitor/{feature_service}"]["get"]
    assert page["tags"] == ["monitor"]
    assert "text/html" in page["responses"]["200"]["content"]
    assert "404" in page["responses"]
    assert {p["name"] for p in page["parameters"]} == {"feature_service", "reference", "current"}
    assert PLOTLY_PATH not in paths  # a file, not an operation


def test_the_catalog_page_links_each_service_to_its_monitor_page(client: TestClient) -> None:
    page = client.get("/catalog").text
    assert 'href="/monitor/${encodeURIComponent(s.name)}"' in page


def test_both_routes_need_a_read_key(online_repo: OnlineRepo) -> None:  # noqa: F811
    api = ApiSettings(api_keys=(f"read:{KEY}",))
    with TestClient(create_app(online_repo.settings, api)) as keyed:
        for path in ("/monitor/nope", plotly_address()):
            assert keyed.get(path).status_code == 401
        headers = {"Authorization": f"Bearer {KEY}"}
        assert keyed.get("/monitor/nope", headers=headers).status_code == 404
        assert keyed.get(plotly_address(), headers=headers).status_code == 200


def test_a_service_whose_tables_hold_nothing_is_a_4xx(client: TestClient) -> None:
    """The small repo was never ingested: its views' Parquet tables do not exist."""
    pytest.importorskip("featurestore.monitor.drift")
    answer = client.get("/monitor/ranking_model")
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    assert set(answer.json()) == {"detail", "code"}


# -- with the monitor's drift: the demo's model ----------------------------------------


def demo_project_with_drift(request: pytest.FixtureRequest) -> Project:
    """The demo project, once the monitor's drift exists (else skip, before building it)."""
    pytest.importorskip("featurestore.monitor.drift")
    project: Project = request.getfixturevalue("demo_project")
    return project


@pytest.fixture(scope="module")
def demo_client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    demo_project = demo_project_with_drift(request)
    with TestClient(create_app(demo_project, ApiSettings())) as test_client:
        yield test_client


@pytest.mark.slow
def test_the_demo_models_page(demo_client: TestClient) -> None:
    answer = demo_client.get("/monitor/departure_delay_model")
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert "<h1 id='service'>departure_delay_model</h1>" in page
    assert page.count("<script src=") == 1 and f"<script src='{plotly_address()}'>" in page
    assert len(page) < 2_000_000  # plotly.js is not inside
    assert "class='panel feature" in page
    assert "id='freshness'" in page and "id='skew'" in page


@pytest.mark.slow
def test_a_bad_window_is_a_4xx_not_a_500(demo_client: TestClient) -> None:
    for query in ("reference=not-a-window", "current=2013-13-45..2013-99-01"):
        answer = demo_client.get(f"/monitor/departure_delay_model?{query}")
        assert 400 <= answer.status_code < 500, (query, answer.status_code, answer.text[:300])
        assert set(answer.json()) == {"detail", "code"}


@pytest.fixture(scope="module")
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    demo_project = demo_project_with_drift(request)
    with serve_in_thread(create_app(demo_project, ApiSettings())) as url:
        yield url


@pytest.mark.slow
def test_from_the_catalog_to_the_monitor_page_in_headless_chromium(server_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(exist_ok=True)
    with headless_chromium(console_log=True) as browser:
        wait = WebDriverWait(browser, 120)
        browser.get(f"{server_url}/catalog")
        wait.until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
        browser.find_element(
            By.CSS_SELECTOR, 'a.monitor[data-service="departure_delay_model"]'
        ).click()
        wait.until(lambda b: b.current_url.endswith("/monitor/departure_delay_model"))
        try:
            plots = browser.execute_script(
                "return JSON.parse(document.getElementById('plots').textContent).length"
            )
            check_rendered(browser, plots)
        finally:
            browser.save_screenshot(str(ARTIFACTS / "monitor-page.png"))
        resources_loaded = browser.execute_script(
            "return performance.getEntriesByType('resource').map((r) => r.name)"
        )
        assert resources_loaded == [f"{server_url}{plotly_address()}"]  # nothing else, no CDN
        assert browser.find_element(By.ID, "service").text == "departure_delay_model"
    assert (ARTIFACTS / "monitor-page.png").stat().st_size > 20_000
