-- Label query of departure_delay_model: one row per flight that departed,
-- at its scheduled departure time (UTC), with the label "left more than 15 minutes late".
SELECT
    origin,
    carrier,
    tailnum,
    time_hour + to_minutes(minute) AS event_timestamp,
    year, month, day, flight,
    dep_delay > 15 AS dep_delayed_15
FROM flights
WHERE dep_delay IS NOT NULL AND tailnum IS NOT NULL
ORDER BY event_timestamp, carrier, flight
