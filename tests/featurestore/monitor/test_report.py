"""The HTML report (``featurestore.monitor.report``) from hand-built results: its content
as text and as the plots' JSON, and the page in a real headless Chromium.

The browser test needs Debian's chromium and chromium-driver (``make browser``); its
screenshots are saved to tests/artifacts/monitor-report.png (the top of the page) and
monitor-report-full.png (all of it).
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs

from featurestore.monitor.model import (
    DriftReport,
    FeatureDrift,
    FeatureSkew,
    FeatureTrend,
    Freshness,
    Histogram,
    Score,
    SkewReport,
    TrendPoint,
    TrendReport,
    Window,
)
from featurestore.monitor.report import render_report
from featurestore.project import Project
from tests.browser import ARTIFACTS, headless_chromium

SERVICE = "departure_delay_model"
EVIL_VIEW, EVIL_FEATURE = "odd<b>view</b>", "a&\"b'<script>alert(1)</script>"
EVIL = f"{EVIL_VIEW}:{EVIL_FEATURE}"
DAY = timedelta(days=1)
T0 = datetime(2013, 6, 1, tzinfo=UTC)
REFERENCE = Window(datetime(2013, 1, 1, tzinfo=UTC), T0, "training set train.parquet")
CURRENT = Window(T0 + 20 * DAY, T0 + 30 * DAY, "2013-06-21..2013-07-01")
NOW = datetime(2013, 7, 1, 6, tzinfo=UTC)
BUNDLE_BANNER = get_plotlyjs()[:40]  # "/**\n* plotly.js v2.x.y ..."
FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))


@dataclass(frozen=True)
class QuarantinePoint:  # the shape of featurestore.monitor.stats' points
    start: datetime
    end: datetime
    rows_in: int
    quarantined: int
    rate: float | None
    by_rule: dict[str, int] = field(default_factory=dict)


def numeric(shift: float, rows: int = 10_000, nulls: int = 0) -> Histogram:
    """A bell over [-inf, -2, ..., 2, inf], moved right by ``shift`` bins' worth."""
    weights = [math.exp(-((i - 3 - shift) ** 2) / 3) for i in range(6)]
    counts = [round(rows * w / sum(weights)) for w in weights]
    edges = (-math.inf, -2.0, -1.0, 0.0, 1.0, 2.0, math.inf)
    return Histogram(counts=tuple(counts), edges=edges, nulls=nulls)


def feature(
    view: str,
    name: str,
    method: str,
    threshold: float,
    score: float | None,
    *,
    kind: str = "numeric",
    reason: str = "",
    reference: Histogram | None = None,
    current: Histogram | None = None,
) -> FeatureDrift:
    drifted = None
    if score is not None:
        drifted = score < threshold if method in ("ks", "chisquare") else score > threshold
    scores = {method: Score(method, score, reason=reason)}
    if kind == "numeric":
        scores["psi"] = Score("psi", None if score is None else 0.01, reason=reason)
    return FeatureDrift(
        view=view,
        feature=name,
        kind=kind,  # type: ignore[arg-type]
        method=method,
        threshold=threshold,
        score=score,
        drifted=drifted,
        reference_rows=reference.total if reference else 0,
        current_rows=current.total if current else 0,
        scores=scores,
        reference=reference,
        current=current,
        reason=reason,
    )


# Worst first: drifted by how far past the threshold (the ks p-value 1e-6 is the worst),
# then the rest by how close to it (a ks p-value of 0.9 is the farthest), then unscored.
EXPECTED_ORDER = [
    "carrier_daily:cancel_rate_7d",  # ks p 1e-6 < 0.05: log ratio 10.8
    "flights:dep_hour",  # psi 2.5 > 0.2: 2.5
    "weather_hourly:temp",  # wasserstein 0.34 > 0.1: 1.2
    "flights:air_time",  # wasserstein 0.02, but an alert: drifted, -1.6
    "weather_hourly:humidity",  # wasserstein 0.095 <= 0.1: -0.05
    "weather_hourly:wind_speed",  # wasserstein 0.04: -0.9
    "carrier_daily:carrier",  # jensenshannon 0.02: -1.6
    EVIL,  # jensenshannon 0.01: -2.3
    "plane_daily:seats",  # ks p 0.9 >= 0.05: -2.9
    "weather_hourly:visib",  # not scored
]


@dataclass(frozen=True)
class AlertedDrift(FeatureDrift):  # FeatureDrift.alerts on the lead's branch
    alerts: tuple[str, ...] = ()


WHOLE = "dep_delay's values turned into whole numbers (a float column now holds ints?)"


def drift_report() -> DriftReport:
    carriers = ("UA", "AA", "DL", "B6", "EV")
    features = [
        feature(
            "plane_daily", "seats", "ks", 0.05, 0.9, reference=numeric(0), current=numeric(0.05)
        ),
        feature(
            "weather_hourly",
            "temp",
            "wasserstein",
            0.1,
            0.34,
            reference=numeric(0),
            current=numeric(1.2, rows=2_000, nulls=17),
        ),
        feature(
            "weather_hourly",
            "visib",
            "ks",
            0.05,
            None,
            reason="not enough data: 3 current rows, ks needs 20",
            reference=numeric(0),
            current=None,
        ),
        feature(
            "weather_hourly",
            "wind_speed",
            "wasserstein",
            0.1,
            0.04,
            reference=numeric(0),
            current=numeric(0.2),
        ),
        feature(
            "weather_hourly",
            "humidity",
            "wasserstein",
            0.1,
            0.095,
            reference=numeric(0),
            current=numeric(0.4),
        ),
        feature("flights", "dep_hour", "psi", 0.2, 2.5, reference=numeric(0), current=numeric(-2)),
        feature(
            "carrier_daily",
            "carrier",
            "jensenshannon",
            0.1,
            0.02,
            kind="categorical",
            reference=Histogram((500, 300, 150, 50, 0), labels=carriers),
            current=Histogram((480, 310, 160, 40, 10, 5), labels=(*carriers, "9E")),
        ),
        feature(
            "carrier_daily",
            "cancel_rate_7d",
            "ks",
            0.05,
            1e-6,
            reference=numeric(0),
            current=numeric(1.0),
        ),
        feature(
            EVIL_VIEW,
            EVIL_FEATURE,
            "jensenshannon",
            0.1,
            0.01,
            kind="categorical",
            reference=Histogram((3, 4), labels=("<i>x</i>", "&amp;")),
            current=Histogram((4, 3), labels=("<i>x</i>", "&amp;")),
        ),
    ]
    air_time = feature("flights", "air_time", "wasserstein", 0.1, 0.02, reference=numeric(0))
    features.append(AlertedDrift(**{**vars(air_time), "drifted": True, "alerts": (WHOLE,)}))
    return DriftReport(REFERENCE, CURRENT, features, feature_service=SERVICE)


def trend_report() -> TrendReport:
    def points(scores: Sequence[float | None], method: str, threshold: float) -> list[TrendPoint]:
        out = []
        for i, score in enumerate(scores):
            drifted = None
            if score is not None:
                drifted = score < threshold if method == "ks" else score > threshold
            out.append(TrendPoint(T0 + i * DAY, T0 + (i + 1) * DAY, 400 + i, score, drifted))
        return out

    rising = [0.02, 0.03, 0.05, None, 0.08, 0.11, 0.15, 0.2, 0.26, 0.34]
    falling_p = [0.6, 0.4, 0.2, 0.08, 0.04, 1e-3, 1e-5, 1e-8, 1e-12, 0.0]
    return TrendReport(
        reference=REFERENCE,
        period="day",
        features=[
            FeatureTrend(
                "weather_hourly", "temp", "wasserstein", 0.1, points(rising, "wasserstein", 0.1)
            ),
            FeatureTrend(
                "carrier_daily", "cancel_rate_7d", "ks", 0.05, points(falling_p, "ks", 0.05)
            ),
            FeatureTrend("flights", "dep_hour", "psi", 0.2, points([0.1, 0.5, 2.5], "psi", 0.2)),
            FeatureTrend(EVIL_VIEW, EVIL_FEATURE, "jensenshannon", 0.1, points([0.01], "js", 0.1)),
        ],
        feature_service=SERVICE,
    )


def freshness() -> list[Freshness]:
    return [
        Freshness(
            "weather_hourly",
            NOW,
            2 * 3600,
            NOW - timedelta(hours=1),
            NOW - timedelta(minutes=30),
            1800.0,
            False,
            "monitor.freshness",
        ),
        Freshness(
            "carrier_daily",
            NOW,
            26 * 3600,
            NOW - timedelta(days=3),
            NOW - timedelta(days=3),
            3 * 86400.0,
            True,
            "job header",
        ),
        Freshness("plane_daily", NOW, 86400, None, None, None, True, "ttl"),
    ]


def skew_report() -> SkewReport:
    return SkewReport(
        SERVICE,
        Window(NOW - 7 * DAY, NOW, "served"),
        requests=1_250,
        features=[
            FeatureSkew("weather_hourly", "temp", served=1_250, differing=0),
            FeatureSkew("flights", "dep_hour", 1_250, 87, Score("jensenshannon", 0.21)),
            FeatureSkew(
                "carrier_daily", "cancel_rate_7d", 1_250, 3, Score("psi", None, reason="too few")
            ),
        ],
    )


def quarantine() -> dict[str, list[QuarantinePoint]]:
    hours = [0.0, 0.0, 0.001, 0.0, 0.04, 0.12, 0.11]  # upstream starts sending hour 77
    return {
        "flights": [
            QuarantinePoint(
                T0 + i * DAY,
                T0 + (i + 1) * DAY,
                1_000,
                round(1_000 * r),
                r,
                {"dep_hour between 0 and 23": round(1_000 * r)},
            )
            for i, r in enumerate(hours)
        ],
        "weather_hourly": [
            QuarantinePoint(T0 + i * DAY, T0 + (i + 1) * DAY, 24, 0, 0.0) for i in range(7)
        ],
    }


def render(**overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "drift": drift_report(),
        "trend": trend_report(),
        "freshness": freshness(),
        "skew": skew_report(),
        "quarantine": quarantine(),
        "generated_at": NOW,
    }
    arguments |= overrides
    return render_report(SERVICE, **arguments)


@pytest.fixture(scope="module")
def page() -> str:
    return render()


def plot_specs(page: str) -> list[dict[str, Any]]:
    match = re.search(r"<script type='application/json' id='plots'>(.*?)</script>", page, re.S)
    assert match, "no plots block"
    specs: list[dict[str, Any]] = json.loads(match.group(1))
    return specs


def cards(page: str) -> list[str]:
    """The features of the cards, in page order (unescaped)."""
    found = re.findall(
        r"<section class='panel feature [a-z]+' id='[^']+' data-feature='([^']*)'", page
    )
    return [html.unescape(name) for name in found]


def card(page: str, name: str) -> str:
    start = page.index(f"data-feature='{html.escape(name, quote=True)}'><div class='feature-head'>")
    return page[start : page.index("</section>", start)]


def traces_named(specs: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [t for s in specs for t in s["data"] if str(t.get("name", "")).startswith(prefix)]


# -- the page as text ----------------------------------------------------------------------


def test_inline_embeds_plotly_once_and_nothing_from_the_network(page: str) -> None:
    assert page.count(BUNDLE_BANNER) == 1
    assert "<script src" not in page
    head = page[: page.index(BUNDLE_BANNER)]
    rest = page[page.index("</script>", page.index(BUNDLE_BANNER)) :]
    for text in (head, rest):  # the bundle itself names URLs it never loads by itself
        assert "http://" not in text and "https://" not in text and "//cdn" not in text
        assert "@import" not in text and "@font-face" not in text
    assert re.findall(r"<link [^>]*>", page) == ["<link rel='icon' href='data:,'>"]


def test_served_plotly_is_referenced_not_embedded() -> None:
    page = render(plotly_js="/static/plotly.min.js?v=5")
    assert BUNDLE_BANNER not in page
    assert page.count("<script src=") == 1
    assert "<script src='/static/plotly.min.js?v=5'></script>" in page
    assert len(page) < 200_000  # the inline page is over 4.5 MB
    assert plot_specs(page) == plot_specs(render())


def test_worst_first(page: str) -> None:
    assert cards(page) == EXPECTED_ORDER
    rows = re.findall(r"<tr class='feature-row' data-feature='([^']*)'>", page)
    assert [html.unescape(r) for r in rows] == EXPECTED_ORDER
    # the order does not come from the input's
    shuffled = replace(drift_report(), features=list(reversed(drift_report().features)))
    assert cards(render(drift=shuffled)) == EXPECTED_ORDER


def test_summary_counts_drifted_unscored_and_stale(page: str) -> None:
    assert "<span id='drifted-count'>4</span> / 9" in page
    assert "<span id='unscored-count'>1</span>" in page
    assert "<span id='stale-count'>2</span> / 3" in page
    assert "<h1 id='service'>departure_delay_model</h1>" in page
    assert "training set train.parquet" in page and "2013-01-01 → 2013-06-01" in page
    assert "2013-06-21..2013-07-01" in page and "2013-06-21 → 2013-07-01" not in page  # said
    assert "7.0%" in page  # the worst skew: 87 of 1,250
    assert "11%" in page  # flights' latest quarantine rate


def test_unscored_feature_shows_its_reason(page: str) -> None:
    visib = card(page, "weather_hourly:visib")
    assert "not scored" in visib
    assert "not enough data: 3 current rows, ks needs 20" in visib
    assert "class='reason'" in visib
    assert "ks: no score" in visib
    assert "<span title='not enough data: 3 current rows, ks needs 20'>n/a</span>" in visib


def test_scores_read_the_right_way_round(page: str) -> None:
    assert "ks p = 1.0e-06 &lt; 0.05" in card(page, "carrier_daily:cancel_rate_7d")
    assert "ks p = 0.9 ≥ 0.05" in card(page, "plane_daily:seats")
    assert "psi = 2.5 &gt; 0.2" in card(page, "flights:dep_hour")
    assert "wasserstein = 0.04 ≤ 0.1" in card(page, "weather_hourly:wind_speed")
    temp = card(page, "weather_hourly:temp")
    assert "badge bad'>drifted" in temp and "current nulls 17" in temp
    assert "first drifted period: 2013-06-06" in temp
    assert "0.0% of 1,250 served values differ" in temp
    assert "badge good'>ok" in card(page, "plane_daily:seats")


def test_an_alert_drifts_a_feature_whatever_its_score(page: str) -> None:
    air_time = card(page, "flights:air_time")
    assert "badge bad'>drifted" in air_time and "wasserstein = 0.02 ≤ 0.1" in air_time
    assert f"<p class='alert'>{html.escape(WHOLE, quote=True)}</p>" in air_time
    row = page[page.index("<tr class='feature-row' data-feature='flights:air_time'>") :]
    assert "class='badge bad' title=" in row[: row.index("</tr>")]


def test_names_are_escaped_in_the_page_and_in_the_plots(page: str) -> None:
    for raw in ("<b>view</b>", "<script>alert(1)</script>", "<i>x</i>"):
        assert raw not in page
    escaped = html.escape(EVIL, quote=True)
    assert f"<h3 class='ref'>{escaped}</h3>" in page
    assert cards(page).count(EVIL) == 1
    specs = plot_specs(page)
    labels = {x for s in specs for t in s["data"] for x in t.get("x", []) if isinstance(x, str)}
    assert "&lt;i&gt;x&lt;/i&gt;" in labels and "&amp;amp;" in labels
    assert not any("<" in label for label in labels)
    evil_trend = traces_named(specs, "jensenshannon score")
    assert evil_trend, "the evil feature's trend is drawn"
    # The JSON block cannot end its script early: '<' and '/' are escaped in it.
    block = page[page.index("id='plots'>") : page.index("</script>", page.index("id='plots'>"))]
    assert "<" not in block.removeprefix("id='plots'>")


def test_trend_plots_have_their_threshold_lines(page: str) -> None:
    specs = plot_specs(page)
    thresholds = [t for s in specs for t in s["data"] if t.get("meta") == "threshold"]
    assert sorted(t["y"][0] for t in thresholds) == [0.05, 0.1, 0.1, 0.2]
    for spec in specs:
        threshold = [t for t in spec["data"] if t.get("meta") == "threshold"]
        if not threshold:
            continue
        score = spec["data"][0]
        assert threshold[0]["x"][0] == score["x"][0]  # spans the periods, to the last's end
        assert threshold[0]["x"][1] > score["x"][-1]
        assert threshold[0]["line"]["dash"] == "dash"
    by_method = {t["name"]: s for s in specs for t in s["data"] if t["name"].endswith(" score")}
    ks = by_method["ks score"]
    assert ks["layout"]["yaxis"]["type"] == "log"  # p-values: a log axis, 0 drawn at 1e-16
    assert ks["data"][0]["y"][-1] == 1e-16
    temp = by_method["wasserstein score"]
    assert temp["data"][0]["y"][3] is None  # not enough data that day: a gap, not a zero
    colors = temp["data"][0]["marker"]["color"]
    assert colors[:5] == ["#2f6fed"] * 5 and colors[5:] == ["#d92d20"] * 5  # drifted in red
    assert "no trend for this feature" in card(page, "plane_daily:seats")


def test_histograms_overlay_the_windows(page: str) -> None:
    specs = plot_specs(page)
    temp = next(s for s in specs if s["data"][0].get("customdata") == list(numeric(0).counts))
    reference, current = temp["data"]
    assert temp["layout"]["barmode"] == "overlay"
    assert (reference["name"], current["name"]) == ("reference", "current")
    assert math.isclose(sum(reference["y"]), 1.0) and math.isclose(sum(current["y"]), 1.0)
    # the infinite outer edges are drawn one typical width beyond the finite ones
    assert reference["x"] == [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]
    assert reference["width"] == [1.0] * 6
    assert reference["text"][0] == "&#8211; to -2" and reference["text"][-1] == "2 to &#8211;"
    carriers = next(
        s
        for s in specs
        if s["layout"]["xaxis"].get("type") == "category" and len(s["data"][0]["x"]) == 6
    )
    reference, current = carriers["data"]
    assert reference["x"] == current["x"] == ["UA", "AA", "DL", "B6", "EV", "9E"]
    assert reference["customdata"] == [500, 300, 150, 50, 0, 0]
    assert current["customdata"] == [480, 310, 160, 40, 10, 5]


def test_many_categories_draw_the_largest(page: str) -> None:
    labels = tuple(f"v{i}" for i in range(60))
    wide = feature(
        "v", "code", "jensenshannon", 0.1, 0.5, kind="categorical",
        reference=Histogram(tuple(range(60)), labels=labels),
        current=Histogram(tuple(reversed(range(60))), labels=labels),
    )  # fmt: skip
    page = render(drift=DriftReport(REFERENCE, CURRENT, [wide]), trend=None)
    (spec,) = [s for s in plot_specs(page) if s["layout"].get("barmode") == "overlay"]
    assert len(spec["data"][0]["x"]) == 40
    assert "(the top 40 of 60)" in spec["layout"]["title"]["text"]
    reference, current = spec["data"]
    assert reference["x"][:3] == ["v0", "v59", "v1"]  # the largest share in either window
    assert reference["y"][1] == current["y"][0] == 59 / sum(range(60))  # of every row


def test_freshness_skew_and_quarantine_sections(page: str) -> None:
    rows = re.findall(r"<tr class='freshness-row' data-view='([^']*)'>", page)
    assert rows == ["plane_daily", "carrier_daily", "weather_hourly"]  # stale first
    assert "3.0 d" in page and "26.0 h" not in page and "26 h" in page
    specs = plot_specs(page)
    (served,) = traces_named(specs, "served age")
    assert served["x"] == [None, 72.0, 0.5]  # hours; plane_daily serves nothing
    assert served["marker"]["color"][1] == "#d92d20"  # past its objective
    (objective,) = traces_named(specs, "objective")
    assert objective["x"] == [24.0, 26.0, 2.0]
    (skew,) = traces_named(specs, "differing")
    assert skew["y"] == ["flights:dep_hour", "carrier_daily:cancel_rate_7d", "weather_hourly:temp"]
    assert skew["x"] == [87 / 1250, 3 / 1250, 0.0]
    assert "jensenshannon 0.21" in page and "too few" in page
    (flights,) = traces_named(specs, "flights")
    assert flights["y"][-2:] == [0.12, 0.11]
    assert "dep_hour between 0 and 23 (271)" in page


def test_missing_results_show_their_notes() -> None:
    page = render(
        drift=None,
        trend=None,
        skew=None,
        quarantine=None,
        freshness=[],
        notes={"drift": "no reference data", "skew": "no served vectors logged yet"},
    )
    assert "no reference data" in page and "no served vectors logged yet" in page
    assert "id='quarantine'" not in page  # neither results nor a note
    assert "served values differing" in render()
    assert "served values differing" not in render(skew=None)  # no empty column
    assert plot_specs(page) == []
    assert "<span id='drifted-count'>0</span> / 0" in page
    noted = render(quarantine=None, notes={"quarantine": "no statistics for flights"})
    assert "<section id='quarantine' class='panel'><h2>Quarantine</h2>" in noted
    assert "no statistics for flights" in noted
    without_trend = render(trend=None, notes={"trend": "trend needs a previous period"})
    assert "trend needs a previous period" in card(without_trend, "weather_hourly:temp")


def test_every_figure_is_valid_plotly(page: str) -> None:
    specs = plot_specs(page)
    assert len(specs) == 10 + 4 + 3  # histograms, trends, freshness + skew + quarantine
    for spec in specs:
        go.Figure(data=spec["data"], layout=spec["layout"])  # raises on an unknown property
    ids = [s["id"] for s in specs]
    assert len(set(ids)) == len(ids)
    assert all(f"<div class='plot' id='{i}'" in page for i in ids)


# -- the page in a browser -----------------------------------------------------------------


def check_rendered(browser: Any, plots: int) -> None:
    """Wait for the page's ``plots``, then check that each drew and nothing failed."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 60).until(
        lambda b: (
            b.find_element(By.TAG_NAME, "body").get_attribute("data-ready") in ("true", "error")
        )
    )
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true"
    drawn = browser.find_elements(By.CSS_SELECTOR, "div.plot.js-plotly-plot")
    assert len(drawn) == plots
    for div in drawn:
        assert div.find_elements(By.CSS_SELECTOR, "svg.main-svg")
        assert div.size["width"] > 200 and div.size["height"] > 150


def full_screenshot(browser: Any, path: Path) -> None:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1400, "height": height, "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


@pytest.mark.slow
def test_the_page_in_headless_chromium(page: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    with headless_chromium(console_log=True) as browser:
        browser.get(report.as_uri())
        try:
            check_rendered(browser, len(plot_specs(page)))
        finally:
            browser.save_screenshot(str(ARTIFACTS / "monitor-report.png"))
        resources = browser.execute_script(
            "return performance.getEntriesByType('resource').map((r) => r.name)"
        )
        assert resources == []  # everything was in the file
        title = browser.find_element(By.ID, "service").text
        assert title == SERVICE
        shown = [
            c.get_attribute("data-feature")
            for c in browser.find_elements(By.CSS_SELECTOR, "section.feature")
        ]
        assert shown == EXPECTED_ORDER  # the browser reads the escaped names back
        # the threshold line is drawn: a trace per trend plot, in its legend
        legends = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".legendtext")]
        assert legends.count("threshold 0.1") == 2 and "threshold 0.05" in legends
        # the browser shows the evil name as text, no element of it
        assert not browser.find_elements(By.CSS_SELECTOR, "main b, main i, main script")
        assert EVIL in browser.find_element(By.ID, "overview").text
        full_screenshot(browser, ARTIFACTS / "monitor-report-full.png")
    assert (ARTIFACTS / "monitor-report.png").stat().st_size > 20_000
    assert (ARTIFACTS / "monitor-report-full.png").stat().st_size > 100_000


# -- the command ---------------------------------------------------------------------------


def cli(*args: str, cwd: Path, redis_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    if redis_url:
        env["FEATURESTORE_REDIS_URL"] = redis_url
    return subprocess.run(
        [FEATURESTORE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def one_line_error(done: subprocess.CompletedProcess[str], *says: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for text in says:
        assert text in lines[0], lines[0]


def test_the_command_refuses_a_folder_that_does_not_exist_before_any_work(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "report.html"
    done = cli("monitor", "report", "any_model", "--output", str(target), cwd=tmp_path)
    one_line_error(done, f"cannot write the report to {target}: no folder {target.parent}")


@pytest.mark.slow
@pytest.mark.redis
def test_the_command_writes_one_offline_file(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    pytest.importorskip("featurestore.monitor.drift")
    demo: Project = request.getfixturevalue("demo_project")
    target = tmp_path / "report.html"
    args = ("--project", str(demo.root), "monitor", "report", "departure_delay_model")
    done = cli(*args, "-o", str(target), cwd=tmp_path, redis_url=demo.redis_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)"
    page = target.read_text(encoding="utf-8")
    assert page.count(BUNDLE_BANNER) == 1 and "<script src" not in page
    assert "<h1 id='service'>departure_delay_model</h1>" in page
    unknown = cli(*args[:-1], "nope", "-o", str(target), cwd=tmp_path, redis_url=demo.redis_url)
    one_line_error(unknown, "unknown feature service 'nope'", "departure_delay_model")
