-- name: weather_hourly
-- description: Hourly weather observed at each New York origin airport.
-- entities: origin
-- timestamp: event_timestamp
-- grain: day
-- start: 2013-01-01
-- column: origin VARCHAR in ('EWR', 'JFK', 'LGA')
-- column: event_timestamp TIMESTAMPTZ
-- column: temp DOUBLE min -60 max 140 | Temperature, F
-- column: dewp DOUBLE min -80 max 100 | Dew point, F
-- column: humid DOUBLE min 0 max 100 | Relative humidity, %
-- column: wind_dir BIGINT min 0 max 360 | Wind direction, degrees
-- column: wind_speed DOUBLE min 0 | Wind speed, mph
-- column: wind_gust DOUBLE min 0 | Wind gust speed, mph
-- column: precip DOUBLE min 0 | Precipitation, inches
-- column: pressure DOUBLE min 800 max 1100 | Sea level pressure, millibars
-- column: visib DOUBLE min 0 | Visibility, miles
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
WHERE time_hour >= $start AND time_hour < $end
QUALIFY row_number() OVER (PARTITION BY origin, time_hour ORDER BY month, day, hour) = 1
ORDER BY origin, event_timestamp
