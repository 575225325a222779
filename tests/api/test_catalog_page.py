"""The catalog page in a real headless Chromium: search, click, read the lineage.

Needs Debian's chromium and chromium-driver (``make test`` installs them when missing).
The screenshot is saved to tests/artifacts/catalog.png.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from api import create_app
from featurestore.project import Project
from tests.browser import ARTIFACTS, headless_chromium, serve_in_thread

pytestmark = [pytest.mark.slow, pytest.mark.redis]


@pytest.fixture(scope="module")
def server_url(demo_project: Project) -> Iterator[str]:
    with serve_in_thread(create_app(demo_project)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with headless_chromium() as chrome:
        yield chrome


def test_browse_search_and_lineage(server_url: str, browser: webdriver.Chrome) -> None:
    wait = WebDriverWait(browser, 60)
    browser.get(f"{server_url}/catalog")
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        wait.until(
            lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true"
        )
    finally:
        browser.save_screenshot(str(ARTIFACTS / "catalog-loaded.png"))
    features = browser.find_elements(By.CSS_SELECTOR, "li.feature")
    assert len(features) == 28  # every feature of the four views (departure_status: 5)

    search = browser.find_element(By.ID, "q")
    search.send_keys("wind")
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "li.feature")) == 3)
    browser.find_element(
        By.CSS_SELECTOR, 'li.feature[data-ref="weather_hourly:wind_speed"]'
    ).click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "detail-ref"), "weather_hourly:wind_speed"))
    detail = browser.find_element(By.ID, "detail").text
    assert "weather_hourly.parquet" in detail
    assert "cancellation_model" in detail and "departure_delay_model" in detail
    assert "Wind speed, mph" in detail
    services = browser.find_element(By.ID, "services").text
    assert "departure_delay_model" in services and "cancellation_model" in services

    shot = ARTIFACTS / "catalog.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
