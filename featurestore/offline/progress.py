"""Progress of a long DuckDB query, polled from the side while it runs.

``run_with_progress`` runs the query in a worker thread and reports DuckDB's own
estimate (``query_progress``, 0 to 100) to a callback; ``ProgressBar`` is a callback
that draws a rich progress bar (terminal or notebook).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

import duckdb
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

ProgressCallback = Callable[[float], None]
T = TypeVar("T")


def run_with_progress(
    con: duckdb.DuckDBPyConnection,
    work: Callable[[], T],
    progress: ProgressCallback | None,
    interval: float = 0.25,
) -> T:
    """``work()`` (a query on ``con``), reporting its progress every ``interval`` seconds."""
    if progress is None:
        return work()
    outcome: dict[str, T] = {}
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=target, name="featurestore-query", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(interval)
            done = con.query_progress()
            if done >= 0:
                progress(min(float(done), 100.0))
    except BaseException:  # KeyboardInterrupt (a notebook's stop button): stop the query too
        con.interrupt()
        worker.join()
        raise
    if failure:
        raise failure[0]
    progress(100.0)
    return outcome["value"]


class ProgressBar:
    """A progress callback drawing one bar; use as a context manager."""

    def __init__(self, description: str) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(), transient=False,
        )  # fmt: skip
        self._task = self._progress.add_task(description, total=100.0)

    def __call__(self, percent: float) -> None:
        self._progress.update(self._task, completed=percent)

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()
