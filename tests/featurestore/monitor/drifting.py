"""A small project whose features drift on purpose, on known days.

The minimal example (drivers and their trips), with generated trips: ``DRIVERS`` drivers
take one trip a day from ``FIRST_DAY`` for ``DAYS`` days, so each day's feature row is
that trip's figures:

- ``fare_avg_1d`` is stable for ``SHIFT_FROM`` days, then its mean rises by
  ``SHIFT_PER_DAY`` standard deviations a day (a gradual shift: decay);
- ``distance_km_1d`` turns into whole numbers from day ``WHOLE_FROM`` (an upstream
  change from float to int);
- ``fare_band`` (a string) is "high" or "low" by the fare; ``rating_avg_1d`` never moves.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from featurestore.project import Project
from featurestore.scaffold import init_project
from tests.conftest import feast_cli

DRIVERS = 2000
DAYS = 84
FIRST_DAY = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
SHIFT_FROM = 42
SHIFT_PER_DAY = 0.04
WHOLE_FROM = 70
FARE_MEAN, FARE_STD = 20.0, 5.0

_JOB = """-- name: driver_daily
-- description: Trips, fares and ratings per driver and day.
-- entities: driver_id
-- timestamp: event_timestamp
-- grain: day
-- start: 2026-01-05
-- column: driver_id BIGINT
-- column: event_timestamp TIMESTAMPTZ
-- column: trips_1d BIGINT not null min 1
-- column: distance_km_1d DOUBLE not null min 0
-- column: fare_avg_1d DOUBLE min 0
-- column: rating_avg_1d DOUBLE min 1 max 5
-- column: fare_band VARCHAR
SELECT
    driver_id,
    date_trunc('day', started_at) + INTERVAL 1 DAY AS event_timestamp,
    count(*) AS trips_1d,
    sum(distance_km) AS distance_km_1d,
    avg(fare) AS fare_avg_1d,
    avg(rating) AS rating_avg_1d,
    CASE WHEN avg(fare) > 25 THEN 'high' ELSE 'low' END AS fare_band
FROM trips
WHERE started_at >= $start - INTERVAL 1 DAY AND started_at < $end
GROUP BY ALL
"""

_SERVICE = """

driver_monitor_model = FeatureService(
    name="driver_monitor_model",
    features=[
        driver_daily[["fare_avg_1d", "distance_km_1d", "rating_avg_1d", "fare_band", "trips_1d"]]
    ],
)
"""


def trips(seed: int = 7) -> list[dict[str, object]]:
    """The generated trips, one per driver and day."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    trip_id = 0
    for day in range(DAYS):
        started = FIRST_DAY + timedelta(days=day, hours=9)
        shift = max(0, day - SHIFT_FROM + 1) * SHIFT_PER_DAY * FARE_STD
        fares = FARE_MEAN + shift + FARE_STD * rng.standard_normal(DRIVERS)
        distances = np.abs(8 + 3 * rng.standard_normal(DRIVERS)) + 0.05
        if day >= WHOLE_FROM:
            distances = np.round(distances) + 1
        ratings = rng.integers(1, 6, DRIVERS)
        for driver in range(DRIVERS):
            trip_id += 1
            rows.append(
                {
                    "trip_id": trip_id,
                    "driver_id": driver + 1,
                    "started_at": started.isoformat(),
                    "distance_km": float(distances[driver]),
                    "fare": round(float(max(fares[driver], 0.5)), 6),
                    "rating": int(ratings[driver]),
                }
            )
    return rows


def feature_day(day: int) -> datetime:
    """The event time of the features of trip day ``day`` (the next midnight)."""
    return FIRST_DAY + timedelta(days=day + 1)


def make_project(target: Path, redis_url: str) -> Project:
    """Write, ingest and apply the project; returns it (nothing materialized)."""
    from ingestion import run_jobs

    root = init_project(target, "minimal", name="drifting")
    with (root / "raw" / "trips.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["trip_id", "driver_id", "started_at", "distance_km",
                                         "fare", "rating"])  # fmt: skip
        writer.writeheader()
        writer.writerows(trips())
    (root / "jobs" / "driver_daily.sql").write_text(_JOB)
    definitions = root / "feature_repo" / "drivers.py"
    definitions.write_text(definitions.read_text() + _SERVICE)
    project = Project.load(root, environ={"FEATURESTORE_REDIS_URL": redis_url})
    end = feature_day(DAYS)
    run_jobs(project, start=FIRST_DAY, end=end)
    applied = feast_cli(project.repo_path, redis_url, "apply")
    assert applied.returncode == 0, applied.stderr
    return project
