"""A progress line per feature view (rows scanned, entities written, rate) and a summary."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn


@dataclass
class ViewStats:
    view: str
    rows_scanned: int = 0
    entities: int = 0
    written: int = 0
    skipped: int = 0
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @property
    def entities_per_second(self) -> float:
        return self.entities / self.seconds if self.seconds > 0 else 0.0

    def finish(self) -> None:
        self.seconds = time.perf_counter() - self.started

    def summary(self) -> str:
        return (
            f"{self.view}: {self.entities:,} entities from {self.rows_scanned:,} rows, "
            f"{self.written:,} written, {self.skipped:,} already as new, "
            f"{self.seconds:.2f} s ({self.entities_per_second:,.0f} entities/s)"
        )


class ProgressReporter:
    """Shows a live line while a view is written; prints its summary when it is done."""

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self._console = Console(file=stream or sys.stderr, highlight=False)
        self._enabled = enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, stats: ViewStats) -> None:
        if not self._enabled:
            return
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[rows]:,} rows  {task.completed:,.0f} entities"),
            TextColumn("{task.fields[rate]:,.0f} entities/s"),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(stats.view, total=None, rows=0, rate=0.0)

    def update(self, stats: ViewStats) -> None:
        if self._progress is None or self._task is None:
            return
        elapsed = time.perf_counter() - stats.started
        rate = stats.entities / elapsed if elapsed > 0 else 0.0
        self._progress.update(
            self._task, completed=stats.entities, rows=stats.rows_scanned, rate=rate
        )

    def finish(self, stats: ViewStats, succeeded: bool = True) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None
        if self._enabled and succeeded:
            self._console.print(stats.summary())
