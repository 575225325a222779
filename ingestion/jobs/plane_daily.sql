-- name: plane_daily
-- description: Per-aircraft usage and reliability, with the aircraft's registry attributes.
-- entities: tailnum
-- timestamp: event_timestamp
--
-- One row per aircraft and flight date, known at local midnight after that date.
WITH daily AS (
    SELECT
        tailnum,
        make_date(year, month, day) AS flight_date,
        count(*) AS flights,
        count(*) FILTER (WHERE dep_time IS NULL) AS cancelled,
        sum(dep_delay) AS delay_sum,
        count(dep_delay) AS delay_n
    FROM flights
    WHERE tailnum IS NOT NULL
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
