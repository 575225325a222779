"""Benchmark results: rows of measurements, written as JSON and as a Markdown table."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


@dataclass
class Report:
    """One benchmark's outcome: a table (``columns`` x ``rows``), goals and notes."""

    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    goals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)

    def add(self, **row: Any) -> None:
        self.rows.append(row)

    def markdown(self) -> str:
        def cell(value: Any) -> str:
            if isinstance(value, float):
                return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
            if isinstance(value, int):
                return f"{value:,}"
            return str(value)

        lines = [f"# {self.title}", ""]
        if self.parameters:
            lines += [", ".join(f"{k}={v}" for k, v in self.parameters.items()), ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "---|" * len(self.columns))
        for row in self.rows:
            lines.append("| " + " | ".join(cell(row.get(c, "")) for c in self.columns) + " |")
        for heading, items in (("Goals", self.goals), ("Notes", self.notes)):
            if items:
                lines += ["", f"**{heading}**", ""] + [f"- {item}" for item in items]
        return "\n".join(lines) + "\n"

    def write(self, directory: Path = RESULTS_DIR) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        document = {
            "name": self.name,
            "title": self.title,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
            "parameters": self.parameters,
            "columns": self.columns,
            "rows": self.rows,
            "goals": self.goals,
            "notes": self.notes,
        }
        json_path = directory / f"{self.name}.json"
        md_path = directory / f"{self.name}.md"
        json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
        md_path.write_text(self.markdown())
        return json_path, md_path
