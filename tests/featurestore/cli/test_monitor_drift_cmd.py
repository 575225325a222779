"""``featurestore monitor drift`` and ``trend`` as a scheduler runs them: exit codes, the
saved JSON report, the retraining command and webhook, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from featurestore.project import Project

FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))
SERVICE = "driver_monitor_model"
REFERENCE = "2026-01-06..2026-02-03"


def _run(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FEATURESTORE_PROJECT": str(project.root),
           "FEATURESTORE_REDIS_URL": project.redis_url}  # fmt: skip
    return subprocess.run(
        [FEATURESTORE, "monitor", *args], env=env, capture_output=True, text=True, check=False
    )


def test_drift_exits_2_saves_the_report_and_runs_the_command(
    drifting_project: Project, tmp_path: Path
) -> None:
    received = tmp_path / "received.json"
    output = tmp_path / "report.json"
    result = _run(
        drifting_project, "drift", "-s", SERVICE, "--reference", REFERENCE, "--output",
        str(output), "--command", f'cat > {received}; echo "$FEATURESTORE_DRIFT_REPORT" > '
        f'{tmp_path / "path.txt"}',
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "3 of 5 features drifted; report saved to" in result.stdout
    assert "driver_daily:distance_km_1d: every current value is a whole number" in result.stdout
    document = json.loads(received.read_text())
    assert document == json.loads(output.read_text())
    saved = Path((tmp_path / "path.txt").read_text().strip())
    assert saved.parent == drifting_project.layout.monitor_reports
    assert json.loads(saved.read_text()) == document
    drifted = {f["feature"] for f in document["features"] if f["drifted"]}
    assert drifted == {"fare_avg_1d", "distance_km_1d", "fare_band"}
    assert document["current"]["label"] == "last 7d to 2026-03-30"


def test_no_drift_exits_0_and_calls_nothing(drifting_project: Project, tmp_path: Path) -> None:
    marker = tmp_path / "called"
    result = _run(
        drifting_project, "drift", "-s", SERVICE, "--reference", REFERENCE, "--current",
        "2026-02-03..2026-02-10", "-f", "rating_avg_1d", "-f", "trips_1d", "--command",
        f"touch {marker}", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [f["feature"] for f in document["features"]] == ["rating_avg_1d", "trips_1d"]
    assert not marker.exists()


class _Hook(BaseHTTPRequestHandler):
    bodies: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Hook.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def test_drift_posts_the_report_to_a_webhook(drifting_project: Project, webhook: str) -> None:
    _Hook.bodies.clear()
    result = _run(drifting_project, "drift", "-s", SERVICE, "--reference", REFERENCE,
                  "-f", "fare_avg_1d", "--webhook", webhook)  # fmt: skip
    assert result.returncode == 2, result.stderr
    (body,) = _Hook.bodies
    assert body["feature_service"] == SERVICE
    assert body["features"][0]["drifted"] is True


def test_a_failing_alert_is_one_line(drifting_project: Project) -> None:
    result = _run(drifting_project, "drift", "-s", SERVICE, "--reference", REFERENCE,
                  "-f", "fare_avg_1d", "--webhook", "http://127.0.0.1:9/hook")  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("error: webhook http://127.0.0.1:9/hook could not be reached")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("drift", "-s", "nope"), "error: unknown feature service 'nope'; known feature services:"),
        (("drift", "-s", SERVICE, "--current", "soon"), "error: current: cannot read 'soon'"),
        (("drift", "-s", SERVICE, "-f", "tips"), "error: unknown feature(s) 'tips'; known:"),
        (("drift", "-s", SERVICE, "--reference", "2020-01-01..2020-02-01"),
         "error: the reference window 2020-01-01..2020-02-01 holds no rows: driver_daily holds"),
        (("trend", "-s", SERVICE, "--reference", REFERENCE, "--period", "month"),
         "error: --period must be day or week, got 'month'"),
        (("trend", "-s", SERVICE, "--reference", "previous"),
         "error: --reference 'previous': a trend scores every period against a fixed window"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(
    drifting_project: Project, args: tuple[str, ...], message: str
) -> None:
    result = _run(drifting_project, *args)
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_trend_shows_the_day_the_decay_crossed(drifting_project: Project) -> None:
    result = _run(drifting_project, "trend", "-s", SERVICE, "--reference", REFERENCE, "--json")
    assert result.returncode == 2, result.stderr  # the last day is past the threshold
    features = {f["feature"]: f for f in json.loads(result.stdout)["features"]}
    first = next(p for p in features["fare_avg_1d"]["points"] if p["drifted"])
    assert first["start"] == "2026-02-19T00:00:00+00:00"
    table = _run(drifting_project, "trend", "-s", SERVICE, "--reference", REFERENCE)
    assert "2026-02-19" in table.stdout
