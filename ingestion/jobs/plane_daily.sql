-- name: plane_daily
-- description: Per-aircraft usage and reliability, with the aircraft's registry attributes.
-- entities: tailnum
-- timestamp: event_timestamp
-- grain: day
-- start: 2013-01-01
-- column: tailnum VARCHAR
-- column: event_timestamp TIMESTAMPTZ
-- column: flights_to_date BIGINT not null min 1 | Flights since 2013-01-01
-- column: flights_30d BIGINT not null min 1 | Flights over 30 days
-- column: avg_dep_delay_30d DOUBLE | Mean departure delay, 30 days
-- column: cancel_rate_30d DOUBLE not null min 0 max 1 | Share cancelled, 30 days
-- column: year_built BIGINT min 1900 max 2100 | Year of manufacture
-- column: seats BIGINT min 1 | Seats
-- column: engines INTEGER min 0 | Engines
-- column: manufacturer VARCHAR | Manufacturer
--
-- One row per aircraft and flight date, known at local midnight after that date.
-- flights_to_date counts from the first flight, so every run reads all flights
-- before $end.
WITH daily AS (
    SELECT
        tailnum,
        make_date(year, month, day) AS flight_date,
        count(*) AS flights,
        count(*) FILTER (WHERE dep_time IS NULL) AS cancelled,
        sum(dep_delay) AS delay_sum,
        count(dep_delay) AS delay_n
    FROM flights
    WHERE tailnum IS NOT NULL AND time_hour < $end
    GROUP BY ALL
)
SELECT
    d.tailnum,
    timezone('America/New_York', CAST(d.flight_date + INTERVAL 1 DAY AS TIMESTAMP)) AS event_timestamp,
    CAST(sum(d.flights) OVER (PARTITION BY d.tailnum ORDER BY d.flight_date) AS BIGINT)
        AS flights_to_date,
    CAST(sum(d.flights) OVER w30 AS BIGINT) AS flights_30d,
    sum(d.delay_sum) OVER w30 / nullif(sum(d.delay_n) OVER w30, 0) AS avg_dep_delay_30d,
    sum(d.cancelled) OVER w30 / sum(d.flights) OVER w30 AS cancel_rate_30d,
    CAST(p.year AS BIGINT) AS year_built,
    CAST(p.seats AS BIGINT) AS seats,
    CAST(p.engines AS INTEGER) AS engines,
    p.manufacturer
FROM daily AS d
LEFT JOIN planes AS p USING (tailnum)
WINDOW w30 AS (
    PARTITION BY d.tailnum ORDER BY d.flight_date
    RANGE BETWEEN INTERVAL 29 DAY PRECEDING AND CURRENT ROW
)
ORDER BY d.tailnum, event_timestamp
