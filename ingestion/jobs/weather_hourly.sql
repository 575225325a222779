-- name: weather_hourly
-- description: Hourly weather observed at each New York origin airport.
-- entities: origin
-- timestamp: event_timestamp
--
-- One row per airport and hour; should the raw data ever repeat an hour
-- (a daylight-saving change), the first observation wins.
SELECT
    origin,
    time_hour AS event_timestamp,
    temp,
    dewp,
    humid,
    CAST(wind_dir AS BIGINT) AS wind_dir,
    wind_speed,
    wind_gust,
    precip,
    pressure,
    visib
FROM weather
QUALIFY row_number() OVER (PARTITION BY origin, time_hour ORDER BY month, day, hour) = 1
ORDER BY origin, event_timestamp
