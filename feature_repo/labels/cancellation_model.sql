-- Label query of cancellation_model: every scheduled flight, at its scheduled
-- departure time (UTC), with the label "cancelled" (it never departed).
SELECT
    origin,
    carrier,
    time_hour + to_minutes(minute) AS event_timestamp,
    year, month, day, flight,
    dep_time IS NULL AS cancelled
FROM flights
ORDER BY event_timestamp, carrier, flight
