-- name: driver_daily
-- description: Trips, fares and ratings per driver and day.
-- entities: driver_id
-- timestamp: event_timestamp
-- grain: day
-- start: 2026-01-01
-- column: driver_id BIGINT
-- column: event_timestamp TIMESTAMPTZ
-- column: trips_1d BIGINT not null min 1 | Trips started on the day
-- column: distance_km_1d DOUBLE not null min 0 | Kilometres driven on the day
-- column: fare_avg_1d DOUBLE min 0 | Mean fare of the day's trips, EUR
-- column: rating_avg_1d DOUBLE min 1 max 5 | Mean rating of the day's rated trips
--
-- A day's figures are known when the day is over: the event timestamp is the next
-- midnight (UTC), so a prediction never sees figures that include its own day.
-- $start and $end are the run's window as TIMESTAMPTZ values; the runner keeps only
-- rows whose event_timestamp is in [$start, $end), so read one day further back.
SELECT
    driver_id,
    date_trunc('day', started_at) + INTERVAL 1 DAY AS event_timestamp,
    count(*) AS trips_1d,
    sum(distance_km) AS distance_km_1d,
    avg(fare) AS fare_avg_1d,
    avg(rating) AS rating_avg_1d
FROM trips
WHERE started_at >= $start - INTERVAL 1 DAY AND started_at < $end
GROUP BY ALL
