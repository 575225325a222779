"""Feature views over the Parquet feature tables the SQL jobs in ingestion/jobs/ write,
and one fed by pushes (ingestion/jobs/departure_status.push declares its columns).

Columns, types and descriptions come from each job's header (the one source of truth);
here a view only says which entities it describes, how long a value stays fresh, and
who owns it.
"""

from datetime import timedelta
from pathlib import Path

from entities import aircraft, airport, carrier

from featurestore.definitions import job_feature_view, push_feature_view

# data/ sits beside this repo; the sources use absolute paths, readable from any directory.
REPO = Path(__file__).resolve().parent

weather_hourly = job_feature_view(
    "weather_hourly",
    repo_path=REPO,
    entities=[airport],
    ttl=timedelta(hours=3),
    online=True,
    description="Hourly weather at the origin airport.",
    owner="data-team@example.com",
    tags={"domain": "weather"},
)

carrier_daily = job_feature_view(
    "carrier_daily",
    repo_path=REPO,
    entities=[carrier],
    ttl=timedelta(days=2),
    online=True,
    description="Rolling daily punctuality and cancellation statistics per airline.",
    owner="data-team@example.com",
    tags={"domain": "operations"},
)

plane_daily = job_feature_view(
    "plane_daily",
    repo_path=REPO,
    entities=[aircraft],
    ttl=timedelta(days=90),
    online=True,
    description="Per-aircraft usage and reliability, with registry attributes.",
    owner="data-team@example.com",
    tags={"domain": "fleet"},
)

departure_status = push_feature_view(
    "departure_status",
    repo_path=REPO,
    entities=[carrier, airport],
    ttl=timedelta(hours=2),
    online=True,
    owner="ops-team@example.com",
    tags={"domain": "operations"},
)
