"""``python -m bench.reliability`` (``make reliability``): the fault, fuzz, soak and kill
tests at their full size, and their figures in ``bench/results/reliability.{json,md}``.

The tests are the ones ``make test`` runs at a small size (marked ``reliability``; their
sizes are in ``tests/reliability.py``); here they run alone, bigger, and each records what
it measured. The Markdown has one table per section (fuzz, faults, kill -9, soak), and
says whether every test passed: a figure from a failed run is printed, never hidden.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import RESULTS_DIR

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = {
    "fuzz": "Fuzz: schemathesis over the live OpenAPI spec",
    "faults": "Faults: Redis killed, frozen and flushed under load",
    "kill -9": "Kill -9 at random moments, N trials each",
    "soak": "Soak: fixed-rate mixed load",
}


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def markdown(rows: list[dict[str, Any]], outcome: str, command: str) -> str:
    lines = [
        "# Reliability: faults, fuzz, kill -9 and soak",
        "",
        f"`{command}` on {platform.node() or 'this machine'}, "
        f"{datetime.now(UTC).isoformat(timespec='seconds')}: **{outcome}**.",
        "",
        "Statuses are counts by HTTP status (`timeout`: the client gave up, a hung "
        "request; `skipped`: the load could not send at its rate because too many "
        "requests were in flight). 'during' counts requests in flight or sent while "
        "Redis was down; recovery is from Redis being back to the first request after "
        "which every answer is a 200.",
    ]
    sections = list(SECTIONS) + sorted({r["section"] for r in rows} - set(SECTIONS))
    for section in sections:
        chosen = [r for r in rows if r["section"] == section]
        if not chosen:
            continue
        columns = ["case"]
        for row in chosen:
            columns += [k for k in row if k not in columns and k != "section"]
        lines += ["", f"## {SECTIONS.get(section, section)}", ""]
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        for row in chosen:
            lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__)
    parser.add_argument("--small", action="store_true", help="the make-test sizes (a smoke run)")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, e.g. -k soak")
    args = parser.parse_args(argv)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    figures = RESULTS_DIR / "reliability.json"
    # One token for --figures and the tests named: pytest looks for conftest.py files
    # (which define these options) from its path arguments before it knows the options,
    # and would take a separate value for a path.
    command = [
        sys.executable, "-m", "pytest", "tests", "-m", "reliability", "-p", "no:cacheprovider",
        "-q", f"--figures={figures}",
    ]  # fmt: skip
    if not args.small:
        command.append("--reliability-full")
    command += args.pytest_args
    env = dict(os.environ)
    shown = "make reliability" if not args.small else "python -m bench.reliability --small"
    print(" ".join(command), flush=True)
    code = subprocess.call(command, cwd=ROOT, env=env)
    document = json.loads(figures.read_text()) if figures.exists() else {"rows": []}
    outcome = "every test passed" if code == 0 else f"FAILED (pytest exit code {code})"
    document.update(
        outcome=outcome,
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        machine={"python": sys.version.split()[0], "platform": platform.platform()},
    )
    figures.write_text(json.dumps(document, indent=2, default=str) + "\n")
    report = markdown(document["rows"], outcome, shown)
    (RESULTS_DIR / "reliability.md").write_text(report)
    print(report)
    print(f"written: {figures} {RESULTS_DIR / 'reliability.md'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
