"""The README's "Write your own feature job" example works as written."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from featurestore.definitions import job_fields
from featurestore.project import Project
from ingestion import run_jobs

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_job_runs(project: Project, jobs_dir: Path) -> None:
    section = README.read_text().split("## Write your own feature job", 1)[1]
    sql = re.search(r"```sql\n(.*?)```", section, re.DOTALL)
    assert sql is not None
    text = "\n".join(line.removeprefix("   ") for line in sql.group(1).splitlines())
    (jobs_dir / "origin_hourly.sql").write_text(text)
    start, end = datetime(2013, 1, 1, tzinfo=UTC), datetime(2013, 2, 1, tzinfo=UTC)
    (result,) = run_jobs(project, ["origin_hourly"], start=start, end=end)
    assert result.rows == 3 * 2 * 31  # the sample: 3 airports, 2 departure hours a day
    assert result.rows_quarantined == 0
    fields = job_fields("origin_hourly", ["departures", "delayed_share"], jobs_dir=jobs_dir)
    assert [f.name for f in fields] == ["origin", "departures", "delayed_share"]
