"""The push log and its compaction: nothing acknowledged lost, nothing twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from featurestore.project import Project
from featurestore.push import compact as compact_module
from featurestore.push.compact import MANIFEST, compact
from featurestore.push.service import PushService
from featurestore.push.spec import find_push
from featurestore.push.wal import OPEN, SEALED, read_segment
from ingestion import storage
from tests.push_project import SOURCE, TABLE, rows


def _spec(project: Project):  # type: ignore[no-untyped-def]
    return find_push(TABLE, project.jobs_dir)


def _table_rows(project: Project) -> list[tuple[str, str]]:
    table = pq.read_table(project.layout.table(TABLE))
    return sorted(zip(table.column("carrier").to_pylist(),
                      [t.isoformat() for t in table.column("event_timestamp").to_pylist()],
                      strict=True))  # fmt: skip


def test_a_retried_push_and_a_second_compaction_keep_each_row_once(
    push_project: Project,
) -> None:
    service = PushService.for_project(push_project)
    service.push(SOURCE, rows(10), to="offline")
    service.push(SOURCE, rows(10), to="offline")  # a client's retry: the same rows
    service.push(SOURCE, rows(5, start_hour=6), to="online_and_offline")
    service.close()
    first = compact(push_project, _spec(push_project))
    assert (first.segments, first.rows, first.written) == (1, 25, 15)
    assert len(_table_rows(push_project)) == 15
    again = compact(push_project, _spec(push_project))
    assert again.segments == 0
    assert len(_table_rows(push_project)) == 15


def test_rows_of_other_days_keep_their_partitions_linked(push_project: Project) -> None:
    service = PushService.for_project(push_project)
    service.push(SOURCE, rows(3, event_timestamp=["2013-01-01T05:00:00Z"] * 3), to="offline")
    service.close()
    compact(push_project, _spec(push_project))
    service = PushService.for_project(push_project)
    service.push(SOURCE, rows(2, event_timestamp=["2013-01-02T05:00:00Z"] * 2), to="offline")
    service.close()
    result = compact(push_project, _spec(push_project))
    assert result.partitions == 1
    version = storage.current_version(push_project.layout.root, TABLE)
    assert version is not None
    days = sorted(p.name for p in version.iterdir() if p.is_dir())
    assert days == ["partition_date=20130101", "partition_date=20130102"]
    assert len(_table_rows(push_project)) == 5


def test_killed_after_the_commit_before_deleting_the_log_folds_nothing_twice(
    push_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = PushService.for_project(push_project)
    service.push(SOURCE, rows(4), to="offline")
    service.close()

    def killed(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed after the commit")

    monkeypatch.setattr(compact_module, "_record_stats", killed)
    with pytest.raises(SystemExit):  # the commit happened, the segments were not deleted
        original_unlink = Path.unlink
        monkeypatch.setattr(Path, "unlink", lambda self, missing_ok=False: killed())
        try:
            compact(push_project, _spec(push_project))
        finally:
            monkeypatch.setattr(Path, "unlink", original_unlink)
    assert list(push_project.layout.push_log(TABLE).glob(f"*{SEALED}"))
    version = storage.current_version(push_project.layout.root, TABLE)
    assert version is not None and (version / MANIFEST).is_file()
    monkeypatch.undo()
    again = compact(push_project, _spec(push_project))
    assert again.segments == 0  # recognized as folded, and deleted
    assert not list(push_project.layout.push_log(TABLE).glob(f"*{SEALED}"))
    assert len(_table_rows(push_project)) == 4


def test_a_torn_record_at_the_end_is_ignored(push_project: Project) -> None:
    service = PushService.for_project(push_project)
    service.push(SOURCE, rows(3), to="offline")
    service.close()
    [segment] = push_project.layout.push_log(TABLE).glob(f"*{SEALED}")
    with segment.open("ab") as log:
        log.write(b"FSW1\x40\x00\x00\x00")  # a record header, its payload never written
    assert read_segment(segment).torn
    assert compact(push_project, _spec(push_project)).written == 3


_WRITER = """
import os, sys
from pathlib import Path
import pyarrow as pa
from featurestore.push.wal import PushLog
log = PushLog(Path(sys.argv[1]))
log.append(pa.table({"x": [1]}))
print("acknowledged", flush=True)
os._exit(0)  # killed: never sealed
"""


def test_a_dead_writers_open_segment_is_sealed_for_it(tmp_path: Path) -> None:
    from featurestore.push.wal import sealed_segments

    folder = tmp_path / "log"
    done = subprocess.run([sys.executable, "-c", _WRITER, str(folder)], capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert "acknowledged" in done.stdout
    assert len(list(folder.glob(f"*{OPEN}"))) == 1
    [sealed] = sealed_segments(folder)
    assert read_segment(sealed).tables[0].column("x").to_pylist() == [1]


def test_a_live_writers_open_segment_is_left_alone(tmp_path: Path) -> None:
    import pyarrow as pa

    from featurestore.push.wal import PushLog, sealed_segments

    log = PushLog(tmp_path / "log")
    log.append(pa.table({"x": [1]}))
    assert sealed_segments(tmp_path / "log") == []
    log.seal()
    assert len(sealed_segments(tmp_path / "log")) == 1


def test_a_table_another_run_holds_is_left_for_the_next_round(push_project: Project) -> None:
    service = PushService.for_project(push_project)
    service.push(SOURCE, rows(2), to="offline")
    service.close()
    with storage.table_lock(push_project.layout.root, TABLE):
        held = compact(push_project, _spec(push_project))
    assert held.skipped == f"{TABLE}: another run of this job is in progress"
    assert compact(push_project, _spec(push_project)).written == 2
