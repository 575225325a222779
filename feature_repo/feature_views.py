"""Feature views over the Parquet feature tables the SQL jobs in ingestion/jobs/ write."""

from datetime import timedelta
from pathlib import Path

from entities import aircraft, airport, carrier
from feast import FeatureView, Field, FileSource
from feast.types import Float64, Int32, Int64, String

# data/ sits beside this repo; absolute paths keep the sources readable from any directory.
FEATURE_TABLES = Path(__file__).resolve().parent.parent / "data" / "features"


def _table(name: str) -> FileSource:
    return FileSource(
        name=f"{name}_source",
        path=str(FEATURE_TABLES / f"{name}.parquet"),
        timestamp_field="event_timestamp",
        description=f"Feature table written by ingestion/jobs/{name}.sql",
    )


weather_hourly = FeatureView(
    name="weather_hourly",
    entities=[airport],
    ttl=timedelta(hours=3),
    schema=[
        Field(name="temp", dtype=Float64, description="Temperature, F"),
        Field(name="dewp", dtype=Float64, description="Dew point, F"),
        Field(name="humid", dtype=Float64, description="Relative humidity, %"),
        Field(name="wind_dir", dtype=Int64, description="Wind direction, degrees"),
        Field(name="wind_speed", dtype=Float64, description="Wind speed, mph"),
        Field(name="wind_gust", dtype=Float64, description="Wind gust speed, mph"),
        Field(name="precip", dtype=Float64, description="Precipitation, inches"),
        Field(name="pressure", dtype=Float64, description="Sea level pressure, millibars"),
        Field(name="visib", dtype=Float64, description="Visibility, miles"),
    ],
    source=_table("weather_hourly"),
    online=True,
    description="Hourly weather at the origin airport.",
    owner="data-team@example.com",
    tags={"domain": "weather", "job": "weather_hourly"},
)

carrier_daily = FeatureView(
    name="carrier_daily",
    entities=[carrier],
    ttl=timedelta(days=2),
    schema=[
        Field(name="flights_1d", dtype=Int64, description="Flights scheduled on the day"),
        Field(name="flights_7d", dtype=Int64, description="Flights scheduled over 7 days"),
        Field(name="avg_dep_delay_7d", dtype=Float64, description="Mean departure delay, 7 days"),
        Field(
            name="delayed_share_7d",
            dtype=Float64,
            description="Share of departures more than 15 minutes late, 7 days",
        ),
        Field(name="cancel_rate_7d", dtype=Float64, description="Share cancelled, 7 days"),
        Field(name="cancel_rate_1d", dtype=Float64, description="Share cancelled on the day"),
    ],
    source=_table("carrier_daily"),
    online=True,
    description="Rolling daily punctuality and cancellation statistics per airline.",
    owner="data-team@example.com",
    tags={"domain": "operations", "job": "carrier_daily"},
)

plane_daily = FeatureView(
    name="plane_daily",
    entities=[aircraft],
    ttl=timedelta(days=90),
    schema=[
        Field(name="flights_to_date", dtype=Int64, description="Flights since 2013-01-01"),
        Field(name="flights_30d", dtype=Int64, description="Flights over 30 days"),
        Field(name="avg_dep_delay_30d", dtype=Float64, description="Mean departure delay, 30 days"),
        Field(name="cancel_rate_30d", dtype=Float64, description="Share cancelled, 30 days"),
        Field(name="year_built", dtype=Int64, description="Year of manufacture"),
        Field(name="seats", dtype=Int64, description="Seats"),
        Field(name="engines", dtype=Int32, description="Engines"),
        Field(name="manufacturer", dtype=String, description="Manufacturer"),
    ],
    source=_table("plane_daily"),
    online=True,
    description="Per-aircraft usage and reliability, with registry attributes.",
    owner="data-team@example.com",
    tags={"domain": "fleet", "job": "plane_daily"},
)
