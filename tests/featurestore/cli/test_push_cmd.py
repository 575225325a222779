"""``featurestore push``: files and stdin through a push source, the log's compaction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import redis

from featurestore.project import Project
from tests.push_project import TABLE, applied_push_project, db, push_project, rows

__all__ = ["applied_push_project", "db", "push_project"]
FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))


def _cli(
    project: Project, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    env |= {"FEATURESTORE_REDIS_URL": project.redis_url, "COLUMNS": "200"}
    return subprocess.run(
        [FEATURESTORE, "--project", str(project.root), *args],
        env=env, input=stdin, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_a_bad_file_is_refused_in_one_line_and_nothing_written(
    push_project: Project, db: redis.Redis, tmp_path: Path
) -> None:
    path = tmp_path / "rows.csv"
    pacsv.write_csv(pa.table(rows(3, hour=[5, 77, 5])), path)
    done = _cli(push_project, "push", "departure_status_push", str(path))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: 1 of 3 rows break a rule, nothing written: row 1: hour = 77 breaks 'hour <= 23'"
    ]
    assert db.dbsize() == 0


def test_quarantine_then_compact_puts_the_good_rows_in_the_table(
    push_project: Project, db: redis.Redis, tmp_path: Path
) -> None:
    path = tmp_path / "rows.parquet"
    table = pa.table(rows(3, hour=[5, 77, 5]))
    pq.write_table(table.set_column(3, "hour", table.column("hour").cast(pa.int32())), path)
    done = _cli(push_project, "push", "departure_status_push", str(path),
                "--on-bad-rows", "quarantine", "--compact")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "3 rows, 2 accepted, 1 quarantined; online 2 written" in done.stdout
    assert "departure_status: 1 log segment(s), 2 rows -> 2 new in 1 partition(s)" in done.stdout
    assert pq.read_table(push_project.layout.table(TABLE)).num_rows == 2
    assert db.dbsize() == 2


def test_stdin_takes_feasts_push_body_or_columns(push_project: Project, db: redis.Redis) -> None:
    body = json.dumps({"push_source_name": "x", "df": rows(2)})
    done = _cli(push_project, "push", "departure_status_push", "-", "--to", "online", stdin=body)
    assert done.returncode == 0, done.stderr
    assert "2 rows, 2 accepted" in done.stdout and db.dbsize() == 2


def test_unknown_source_and_compact_without_a_log(push_project: Project) -> None:
    done = _cli(push_project, "push", "nope_push", "-", stdin="{}")
    assert done.returncode == 1
    assert done.stderr.strip() == "error: unknown push source 'nope_push'"
    done = _cli(push_project, "push", "compact")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "departure_status: nothing to compact"
