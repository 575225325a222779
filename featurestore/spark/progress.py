"""Progress of a Spark action, polled from Spark's status tracker while it runs.

``run_with_progress`` runs the action in a worker thread under a job group of its own
and reports the share of finished tasks over the stages of that group's jobs seen so
far (0 to 100, never going back); stopping the caller (a notebook's stop button,
Ctrl-C) cancels the group's jobs. The callback is ``featurestore.offline``'s
``ProgressCallback``, so the same ``ProgressBar`` draws DuckDB's and Spark's progress.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from featurestore.offline.progress import ProgressCallback

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

T = TypeVar("T")


def run_with_progress(
    spark: SparkSession,
    work: Callable[[], T],
    progress: ProgressCallback | None,
    interval: float = 0.25,
) -> T:
    """``work()`` (Spark actions), reporting its progress every ``interval`` seconds."""
    if progress is None:
        return work()
    context = spark.sparkContext
    group = f"featurestore-{uuid.uuid4().hex[:12]}"
    outcome: dict[str, T] = {}
    failure: list[BaseException] = []

    def target() -> None:
        try:
            context.setJobGroup(group, "featurestore training set", interruptOnCancel=True)
            outcome["value"] = work()
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=target, name="featurestore-spark", daemon=True)
    worker.start()
    shown = 0.0
    try:
        while worker.is_alive():
            worker.join(interval)
            shown = max(shown, _percent(spark, group))
            progress(shown)
    except BaseException:  # KeyboardInterrupt: stop the cluster's work too
        context.cancelJobGroup(group)
        worker.join()
        raise
    if failure:
        raise failure[0]
    progress(100.0)
    return outcome["value"]


def _percent(spark: SparkSession, group: str) -> float:
    """Finished tasks over all tasks of the group's stages so far, below 100 until done."""
    tracker = spark.sparkContext.statusTracker()
    done = total = 0
    for job in tracker.getJobIdsForGroup(group):
        info = tracker.getJobInfo(job)
        for stage_id in info.stageIds if info is not None else ():
            stage = tracker.getStageInfo(stage_id)
            if stage is not None:
                done += stage.numCompletedTasks
                total += stage.numTasks
    return min(99.0, 100.0 * done / total) if total else 0.0
