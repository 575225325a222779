"""One feature service per model; the models share the weather and carrier views."""

from feast import FeatureService
from feature_views import carrier_daily, plane_daily, weather_hourly

departure_delay_model = FeatureService(
    name="departure_delay_model",
    features=[
        weather_hourly,
        carrier_daily[["flights_1d", "avg_dep_delay_7d", "delayed_share_7d"]],
        plane_daily[["flights_30d", "avg_dep_delay_30d", "year_built", "seats", "engines"]],
    ],
    description="Predicts whether a flight departs more than 15 minutes late.",
    owner="delay-team@example.com",
    tags={"label": "dep_delay > 15"},
)

cancellation_model = FeatureService(
    name="cancellation_model",
    features=[
        weather_hourly[["wind_speed", "wind_gust", "precip", "visib"]],
        carrier_daily[["flights_7d", "cancel_rate_7d", "cancel_rate_1d"]],
    ],
    description="Predicts whether a flight is cancelled.",
    owner="ops-team@example.com",
    tags={"label": "dep_time is null"},
)
