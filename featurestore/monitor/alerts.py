"""Telling someone that features drifted: a command or a webhook, called with the report.

The drift command calls them only when a feature crossed its threshold, so either can
start a retraining pipeline (the continuous-training trigger):

    featurestore monitor drift --feature-service MODEL --command 'make retrain'
    featurestore monitor drift --feature-service MODEL --webhook http://127.0.0.1:8080/hook

The command runs through the shell with the report's JSON on its standard input and the
path of the saved report in ``FEATURESTORE_DRIFT_REPORT``; the webhook gets the JSON as
the body of a POST. A command that fails or outlasts its timeout, or a webhook that does
not answer 2xx, is an ``AlertError`` naming it.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from featurestore.errors import MonitorError

COMMAND_TIMEOUT_S = 300.0
WEBHOOK_TIMEOUT_S = 10.0


class AlertError(MonitorError):
    code = "alert_failed"


def run_command(command: str, report: dict[str, Any], saved: Path | None) -> None:
    env = {**os.environ, "FEATURESTORE_DRIFT_REPORT": str(saved or "")}
    try:
        done = subprocess.run(
            command, shell=True, input=json.dumps(report), text=True, env=env,
            capture_output=True, timeout=COMMAND_TIMEOUT_S, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise AlertError(
            f"the drift command {command!r} ran past {COMMAND_TIMEOUT_S:.0f}s"
        ) from None
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).split())[-300:]
        raise AlertError(f"the drift command {command!r} exited {done.returncode}: {tail}")


def post_webhook(url: str, report: dict[str, Any]) -> None:
    if not url.startswith(("http://", "https://")):
        raise AlertError(f"webhook {url!r} must be an http:// or https:// URL")
    request = urllib.request.Request(
        url, data=json.dumps(report).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "featurestore-monitor"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        raise AlertError(f"webhook {url} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AlertError(f"webhook {url} could not be reached: {reason}") from None
    if not 200 <= status < 300:
        raise AlertError(f"webhook {url} answered {status}")
