"""The reliability suite's two sizes and its figures.

Fault, fuzz, soak and kill tests are marked ``reliability``. ``make test`` runs them at
the small size (bounded, so the suite keeps its time budget); ``make reliability`` runs
only them, at the full size (``--reliability-full``), and writes what they measured
(``--figures FILE``: cases, trials, statuses, recovery times, RSS growth) as JSON, which
``python -m bench.reliability`` turns into ``bench/results/reliability.md``.

A test asks for its size with ``scaled(small, full)`` and records a figure with the
``figures`` fixture: ``figures.record("faults", "lookups, Redis killed", statuses=...)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

_FULL = False


def configure(full: bool) -> None:
    global _FULL
    _FULL = full


def is_full() -> bool:
    return _FULL


def scaled(small: T, full: T) -> T:
    """``small`` under ``make test``, ``full`` under ``make reliability``."""
    return full if _FULL else small


@dataclass
class Figures:
    """What the reliability tests measured, in the order they ran."""

    path: Path | None
    rows: list[dict[str, Any]] = field(default_factory=list)

    def record(self, section: str, case: str, **values: Any) -> None:
        self.rows.append({"section": section, "case": case, **values})
        self.flush()

    def flush(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            document = {"full": _FULL, "rows": self.rows}
            self.path.write_text(json.dumps(document, indent=2, default=str) + "\n")


_figures = Figures(path=None)


def open_figures(path: Path | None) -> None:
    global _figures
    _figures = Figures(path=path)
    _figures.flush()


@pytest.fixture
def figures() -> Iterator[Figures]:
    yield _figures


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile (0.99 for p99) by the nearest-rank method; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(share * len(ordered) + 0.999999) - 1))
    return ordered[rank]
