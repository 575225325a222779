-- Label query of driver_model: one row per trip, at the moment it started (the
-- prediction time), with the label "rated 5". It must return the entity's join key
-- (driver_id) and event_timestamp; every other column passes through to the training set.
SELECT
    driver_id,
    started_at AS event_timestamp,
    trip_id,
    rating = 5 AS rated_5
FROM trips
WHERE rating IS NOT NULL
ORDER BY event_timestamp, trip_id
