"""The project's Feast definitions: one entity, a job's view, a pushed view, one service.

Columns, types and descriptions of the views come from the headers (jobs/driver_daily.sql,
jobs/driver_live.push); here a view only says which entity it describes, how long a
value stays fresh and who owns it.
"""

from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureService, ValueType

from featurestore.definitions import job_feature_view, push_feature_view

REPO = Path(__file__).resolve().parent

driver = Entity(
    name="driver",
    join_keys=["driver_id"],
    value_type=ValueType.INT64,
    description="A driver, by id.",
)

driver_daily = job_feature_view(
    "driver_daily",
    repo_path=REPO,
    entities=[driver],
    ttl=timedelta(days=2),
    online=True,
    owner="data-team@example.com",
)

driver_live = push_feature_view(
    "driver_live",
    repo_path=REPO,
    entities=[driver],
    ttl=timedelta(hours=1),
    online=True,
    owner="data-team@example.com",
)

driver_model = FeatureService(
    name="driver_model",
    features=[driver_daily[["trips_1d", "fare_avg_1d", "rating_avg_1d"]]],
    description="Predicts whether a driver's next trip is rated 5.",
    owner="data-team@example.com",
)
